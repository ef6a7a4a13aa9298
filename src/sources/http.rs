//! HTTP for the feed, scam_repository and social sources: the one place where they fetch.
//!
//! Every request goes through [`HttpClient::get`], which adds what a source reading
//! attacker-influenced URLs needs on top of reqwest:
//!
//! - non-public addresses (loopback, private, link-local, CGNAT, multicast, documentation,
//!   reserved, and IPv4 inside IPv6) are rejected unless `allow_private_addresses` is set.
//!   Names are resolved by a reqwest resolver that drops such addresses, so the address
//!   checked is the address connected to; IP literals are checked before the request and on
//!   every redirect;
//! - conditional GET with the ETag and Last-Modified of the previous response, and gzip;
//! - a redirect limit that also stops at the first loop, a body size limit counted on the
//!   decompressed bytes, a timeout, no cookies, no proxy from the environment;
//! - 429 and 503 responses read with their `Retry-After` (seconds or an HTTP date).
//!
//! NOTE: the project's safe fetcher, once it exists in `net`, is meant to replace the
//! client built here; the sources call only this module.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
}

/// An HTTP client with the limits of [`HttpSettings`].
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
}

impl HttpClient {
    /// Builds the client.
    pub fn new(settings: HttpSettings) -> Result<HttpClient, HttpError> {
        crate::init_tls();
        let allow_private = settings.allow_private_addresses;
        let max_redirects = settings.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().contains(attempt.url()) {
                let error = format!("redirect loop back to {}", attempt.url());
                return attempt.error(error);
            }
            if attempt.previous().len() > max_redirects {
                let error = format!("more than {max_redirects} redirects");
                return attempt.error(error);
            }
            if !allow_private
                && let Some(address) = literal_address(attempt.url())
                && !is_public(address)
            {
                let error = format!("redirect to non-public address {address}");
                return attempt.error(error);
            }
            attempt.follow()
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
            .redirect(policy)
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicResolver));
        }
        let client = builder.build().map_err(|e| HttpError::Transport {
            url: String::new(),
            reason: error_chain(&e),
        })?;
        Ok(HttpClient { client, settings })
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
        headers: HeaderMap,
    ) -> Result<Fetched, HttpError> {
        let parsed = self.check_url(url)?;
        let mut request = self.client.get(parsed).headers(headers);
        if let Some(validators) = validators {
            if let Some(value) = validators.etag.as_deref().and_then(header_value) {
                request = request.header(header::IF_NONE_MATCH, value);
            }
            if let Some(value) = validators.last_modified.as_deref().and_then(header_value) {
                request = request.header(header::IF_MODIFIED_SINCE, value);
            }
        }
        let response = request.send().await.map_err(|e| transport(url, &e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, OffsetDateTime::now_utc()));
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
        self.read_page(url, response).await.map(Fetched::Page)
    }

    /// POSTs `body` as JSON to `url` and returns the response, for API logins.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: HeaderMap,
    ) -> Result<Page, HttpError> {
        let parsed = self.check_url(url)?;
        let response = self
            .client
            .post(parsed)
            .headers(headers)
            .json(body)
            .send()
            .await
            .map_err(|e| transport(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        self.read_page(url, response).await
    }

    fn check_url(&self, url: &str) -> Result<reqwest::Url, HttpError> {
        let invalid = |reason: &str| HttpError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("only http and https are fetched"));
        }
        if parsed.host_str().is_none() {
            return Err(invalid("no host"));
        }
        if !self.settings.allow_private_addresses
            && let Some(address) = literal_address(&parsed)
            && !is_public(address)
        {
            return Err(HttpError::Blocked {
                url: url.to_string(),
                address,
            });
        }
        Ok(parsed)
    }

    async fn read_page(
        &self,
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<Page, HttpError> {
        let max = self.settings.max_bytes;
        let too_large = || HttpError::TooLarge {
            url: url.to_string(),
            max,
        };
        let header = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(header::ETAG),
            last_modified: header(header::LAST_MODIFIED),
        };
        let content_type = header(header::CONTENT_TYPE);
        let final_url = response.url().to_string();
        if response.content_length().is_some_and(|length| length > max) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, &e))? {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Page {
            url: final_url,
            content_type,
            body,
            validators,
        })
    }
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

fn transport(url: &str, error: &reqwest::Error) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout {
            url: url.to_string(),
        };
    }
    HttpError::Transport {
        url: url.to_string(),
        reason: error_chain(error),
    }
}

/// Joins an error and its causes, so that a redirect loop or a rejected address is named.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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

/// Returns the IP address of a URL whose host is an IP literal.
fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Tells whether an address is a public unicast address that a fetch may reach.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let protocol_assignments = a == 192 && b == 0 && c == 0;
    !(v4.is_unspecified()
        || v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || a >= 240
        || shared
        || benchmarking
        || protocol_assignments)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = v6.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., high, low] = segments;
        return is_public_v4(Ipv4Addr::from(((high as u32) << 16) | low as u32));
    }
    let first = segments[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let site_local = first & 0xffc0 == 0xfec0;
    let documentation = first == 0x2001 && segments[1] == 0x0db8;
    let ipv4_compatible = segments[..6] == [0; 6];
    !(v6.is_unspecified()
        || v6.is_loopback()
        || v6.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation
        || ipv4_compatible)
}

/// Resolves through the system resolver and keeps only public addresses.
struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                let listed: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
                let message = format!(
                    "{host} resolves only to non-public addresses ({})",
                    listed.join(", ")
                );
                return Err(message.into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn non_public_addresses() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in ["93.184.215.14", "2606:4700::1111", "64:ff9b::5db8:d70e"] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

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
