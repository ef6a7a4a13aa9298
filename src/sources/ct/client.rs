//! HTTP client of one CT log: `get-sth` and `get-entries` over reqwest (rustls, no proxy),
//! with a timeout and a cap on the body size.
//!
//! CT logs are configured by the operator, not chosen by attackers, so this client does not
//! go through the page fetcher's address checks. It follows no redirect: a log that moves
//! is changed in the log list.

use std::time::{Duration, SystemTime};

use crate::ct::TreeHead;
use crate::ct::api::{ApiError, parse_tree_head};

/// Longest `Retry-After` honoured; a larger value is taken as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Error of one request to a log.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP status {status}")]
    Status {
        url: String,
        status: u16,
        /// Time the log asked to wait before the next request (`Retry-After`).
        retry_after: Option<Duration>,
    },
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error(
        "{url}: response larger than max_response_bytes ({max} bytes); raise [ct] max_response_bytes or lower batch_size"
    )]
    TooLarge { url: String, max: u64 },
    #[error("{url}: {error}")]
    Body { url: String, error: ApiError },
}

impl FetchError {
    /// Returns the wait the log asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Returns whether the log responded 429 Too Many Requests.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, FetchError::Status { status: 429, .. })
    }
}

/// Client of one log.
#[derive(Debug, Clone)]
pub struct LogClient {
    http: reqwest::Client,
    base: String,
    max_bytes: u64,
}

impl LogClient {
    /// Makes a client for the log at `base` (ending with `/`), which trusts `extra_roots`
    /// besides the system's roots.
    pub fn new(
        base: &str,
        timeout: Duration,
        max_bytes: u64,
        extra_roots: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Result<LogClient, String> {
        crate::init_tls();
        let roots = extra_roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("ct.ca_file: {error}"))?;
        let http = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!(
                "vigie/",
                env!("CARGO_PKG_VERSION"),
                " (certificate transparency monitor)"
            ))
            .build()
            .map_err(|error| error.to_string())?;
        Ok(LogClient {
            http,
            base: base.to_string(),
            max_bytes,
        })
    }

    /// Calls `get-sth`.
    pub async fn tree_head(&self) -> Result<TreeHead, FetchError> {
        let url = format!("{}ct/v1/get-sth", self.base);
        let body = self.fetch(&url).await?;
        parse_tree_head(&body).map_err(|error| FetchError::Body { url, error })
    }

    /// Calls `get-entries` for `start..=end` and returns the body unparsed, for the worker
    /// pool to read.
    pub async fn entries(&self, start: u64, end: u64) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}ct/v1/get-entries?start={start}&end={end}", self.base);
        self.fetch(&url).await
    }

    /// Fetches `url` with this client's timeout and size cap.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let transport = |error: reqwest::Error| FetchError::Transport {
            url: url.to_string(),
            reason: error_chain(&error),
        };
        let mut response = self.http.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after,
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            max: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Reads a `Retry-After` value: a number of seconds or an HTTP date (RFC 9110 section
/// 10.2.3). A date in the past means no wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at =
                time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
                    .ok()?;
            SystemTime::from(at)
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Joins an error and its sources, so that "error sending request" shows its cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
