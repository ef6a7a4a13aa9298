//! The safe fetcher: the one HTTP client for attacker-controlled URLs (lookalike pages, their
//! favicons, RDAP responses, and the feed, scam_repository and social sources through
//! [`crate::sources::http`]).
//!
//! A lookalike domain can point at any address, 127.0.0.1 or 10.0.0.5 included, and a page
//! can redirect anywhere. So the fetcher:
//!
//! - resolves host names with the project's resolver ([`crate::net::dns::Resolver`], the
//!   `[dns]` nameservers) inside reqwest's own resolution hook, and refuses every address that
//!   is not public ([`classify`]): the addresses handed to the connector are the checked
//!   ones, so a DNS answer that changes between a check and the connection (rebinding) cannot
//!   slip another address in;
//! - checks IP literals in URLs (which reqwest connects to without resolving) before the
//!   request;
//! - follows redirects itself, up to `max_redirects`, checking each new URL the same way,
//!   stopping at the first URL seen twice (a loop), and dropping the `Authorization` and
//!   `Cookie` headers of the request once a redirect leaves the first origin;
//! - reads at most `max_body_bytes` of a body, after gzip decompression, keeps no cookie,
//!   uses no proxy, runs nothing.
//!
//! `allow_private_addresses` lifts the address check (tests, labs); `allow_networks` lifts
//! it for listed networks only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::{DnsConfig, FetchConfig};
use crate::net::dns::{Resolution, Resolver};

/// Error of one fetch. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "refused to fetch {url}: {host} is {address}, a {class} address; vigie fetches public addresses only (fetch.allow_private_addresses is for tests and labs)"
    )]
    Refused {
        url: String,
        host: String,
        address: IpAddr,
        class: &'static str,
    },
    #[error("cannot fetch {url}: {host} does not resolve ({reason})")]
    Unresolved {
        url: String,
        host: String,
        reason: String,
    },
    #[error("cannot fetch {url}: more than {limit} redirects (fetch.max_redirects)")]
    TooManyRedirects { url: String, limit: u32 },
    #[error("cannot fetch {url}: redirect loop back to {to}")]
    RedirectLoop { url: String, to: String },
    #[error("cannot fetch {url}: no answer within {secs} s (fetch.timeout_secs)")]
    Timeout { url: String, secs: u64 },
    #[error("cannot fetch {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("cannot set up the fetcher: {0}")]
    Setup(String),
}

impl FetchError {
    /// Tells whether the fetch was refused by the address policy.
    pub fn is_refused(&self) -> bool {
        matches!(self, FetchError::Refused { .. })
    }
}

/// One redirect followed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// Address the answer came from.
    pub address: Option<String>,
}

/// What one fetch read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// URL of the last answer, after redirects.
    pub final_url: Url,
    pub status: u16,
    /// Every answer that redirected, in order; the last answer is not in it.
    pub redirects: Vec<Hop>,
    /// Address the last answer came from.
    pub address: Option<SocketAddr>,
    pub content_type: Option<String>,
    /// Headers of the last response.
    pub headers: reqwest::header::HeaderMap,
    /// The body, cut at `max_body_bytes`.
    pub body: Vec<u8>,
    /// Whether the body was longer than `max_body_bytes`.
    pub truncated: bool,
    /// DER of the server's leaf certificate, for HTTPS.
    pub certificate: Option<Vec<u8>>,
}

/// One request for [`Fetcher::send`].
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Headers added to the fetcher's own (`User-Agent`, `Accept-Encoding`).
    pub headers: reqwest::header::HeaderMap,
    /// A JSON body: the request is then a POST, and a redirect response is returned as it is
    /// instead of being followed.
    pub json: Option<&'a serde_json::Value>,
}

