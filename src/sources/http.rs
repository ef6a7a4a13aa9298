//! HTTP for the feed, scam_repository and social sources: the one place where they fetch.
//!
//! [`HttpClient`] is the safe fetcher of [`crate::net::fetch`] with the per-source limits of
//! [`FetchSettings`](crate::config::FetchSettings). So these sources follow the same address
//! rules as the page evidence. Host names are resolved through the `[dns]` resolver inside
//! the connection, and only public addresses are connected to (unless
//! `allow_private_addresses` is set). IP literals are checked before the request, and every
//! redirect is checked again. On top of the fetcher it adds what the sources need:
//!
//! - conditional GET with the ETag and Last-Modified of the previous response;
//! - a body over `max_bytes` (counted after gzip decompression) is an error, not a cut page;
//! - 429 and 503 responses read with their `Retry-After` (seconds or an HTTP date);
//! - a JSON POST for API logins, which follows no redirect.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::FetchConfig;
use crate::net::dns::Resolver;
use crate::net::fetch::{self, FetchError, Fetcher, Request};

/// Settings of one source's HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub user_agent: String,
    pub timeout: Duration,
    /// Largest body accepted, in bytes, after decompression.
    pub max_bytes: u64,
    pub max_redirects: usize,
    /// Allows loopback and private addresses: for tests and lab networks only.
    pub allow_private_addresses: bool,
}

/// Validators of a previous response, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Page {
    /// URL of the response, after redirects.
    pub url: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub validators: Validators,
}

/// Outcome of a GET that did not fail.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: the resource did not change since the validators sent.
    NotModified,
    /// 2xx with its body.
    Page(Page),
}

/// Error of one request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "{url} points to the non-public address {address}; set allow_private_addresses = true only for a lab or test server"
    )]
    Blocked { url: String, address: IpAddr },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("request to {url} timed out")]
    Timeout { url: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered HTTP {status} (rate limited){}", retry_note(.retry_after))]
    RateLimited {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("body of {url} is larger than max_bytes ({max} bytes)")]
    TooLarge { url: String, max: u64 },
}

fn retry_note(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(", retry after {} s", wait.as_secs()),
        None => String::new(),
    }
}

impl HttpError {
    /// Returns the delay the server requested with `Retry-After` on a 429 or 503 response.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Returns whether the same request may succeed later without a configuration change.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Transport { .. } | HttpError::Timeout { .. } => true,
            HttpError::RateLimited { .. } => true,
            HttpError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    fn from_fetch(url: &str, error: FetchError) -> HttpError {
        let url = url.to_string();
        match error {
            FetchError::InvalidUrl { reason, .. } => HttpError::InvalidUrl { url, reason },
            FetchError::Refused { address, .. } => HttpError::Blocked { url, address },
            FetchError::Timeout { .. } => HttpError::Timeout { url },
            FetchError::Unresolved { host, reason, .. } => HttpError::Transport {
                url,
                reason: format!("{host} does not resolve ({reason})"),
            },
            FetchError::TooManyRedirects { limit, .. } => HttpError::Transport {
                url,
                reason: format!("more than {limit} redirects (max_redirects)"),
            },
            FetchError::RedirectLoop { to, .. } => HttpError::Transport {
                url,
                reason: format!("redirect loop back to {to}"),
            },
            FetchError::Http { reason, .. } => HttpError::Transport { url, reason },
            FetchError::Setup(reason) => HttpError::Transport { url, reason },
        }
    }
}

/// An HTTP client with the limits of [`HttpSettings`], on the safe fetcher.
#[derive(Debug, Clone)]
pub struct HttpClient {
    fetcher: Fetcher,
    settings: HttpSettings,
}

impl HttpClient {
    /// Builds the client; host names are resolved by `resolver`.
    pub fn new(settings: HttpSettings, resolver: Arc<Resolver>) -> Result<HttpClient, HttpError> {
        let config = FetchConfig {
            timeout_secs: settings.timeout.as_secs().max(1),
            connect_timeout_secs: settings.timeout.as_secs().clamp(1, 30),
            max_redirects: u32::try_from(settings.max_redirects).unwrap_or(u32::MAX),
            max_body_bytes: settings.max_bytes,
            user_agent: settings.user_agent.clone(),
            allow_private_addresses: settings.allow_private_addresses,
            ..FetchConfig::default()
        };
        let fetcher =
            Fetcher::with_resolver(&config, resolver).map_err(|e| HttpError::from_fetch("", e))?;
        Ok(HttpClient { fetcher, settings })
    }

    /// Returns the settings the client was built with.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// GETs `url`, conditionally when `validators` are given, with extra `headers`.
    pub async fn get(
        &self,
        url: &str,
        validators: Option<&Validators>,
        mut headers: HeaderMap,
    ) -> Result<Fetched, HttpError> {
        if let Some(validators) = validators {
            if let Some(value) = validators.etag.as_deref().and_then(header_value) {
                headers.insert(header::IF_NONE_MATCH, value);
            }
            if let Some(value) = validators.last_modified.as_deref().and_then(header_value) {
                headers.insert(header::IF_MODIFIED_SINCE, value);
            }
        }
        let request = Request {
            headers,
            json: None,
        };
        let response = self
            .fetcher
            .send(url, request)
            .await
            .map_err(|e| HttpError::from_fetch(url, e))?;
        if response.status == StatusCode::NOT_MODIFIED.as_u16() {
            return Ok(Fetched::NotModified);
        }
        self.page(url, response).map(Fetched::Page)
    }

    /// POSTs `body` as JSON to `url` and returns the response, for API logins.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: HeaderMap,
    ) -> Result<Page, HttpError> {
        let request = Request {
            headers,
            json: Some(body),
        };
        let response = self
            .fetcher
            .send(url, request)
            .await
            .map_err(|e| HttpError::from_fetch(url, e))?;
        self.page(url, response)
    }

    /// Converts a response into a page, or into the error that its status or size gives.
    fn page(&self, url: &str, response: fetch::Fetched) -> Result<Page, HttpError> {
        let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let header = |name: header::HeaderName| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = header(header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(&v, OffsetDateTime::now_utc()));
            return Err(HttpError::RateLimited {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(HttpError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        if response.truncated {
            return Err(HttpError::TooLarge {
                url: url.to_string(),
                max: self.settings.max_bytes,
            });
        }
        let validators = Validators {
            etag: header(header::ETAG),
            last_modified: header(header::LAST_MODIFIED),
        };
        Ok(Page {
            url: response.final_url.to_string(),
            content_type: response.content_type,
            body: response.body,
            validators,
        })
    }
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

/// Reads `Retry-After`: a number of seconds, or an HTTP date (RFC 9110, IMF-fixdate) from
/// which the delay until then is taken. A date in the past gives zero.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::format_description::well_known::Rfc2822;
    let at = OffsetDateTime::parse(&value.replace("GMT", "+0000"), &format).ok()?;
    let wait = at - now;
    Some(Duration::from_secs(wait.whole_seconds().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retry_after_seconds_and_date() {
        let now = datetime!(2026-12-04 21:00:00 UTC);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 21:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 20:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
