//! Alerts: the payload rendered from a finding, the dispatcher that empties the outbox, and
//! the sinks (SMTP, webhook).

use crate::store::AlertInput;

/// Renders the alert document stored in the outbox and sent by every sink.
pub fn render(_input: &AlertInput<'_>) -> serde_json::Value {
    todo!()
}