/// The address policy: which addresses the fetcher may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Every address allowed (tests, labs).
    pub allow_private: bool,
    /// Networks allowed although not public.
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Returns `Err(class)` when the policy refuses `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        if self.allow_private || self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        Err(class)
    }
}

/// Names the class of a non-public address, or returns `None` for a public one.
///
/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible addresses are refused whatever the
/// IPv4 address, because some stacks connect to the embedded IPv4 address. NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are judged by their embedded address.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        (100, 64..=127, _) => "shared CGNAT (100.64.0.0/10)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_documentation() => "documentation",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 88, 99) => "6to4 relay anycast",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.to_ipv4_mapped().is_some() {
        return Some("IPv4-mapped");
    }
    let class = match segments {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible",
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return classify_v4(embedded_v4(hi, lo)).map(|_| "NAT64 of a non-public IPv4");
        }
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        [0x2002, hi, lo, ..] => {
            return classify_v4(embedded_v4(hi, lo)).map(|_| "6to4 of a non-public IPv4");
        }
        [0x2001, 0, ..] => "Teredo (2001::/32)",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x3fff, second, ..] if second < 0x1000 => "documentation",
        [0x2001, 2, 0, ..] => "benchmarking (2001:2::/48)",
        [0x2001, 0x10..=0x2f, ..] => "ORCHID",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local (private)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast",
        [first, ..] if first & 0xe000 != 0x2000 => "not global unicast (outside 2000::/3)",
        _ => return None,
    };
    Some(class)
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// The address check inside reqwest's resolution: what it returns is what reqwest connects to.
struct CheckedResolver {
    dns: Arc<Resolver>,
    policy: Arc<AddressPolicy>,
}

/// Why [`CheckedResolver`] gave no address; found again in the reqwest error's sources.
#[derive(Debug, thiserror::Error)]
enum ResolveRefusal {
    #[error("{host} is {address}, a {class} address")]
    Refused {
        host: String,
        address: IpAddr,
        class: &'static str,
    },
    #[error("{host} does not resolve: {reason}")]
    Unresolved { host: String, reason: String },
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let dns = self.dns.clone();
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolve_checked(&dns, &policy, &host).await?;
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Resolves `host` and keeps the addresses the policy allows; fails when none is left.
async fn resolve_checked(
    dns: &Resolver,
    policy: &AddressPolicy,
    host: &str,
) -> Result<Vec<IpAddr>, ResolveRefusal> {
    let records = match dns.resolve(host).await {
        Resolution::Registered(records) => records,
        Resolution::NotRegistered => {
            return Err(ResolveRefusal::Unresolved {
                host: host.to_owned(),
                reason: "NXDOMAIN".to_owned(),
            });
        }
        Resolution::Unknown(reason) => {
            return Err(ResolveRefusal::Unresolved {
                host: host.to_owned(),
                reason,
            });
        }
    };
    let mut allowed = Vec::new();
    let mut refused = None;
    for text in records.a.iter().chain(records.aaaa.iter()) {
        let Ok(ip) = text.parse::<IpAddr>() else {
            continue;
        };
        match policy.check(ip) {
            Ok(()) => allowed.push(ip),
            Err(class) => refused = refused.or(Some((ip, class))),
        }
    }
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some((address, class))) => Err(ResolveRefusal::Refused {
            host: host.to_owned(),
            address,
            class,
        }),
        (true, None) => Err(ResolveRefusal::Unresolved {
            host: host.to_owned(),
            reason: "no A or AAAA record".to_owned(),
        }),
    }
}

/// The safe fetcher. Cheap to clone; one client is shared by every fetch.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    dns: Arc<Resolver>,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    max_redirects: u32,
    max_body_bytes: u64,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Fetcher {
    /// Builds the fetcher from `[fetch]`, resolving through `[dns]`.
    pub fn new(config: &FetchConfig, dns: &DnsConfig) -> Result<Fetcher, FetchError> {
        let resolver = Resolver::new(dns).map_err(|e| FetchError::Setup(e.to_string()))?;
        Self::with_resolver(config, Arc::new(resolver))
    }

    /// Builds the fetcher over an existing resolver.
    pub fn with_resolver(config: &FetchConfig, dns: Arc<Resolver>) -> Result<Fetcher, FetchError> {
        crate::init_tls();
        let policy = Arc::new(AddressPolicy {
            allow_private: config.allow_private_addresses,
            allow: config.allow_networks.clone(),
        });
        let timeout = Duration::from_secs(config.timeout_secs);
        let mut builder = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                dns: dns.clone(),
                policy: policy.clone(),
            }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .user_agent(config.user_agent.clone())
            .tls_info(true)
            .pool_max_idle_per_host(2);
        if let Some(ca) = &config.ca_file {
            let certificates = ca
                .certificates
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| FetchError::Setup(format!("fetch.ca_file: {e}")))?;
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Setup(e.to_string()))?;
        Ok(Fetcher {
            client,
            dns,
            policy,
            timeout,
            max_redirects: config.max_redirects,
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// The address policy in force.
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// The resolver the fetcher uses.
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.dns
    }

    /// Fetches `url` with GET, following redirects, within `[fetch]` limits.
    pub async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        self.get_accepting(url, None).await
    }

    /// Same as [`Fetcher::get`], with an `Accept` header (`application/rdap+json` for RDAP).
    pub async fn get_accepting(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let mut request = Request::default();
        if let Some(value) = accept.and_then(|text| text.parse().ok()) {
            request.headers.insert(reqwest::header::ACCEPT, value);
        }
        self.send(url, request).await
    }

    /// Sends `request` to `url` under the address policy and the `[fetch]` limits. Any HTTP
    /// status is a response; only a refused address, a transport failure, a timeout or too
    /// many redirects are errors.
    pub async fn send(&self, url: &str, request: Request<'_>) -> Result<Fetched, FetchError> {
        let parsed = parse_url(url)?;
        match tokio::time::timeout(self.timeout, self.follow(parsed, request)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_owned(),
                secs: self.timeout.as_secs(),
            }),
        }
    }

    /// Resolves `host` as the fetcher would, and returns the addresses it may connect to.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        let url = format!("http://{host}/");
        resolve_checked(&self.dns, &self.policy, host)
            .await
            .map_err(|refusal| from_refusal(&url, refusal))
    }

    async fn follow(&self, mut url: Url, request: Request<'_>) -> Result<Fetched, FetchError> {
        let mut redirects: Vec<Hop> = Vec::new();
        let origin = url.origin();
        let mut headers = request.headers;
        loop {
            self.check_literal(&url)?;
            if url.origin() != origin {
                // Credentials meant for the first server never go to another one.
                for name in [
                    reqwest::header::AUTHORIZATION,
                    reqwest::header::COOKIE,
                    reqwest::header::PROXY_AUTHORIZATION,
                ] {
                    headers.remove(name);
                }
            }
            let builder = match request.json {
                Some(json) => self.client.post(url.clone()).json(json),
                None => self.client.get(url.clone()),
            };
            let response = builder
                .headers(headers.clone())
                .send()
                .await
                .map_err(|error| request_error(&url, &error, self.timeout))?;
            let status = response.status();
            let address = response.remote_addr();
            let location = status
                .is_redirection()
                .then(|| response.headers().get(reqwest::header::LOCATION))
                .flatten()
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
                .filter(|_| request.json.is_none());
            let Some(location) = location else {
                return self.read(url, response, redirects).await;
            };

            redirects.push(Hop {
                url: url.to_string(),
                status: status.as_u16(),
                address: address.map(|a| a.ip().to_string()),
            });
            if redirects.len() > self.max_redirects as usize {
                return Err(FetchError::TooManyRedirects {
                    url: url.to_string(),
                    limit: self.max_redirects,
                });
            }
            let next = url.join(&location).map_err(|error| FetchError::Http {
                url: url.to_string(),
                reason: format!("invalid redirect location {location:?}: {error}"),
            })?;
            if redirects.iter().any(|hop| hop.url == next.as_str()) {
                return Err(FetchError::RedirectLoop {
                    url: redirects[0].url.clone(),
                    to: next.to_string(),
                });
            }
            url = check_scheme(next)?;
        }
    }

    /// Refuses a URL whose host is an IP literal the policy refuses.
    fn check_literal(&self, url: &Url) -> Result<(), FetchError> {
        // The URL parser has already normalised the odd IPv4 forms (`0x7f.1`, `2130706433`).
        let host = url.host_str().unwrap_or_default();
        let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() else {
            return Ok(());
        };
        self.policy.check(ip).map_err(|class| FetchError::Refused {
            url: url.to_string(),
            host: ip.to_string(),
            address: ip,
            class,
        })
    }

    async fn read(
        &self,
        url: Url,
        mut response: reqwest::Response,
        redirects: Vec<Hop>,
    ) -> Result<Fetched, FetchError> {
        let status = response.status().as_u16();
        let address = response.remote_addr();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(<[u8]>::to_vec);

        let limit = self.max_body_bytes as usize;
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| request_error(&url, &error, self.timeout))?
        {
            let room = limit - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            final_url: url,
            status,
            redirects,
            address,
            content_type,
            headers,
            body,
            truncated,
            certificate,
        })
    }
}

/// Parses a URL the fetcher accepts: http or https with a host.
pub fn parse_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|error| FetchError::InvalidUrl {
        url: url.to_owned(),
        reason: error.to_string(),
    })?;
    check_scheme(parsed)
}

fn check_scheme(url: Url) -> Result<Url, FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: format!("scheme {:?} is not http or https", url.scheme()),
        });
    }
    if url.host().is_none() {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".to_owned(),
        });
    }
    Ok(url)
}

/// Turns a reqwest error into a [`FetchError`], finding a refusal of the resolution hook
/// among its sources.
fn request_error(url: &Url, error: &reqwest::Error, timeout: Duration) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refusal) = current.downcast_ref::<ResolveRefusal>() {
            return from_refusal(url.as_str(), clone_refusal(refusal));
        }
        source = current.source();
    }
    if error.is_timeout() {
        return FetchError::Timeout {
            url: url.to_string(),
            secs: timeout.as_secs(),
        };
    }
    FetchError::Http {
        url: url.to_string(),
        reason: error_chain(error),
    }
}

fn clone_refusal(refusal: &ResolveRefusal) -> ResolveRefusal {
    match refusal {
        ResolveRefusal::Refused {
            host,
            address,
            class,
        } => ResolveRefusal::Refused {
            host: host.clone(),
            address: *address,
            class,
        },
        ResolveRefusal::Unresolved { host, reason } => ResolveRefusal::Unresolved {
            host: host.clone(),
            reason: reason.clone(),
        },
    }
}

fn from_refusal(url: &str, refusal: ResolveRefusal) -> FetchError {
    match refusal {
        ResolveRefusal::Refused {
            host,
            address,
            class,
        } => FetchError::Refused {
            url: url.to_owned(),
            host,
            address,
            class,
        },
        ResolveRefusal::Unresolved { host, reason } => FetchError::Unresolved {
            url: url.to_owned(),
            host,
            reason,
        },
    }
}

/// Joins an error and its sources into one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        let part = current.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        AddressPolicy::default()
            .check(text.parse().unwrap())
            .is_err()
    }

    #[test]
    fn every_non_public_class_is_refused() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.0.0.170",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.5",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a00:5",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:5::1",
            "2002:7f00:1::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ] {
            assert!(refused(address), "{address} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!refused(address), "{address} should pass");
        }
    }

    #[test]
    fn allow_settings_lift_the_check() {
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let listed = AddressPolicy {
            allow_private: false,
            allow: vec!["127.0.0.2/32".parse().unwrap()],
        };
        assert!(listed.check(ip).is_ok());
        assert!(listed.check("127.0.0.1".parse().unwrap()).is_err());
        let all = AddressPolicy {
            allow_private: true,
            allow: Vec::new(),
        };
        assert!(all.check("10.0.0.5".parse().unwrap()).is_ok());
    }

    #[test]
    fn only_http_and_https_urls() {
        assert!(parse_url("ftp://example.net/").is_err());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("https://example.net/login").is_ok());
    }
}
