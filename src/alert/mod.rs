//! Alerts: the payload rendered from a finding, the dispatcher that empties the outbox, and
//! the sinks (SMTP, webhook in the generic, Slack, Mattermost or Teams layout).
//!
//! The store writes one outbox row per sink inside the transaction that records a finding.
//! The [`Dispatcher`] sends each row to its sink and marks it delivered only after the sink
//! accepted it, so delivery is at least once. Receivers drop duplicates by the idempotency
//! key (`<fingerprint>-r<revision>`), which every sink carries.

pub mod chat;
mod dispatcher;
pub mod mail;
mod payload;
pub mod policy;
pub mod smtp;
pub mod webhook;

pub use dispatcher::Dispatcher;
pub use payload::{AlertPayload, PayloadChange, PayloadIndicator, SCHEMA_VERSION, build, render};

use crate::config::SinkConfig;
use crate::store::OutboxAlert;

/// Errors of the alert sinks and the dispatcher.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {sink}: {reason}")]
    Config { sink: String, reason: String },
    #[error("sink {sink}: alert {key} cannot be sent: {reason}")]
    Payload {
        sink: String,
        key: String,
        reason: String,
    },
    #[error(
        "sink {sink}: SMTP delivery to {relay} failed: {source}; check that the relay is up and accepts mail from this host"
    )]
    Smtp {
        sink: String,
        relay: String,
        transient: bool,
        source: lettre::transport::smtp::Error,
    },
    #[error("sink {sink}: POST to {url} failed: {reason}")]
    Http {
        sink: String,
        url: String,
        reason: String,
    },
    #[error("sink {sink}: {url} answered HTTP status {status}")]
    Status {
        sink: String,
        url: String,
        status: u16,
        transient: bool,
    },
    #[error("store call interrupted: {0}; the runtime is shutting down")]
    Interrupted(String),
    #[error("store error while dispatching alerts: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl SinkError {
    /// Returns whether a retry may succeed without anyone changing anything (a server down,
    /// busy, or replying 4xx in SMTP terms). The dispatcher retries every failure, but logs the
    /// others as needing an operator.
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Config { .. } | SinkError::Payload { .. } => false,
            SinkError::Smtp { transient, .. } | SinkError::Status { transient, .. } => *transient,
            SinkError::Http { .. } | SinkError::Interrupted(_) => true,
            SinkError::Store(error) => error.is_transient(),
        }
    }
}

/// A configured alert destination.
pub enum Sink {
    Smtp(smtp::SmtpSink),
    Webhook(webhook::WebhookSink),
}

impl Sink {
    /// Builds the sink named `name`. Fails on an invalid address or URL; makes no connection.
    pub fn from_config(name: &str, config: &SinkConfig) -> Result<Sink, SinkError> {
        crate::init_tls();
        match config {
            SinkConfig::Smtp(smtp) => Ok(Sink::Smtp(smtp::SmtpSink::new(name, smtp)?)),
            SinkConfig::Webhook(webhook) => {
                Ok(Sink::Webhook(webhook::WebhookSink::new(name, webhook)?))
            }
        }
    }

    /// Delivers one alert.
    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), SinkError> {
        match self {
            Sink::Smtp(sink) => sink.send(alert).await,
            Sink::Webhook(sink) => sink.send(alert).await,
        }
    }
}
