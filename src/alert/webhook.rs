//! Webhook sink: the alert document POSTed as JSON, signed with HMAC-SHA256, or a chat
//! message built from it (Slack, Mattermost, Teams; see [`super::chat`]).
//!
//! The signature covers `<timestamp>.<body>` so a receiver can reject a replayed request
//! whose timestamp is old; docs/alerts.md shows how to verify it.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use super::SinkError;
use super::payload::AlertPayload;
use super::{chat, policy};
use crate::config::{Secret, WebhookFormat, WebhookSinkConfig};
use crate::store::OutboxAlert;

/// Header with the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Vigie-Timestamp";
/// Header with `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE_HEADER: &str = "X-Vigie-Signature";
/// Header with the alert's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// A configured webhook endpoint.
pub struct WebhookSink {
    name: String,
    url: reqwest::Url,
    /// The URL as messages show it: the host only when the URL is a secret.
    shown_url: String,
    format: WebhookFormat,
    secret: Option<Secret>,
    client: reqwest::Client,
}

impl WebhookSink {
    pub fn new(name: &str, config: &WebhookSinkConfig) -> Result<WebhookSink, SinkError> {
        let invalid = |reason: String| SinkError::Config {
            sink: name.to_owned(),
            reason,
        };
        let quoted = if config.url_is_secret {
            "from url_env or url_file".to_owned()
        } else {
            format!("{:?}", config.url)
        };
        let url = reqwest::Url::parse(&config.url).map_err(|error| {
            invalid(format!(
                "url {quoted} is invalid ({error}); write an http or https URL"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "url {quoted} has scheme {:?}; use http or https",
                url.scheme()
            )));
        }
        let shown_url = if config.url_is_secret {
            format!(
                "{}://{}/... (secret URL)",
                url.scheme(),
                url.host_str().unwrap_or_default()
            )
        } else {
            url.to_string()
        };

        crate::init_tls();
        // A receiver that redirects is misconfigured: following it would post the alert to
        // a place nobody configured.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| invalid(format!("HTTP client setup failed: {error}")))?;

        Ok(WebhookSink {
            name: name.to_owned(),
            url,
            shown_url,
            format: config.format,
            secret: config.secret.clone(),
            client,
        })
    }

    /// POSTs one alert; any 2xx status counts as delivered.
    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), SinkError> {
        let payload_error = |reason: String| SinkError::Payload {
            sink: self.name.clone(),
            key: alert.idempotency_key.clone(),
            reason,
        };
        let body = match self.format {
            WebhookFormat::Generic => serde_json::to_vec(&alert.payload),
            format if policy::is_digest(&alert.payload) => {
                let digest: policy::Digest = serde_json::from_value(alert.payload.clone())
                    .map_err(|error| payload_error(format!("not a digest document: {error}")))?;
                let message = chat::digest_body(format, &digest).unwrap_or(serde_json::Value::Null);
                serde_json::to_vec(&message)
            }
            format => {
                let document: AlertPayload = serde_json::from_value(alert.payload.clone())
                    .map_err(|error| payload_error(format!("not an alert document: {error}")))?;
                let message = chat::body(format, &document).unwrap_or(serde_json::Value::Null);
                serde_json::to_vec(&message)
            }
        }
        .map_err(|error| payload_error(error.to_string()))?;
        let timestamp = OffsetDateTime::now_utc().unix_timestamp().to_string();

        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, &alert.idempotency_key)
            .header(TIMESTAMP_HEADER, &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header(
                SIGNATURE_HEADER,
                signature(secret.expose(), &timestamp, &body),
            );
        }

        let response = request
            .body(body)
            .send()
            .await
            .map_err(|error| SinkError::Http {
                sink: self.name.clone(),
                url: self.shown_url.clone(),
                reason: self.hide_url(error_chain(&error)),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(SinkError::Status {
            sink: self.name.clone(),
            url: self.shown_url.clone(),
            status: status.as_u16(),
            // 408, 429 and 5xx are the receiver's trouble of the moment; other 4xx mean
            // the request itself (its signature, its schema) is rejected.
            transient: status.is_server_error() || matches!(status.as_u16(), 408 | 429),
        })
    }
}

impl WebhookSink {
    /// reqwest's errors quote the URL: replace it when the URL is a secret.
    fn hide_url(&self, text: String) -> String {
        let full = self.url.as_str();
        if self.shown_url == full {
            return text;
        }
        text.replace(full, &self.shown_url)
            .replace(full.trim_end_matches('/'), &self.shown_url)
    }
}

/// Computes the value of [`SIGNATURE_HEADER`] for a body signed at `timestamp`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so building it cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// reqwest's top-level message ("error sending request") hides the cause: join the chain.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
