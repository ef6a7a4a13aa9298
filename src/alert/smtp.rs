//! SMTP sink: one plain-text mail per alert to every configured recipient, through lettre.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::payload::AlertPayload;
use super::{SinkError, mail};
use crate::config::{SmtpSecurity, SmtpSinkConfig};
use crate::store::OutboxAlert;

/// Header carrying the idempotency key, so a mail filter or ticketing system can drop
/// duplicates of the same alert.
pub const IDEMPOTENCY_HEADER: &str = "X-Vigie-Idempotency-Key";

/// A configured SMTP relay and the mail envelope.
pub struct SmtpSink {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl SmtpSink {
    /// Builds the transport; no connection is made until the first alert.
    pub fn new(name: &str, config: &SmtpSinkConfig) -> Result<SmtpSink, SinkError> {
        let invalid = |reason: String| SinkError::Config {
            sink: name.to_owned(),
            reason,
        };
        let parse_address = |field: &str, text: &str| {
            text.parse::<Mailbox>().map_err(|error| {
                invalid(format!(
                    "{field} address {text:?} is invalid ({error}); write it as name@domain"
                ))
            })
        };
        let from = parse_address("from", &config.from)?;
        let to = config
            .to
            .iter()
            .map(|address| parse_address("to", address))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(invalid(
                "no recipient; set `to` to at least one address".into(),
            ));
        }

        let mut builder = match config.security {
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(
                &config.host,
            )
            .map_err(|error| invalid(format!("TLS setup for {} failed: {error}", config.host)))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|error| {
                    invalid(format!("TLS setup for {} failed: {error}", config.host))
                })?,
        };
        builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(config.timeout_secs)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }

        Ok(SmtpSink {
            name: name.to_owned(),
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends one alert as one mail to every recipient.
    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), SinkError> {
        let payload: AlertPayload =
            serde_json::from_value(alert.payload.clone()).map_err(|error| SinkError::Payload {
                sink: self.name.clone(),
                key: alert.idempotency_key.clone(),
                reason: error.to_string(),
            })?;
        let message = self.message(&payload, &alert.idempotency_key)?;

        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| SinkError::Smtp {
                sink: self.name.clone(),
                transient: !error.is_permanent(),
                source: error,
            })
    }

    fn message(&self, payload: &AlertPayload, key: &str) -> Result<Message, SinkError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail::subject(payload))
            .message_id(Some(format!("<{key}@vigie>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER),
                key.to_owned(),
            ))
            .header(ContentType::TEXT_PLAIN);
        for recipient in &self.to {
            builder = builder.to(recipient.clone());
        }
        builder
            .body(mail::body(payload))
            .map_err(|error| SinkError::Payload {
                sink: self.name.clone(),
                key: key.to_owned(),
                reason: format!("cannot build the mail: {error}"),
            })
    }
}
