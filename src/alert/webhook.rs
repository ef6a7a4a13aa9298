//! Webhook sink: the alert document POSTed as JSON, signed with HMAC-SHA256.
//!
//! The signature covers `<timestamp>.<body>` so a receiver can reject a replayed request
//! whose timestamp is old; docs/alerts.md shows how to verify it.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use super::SinkError;
use crate::config::{Secret, WebhookSinkConfig};
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
    secret: Option<Secret>,
    client: reqwest::Client,
}

impl WebhookSink {
    pub fn new(name: &str, config: &WebhookSinkConfig) -> Result<WebhookSink, SinkError> {
        let invalid = |reason: String| SinkError::Config {
            sink: name.to_owned(),
            reason,
        };
        let url = reqwest::Url::parse(&config.url).map_err(|error| {
            invalid(format!(
                "url {:?} is invalid ({error}); write an http or https URL",
                config.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "url {:?} has scheme {:?}; use http or https",
                config.url,
                url.scheme()
            )));
        }

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
            secret: config.secret.clone(),
            client,
        })
    }

    /// POSTs one alert; any 2xx status counts as delivered.
    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&alert.payload).map_err(|error| SinkError::Payload {
            sink: self.name.clone(),
            key: alert.idempotency_key.clone(),
            reason: error.to_string(),
        })?;
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
                url: self.url.to_string(),
                reason: error_chain(&error),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(SinkError::Status {
            sink: self.name.clone(),
            url: self.url.to_string(),
            status: status.as_u16(),
            // 408, 429 and 5xx are the receiver's trouble of the moment; other 4xx mean
            // the request itself (its signature, its schema) is rejected.
            transient: status.is_server_error() || matches!(status.as_u16(), 408 | 429),
        })
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
