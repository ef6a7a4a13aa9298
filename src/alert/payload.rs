//! The alert document: one JSON object per alert, stored in the outbox and sent as is by the
//! webhook sink. docs/alerts.md describes it field by field; the mail text is built from it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{Finding, Indicator, IndicatorKind, Severity, defang};
use crate::store::{AlertEvent, AlertInput};

/// Version of the document's layout; raised when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// The alert document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPayload {
    pub schema_version: u32,
    /// `<fingerprint>-r<revision>`: the same for every sink and every retry of one alert.
    pub idempotency_key: String,
    pub event: AlertEvent,
    /// 1 for a new finding, incremented on each change that alerts.
    pub revision: u32,
    pub finding_id: i64,
    pub fingerprint: String,
    pub kind: String,
    pub source: String,
    pub watchlist: String,
    /// The suspicious item as seen (a lookalike domain in ASCII form).
    pub subject: String,
    pub subject_defanged: String,
    /// The legitimate domain or brand it imitates.
    pub imitates: String,
    /// How the subject was made from what it imitates (fuzzer names).
    pub techniques: Vec<String>,
    pub reasons: Vec<String>,
    pub severity: Severity,
    /// 0 to 100.
    pub score: u8,
    /// Records by type (`a`, `aaaa`, `mx`, `ns`, ...), raw values.
    pub facts: BTreeMap<String, BTreeSet<String>>,
    /// Facts that changed since the previous alert; empty for a new finding.
    pub changes: Vec<PayloadChange>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
    pub indicators: Vec<PayloadIndicator>,
    pub next_steps: Vec<String>,
}

/// One fact's change, with the values added and removed spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadChange {
    pub fact: String,
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
    pub added: BTreeSet<String>,
    pub removed: BTreeSet<String>,
}

/// An indicator, raw for automation and defanged for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadIndicator {
    pub kind: IndicatorKind,
    pub value: String,
    pub defanged: String,
}

/// Renders the alert document stored in the outbox and sent by every sink.
pub fn render(input: &AlertInput<'_>) -> serde_json::Value {
    let payload = build(input);
    // A struct of strings, numbers and string maps always serializes.
    serde_json::to_value(&payload).unwrap_or(serde_json::Value::Null)
}

/// Builds the typed alert document.
pub fn build(input: &AlertInput<'_>) -> AlertPayload {
    let finding = input.finding;
    AlertPayload {
        schema_version: SCHEMA_VERSION,
        idempotency_key: input.idempotency_key.to_owned(),
        event: input.event,
        revision: input.revision,
        finding_id: input.finding_id,
        fingerprint: finding.fingerprint.clone(),
        kind: finding.kind.clone(),
        source: finding.source.clone(),
        watchlist: finding.watchlist.clone(),
        subject: finding.subject.clone(),
        subject_defanged: defang(&finding.subject),
        imitates: finding.imitates.clone(),
        techniques: finding.techniques.clone(),
        reasons: finding.reasons.clone(),
        severity: finding.severity,
        score: finding.score,
        facts: finding.facts.clone(),
        changes: input
            .changes
            .iter()
            .map(|change| PayloadChange {
                fact: change.fact.clone(),
                before: change.before.clone(),
                after: change.after.clone(),
                added: change.added(),
                removed: change.removed(),
            })
            .collect(),
        first_seen: input.first_seen,
        observed_at: finding.observed_at,
        indicators: finding.indicators.iter().map(payload_indicator).collect(),
        next_steps: next_steps(finding),
    }
}

fn payload_indicator(indicator: &Indicator) -> PayloadIndicator {
    PayloadIndicator {
        kind: indicator.kind,
        value: indicator.value.clone(),
        defanged: defang(&indicator.value),
    }
}

/// Lists the response steps for the analyst, in the order they are usually taken.
fn next_steps(finding: &Finding) -> Vec<String> {
    let subject = defang(&finding.subject);
    let has = |fact: &str| finding.facts.get(fact).is_some_and(|v| !v.is_empty());
    let mut steps = vec![format!(
        "Block {subject} at the DNS resolvers, the web proxy and the mail gateway."
    )];
    if has("mx") {
        steps.push(format!(
            "{subject} accepts mail (MX records): search the mail logs for messages from and to it."
        ));
    }
    if has("a") || has("aaaa") {
        steps.push(format!(
            "Check the content of {subject} safely: an isolated browser or a sandbox, never with real credentials."
        ));
    }
    steps.push(format!(
        "Prepare a takedown request to the registrar and the host of {subject}; keep this alert as evidence."
    ));
    steps
}
