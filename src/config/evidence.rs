//! The `[fetch]`, `[evidence]` and `[rdap]` sections of `vigie.toml`: how attacker-controlled
//! pages are fetched, how often web evidence is read again, and where ownership (RDAP) is
//! asked.

use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::CaFile;
use super::error::ConfigError;
use super::tls;
use super::tree::{Reader, Table};

const FETCH_KEYS: &[&str] = &[
    "timeout_secs",
    "connect_timeout_secs",
    "max_redirects",
    "max_body_bytes",
    "user_agent",
    "allow_private_addresses",
    "allow_networks",
    "ca_file",
];
const EVIDENCE_KEYS: &[&str] = &[
    "enabled",
    "live_interval_secs",
    "parked_interval_secs",
    "unreachable_interval_secs",
    "poll_secs",
    "concurrency",
    "batch",
    "reference",
];
const REFERENCE_KEYS: &[&str] = &["watchlist", "url", "path"];
const RDAP_KEYS: &[&str] = &[
    "enabled",
    "bootstrap_dir",
    "bootstrap_url",
    "bootstrap_refresh_secs",
    "refresh_secs",
    "ip_server",
];

/// Default User-Agent of the page fetcher: a browser's, so that kits which hide from crawlers
/// still show their page, followed by vigie's name for the site's logs.
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/126.0 Safari/537.36 vigie";

/// `[fetch]`: the safe fetcher used for every attacker-controlled URL.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Time allowed for one fetch, redirects included, in seconds. Default: 20.
    pub timeout_secs: u64,
    /// Time allowed to open one connection, in seconds. Default: 5.
    pub connect_timeout_secs: u64,
    /// Redirects followed before the fetch gives up. Default: 5.
    pub max_redirects: u32,
    /// Bytes of a body kept; the rest is not read. Default: 2097152 (2 MiB).
    pub max_body_bytes: u64,
    /// User-Agent header sent. Default: [`DEFAULT_USER_AGENT`].
    pub user_agent: String,
    /// Lets the fetcher connect to loopback, private, link-local and other non-public
    /// addresses. Only for tests and labs. Default: false.
    pub allow_private_addresses: bool,
    /// Networks the fetcher treats as public although they are not (a lab's range).
    /// Default: none.
    pub allow_networks: Vec<IpNet>,
    /// Extra CA certificates trusted for HTTPS pages, on top of the system's. Default: none.
    pub ca_file: Option<CaFile>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout_secs: 20,
            connect_timeout_secs: 5,
            max_redirects: 5,
            max_body_bytes: 2 << 20,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            allow_private_addresses: false,
            allow_networks: Vec::new(),
            ca_file: None,
        }
    }
}

/// `[evidence]`: the change watch that reads web evidence and ownership of findings.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Runs the change watch. Default: true.
    pub enabled: bool,
    /// Time between two checks of a live page, in seconds. Default: 3600.
    pub live_interval_secs: u64,
    /// Time between two checks of a parked or for-sale page, in seconds. Default: 21600.
    pub parked_interval_secs: u64,
    /// Time between two checks of a host that serves no page, in seconds. Default: 43200.
    pub unreachable_interval_secs: u64,
    /// Time between two looks for due checks and new findings, in seconds. Default: 30.
    pub poll_secs: u64,
    /// Checks run at once. Default: 4.
    pub concurrency: usize,
    /// Most checks started in one round. Default: 50.
    pub batch: usize,
    /// The legitimate pages that lookalike pages are compared with.
    pub references: Vec<ReferencePage>,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            enabled: true,
            live_interval_secs: 3600,
            parked_interval_secs: 21_600,
            unreachable_interval_secs: 43_200,
            poll_secs: 30,
            concurrency: 4,
            batch: 50,
            references: Vec::new(),
        }
    }
}

/// `[[evidence.reference]]`: one page of the company's real site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePage {
    /// Watchlist whose findings are compared with this page.
    pub watchlist: String,
    pub location: ReferenceLocation,
}

/// Where a reference page is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceLocation {
    /// Fetched from the legitimate site (through the safe fetcher) and kept in the store.
    Url(String),
    /// A saved copy of the page.
    Path(PathBuf),
}

/// `[rdap]`: registration data (registrar, dates, network, abuse contacts).
#[derive(Debug, Clone)]
pub struct RdapConfig {
    /// Reads RDAP for findings. Default: true.
    pub enabled: bool,
    /// Folder holding IANA's bootstrap files `dns.json`, `ipv4.json` and `ipv6.json`, kept up
    /// to date by the operator. Default: none, the files are downloaded from `bootstrap_url`
    /// into `rdap/` under the state folder. The copies built into vigie stand in for a file
    /// that is missing from the folder, or neither downloaded nor cached.
    pub bootstrap_dir: Option<PathBuf>,
    /// Where IANA's bootstrap files are downloaded from. Default: `https://data.iana.org/rdap/`.
    pub bootstrap_url: String,
    /// Age after which the downloaded bootstrap files are downloaded again, in seconds.
    /// Default: 86400.
    pub bootstrap_refresh_secs: u64,
    /// Age after which registration data is read again, in seconds. Default: 604800 (7 days).
    pub refresh_secs: u64,
    /// RDAP server asked for an address that no bootstrap file covers; ARIN's answers with a
    /// redirect to the registry that holds the address. Default:
    /// `https://rdap.arin.net/registry/`.
    pub ip_server: String,
}

impl Default for RdapConfig {
    fn default() -> Self {
        RdapConfig {
            enabled: true,
            bootstrap_dir: None,
            bootstrap_url: "https://data.iana.org/rdap/".to_string(),
            bootstrap_refresh_secs: 86_400,
            refresh_secs: 604_800,
            ip_server: "https://rdap.arin.net/registry/".to_string(),
        }
    }
}

pub(crate) fn fetch(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
) -> FetchConfig {
    let defaults = FetchConfig::default();
    let Some(table) = table else {
        return defaults;
    };
    reader.check_keys(table, FETCH_KEYS);

    let user_agent = match reader.string(table, "user_agent") {
        Some((text, span)) if text.trim().is_empty() || text.contains(['\r', '\n']) => {
            reader.error(
                &span,
                "fetch.user_agent is empty or holds a line break".to_string(),
                "write one line of text, or remove the key to use the default".to_string(),
            );
            defaults.user_agent
        }
        Some((text, _)) => text,
        None => defaults.user_agent,
    };
    FetchConfig {
        timeout_secs: reader.integer(table, "timeout_secs", 20, (1, 600), "seconds"),
        connect_timeout_secs: reader.integer(table, "connect_timeout_secs", 5, (1, 120), "seconds"),
        max_redirects: reader.integer(table, "max_redirects", 5, (0, 20), "redirects") as u32,
        max_body_bytes: reader.integer(table, "max_body_bytes", 2 << 20, (1024, 64 << 20), "bytes"),
        user_agent,
        allow_private_addresses: reader.bool(table, "allow_private_addresses", false),
        allow_networks: networks(reader, table),
        ca_file: tls::ca_file(reader, table, base),
    }
}

fn networks(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<IpNet> {
    let mut networks = Vec::new();
    for (text, span) in reader.strings(table, "allow_networks") {
        let parsed = text.parse::<IpNet>().or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| ())
        });
        match parsed {
            Ok(network) => networks.push(network.trunc()),
            Err(()) => reader.error(
                &span,
                format!("invalid network \"{text}\" in fetch.allow_networks"),
                "write an address or a network in CIDR form, such as \"10.20.0.0/16\" or \"fd00::/8\""
                    .to_string(),
            ),
        }
    }
    networks
}

/// A reference page's watchlist name, with the error to report when no watchlist has it
/// (known only once the watchlists are read).
pub(crate) type WatchlistCheck = (String, ConfigError);

pub(crate) fn evidence(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    checks: &mut Vec<WatchlistCheck>,
) -> EvidenceConfig {
    let defaults = EvidenceConfig::default();
    let Some(table) = table else {
        return defaults;
    };
    reader.check_keys(table, EVIDENCE_KEYS);

    let day = 86_400;
    EvidenceConfig {
        enabled: reader.bool(table, "enabled", true),
        live_interval_secs: reader.integer(
            table,
            "live_interval_secs",
            3600,
            (60, 30 * day),
            "seconds",
        ),
        parked_interval_secs: reader.integer(
            table,
            "parked_interval_secs",
            21_600,
            (60, 30 * day),
            "seconds",
        ),
        unreachable_interval_secs: reader.integer(
            table,
            "unreachable_interval_secs",
            43_200,
            (60, 30 * day),
            "seconds",
        ),
        poll_secs: reader.integer(table, "poll_secs", 30, (1, 3600), "seconds"),
        concurrency: reader.integer(table, "concurrency", 4, (1, 64), "checks") as usize,
        batch: reader.integer(table, "batch", 50, (1, 10_000), "checks") as usize,
        references: references(reader, table, base, checks),
    }
}

fn references(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    checks: &mut Vec<WatchlistCheck>,
) -> Vec<ReferencePage> {
    let mut pages = Vec::new();
    for (index, (span, entries)) in reader.tables(table, "reference").into_iter().enumerate() {
        let name = format!("evidence.reference[{index}]");
        let item = Table {
            name: &name,
            span: span.clone(),
            entries,
        };
        reader.check_keys(&item, REFERENCE_KEYS);
        let watchlist = reader.required_string(&item, "watchlist", "\"example\"");
        let location = match (reader.string(&item, "url"), reader.string(&item, "path")) {
            (Some((url, url_span)), None) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    reader.error(
                        &url_span,
                        format!("{name}.url must be an http or https URL, found \"{url}\""),
                        "write the address of the real login page, such as \"https://login.example.com/\""
                            .to_string(),
                    );
                }
                Some(ReferenceLocation::Url(url))
            }
            (None, Some((path, path_span))) => {
                let full = base.join(&path);
                if !full.is_file() {
                    reader.error(
                        &path_span,
                        format!("file {} named by {name}.path not found", full.display()),
                        format!(
                            "save the real page there, or correct the path (a relative path starts from {})",
                            base.display()
                        ),
                    );
                }
                Some(ReferenceLocation::Path(full))
            }
            (Some((_, url_span)), Some(_)) => {
                reader.error(
                    &url_span,
                    format!("{name} has both `url` and `path`"),
                    "keep one of them".to_string(),
                );
                None
            }
            (None, None) => {
                reader.error(
                    &span,
                    format!("{name} has neither `url` nor `path`"),
                    "add `url = \"https://login.example.com/\"` or `path = \"pages/login.html\"`"
                        .to_string(),
                );
                None
            }
        };
        if let (Some((watchlist, watchlist_span)), Some(location)) = (watchlist, location) {
            checks.push((
                watchlist.clone(),
                reader.source.error(
                    &watchlist_span,
                    format!("{name}.watchlist names \"{watchlist}\", which is no watchlist"),
                    "write the file stem of a watchlist, such as \"example\" for watchlists/example.toml"
                        .to_string(),
                ),
            ));
            pages.push(ReferencePage {
                watchlist,
                location,
            });
        }
    }
    pages
}

pub(crate) fn rdap(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
) -> RdapConfig {
    let defaults = RdapConfig::default();
    let Some(table) = table else {
        return defaults;
    };
    reader.check_keys(table, RDAP_KEYS);

    let bootstrap_dir = reader.string(table, "bootstrap_dir").and_then(|(text, span)| {
        let dir = base.join(&text);
        if dir.is_dir() {
            return Some(dir);
        }
        reader.error(
            &span,
            format!("folder {} named by rdap.bootstrap_dir not found", dir.display()),
            "create it with IANA's dns.json, ipv4.json and ipv6.json, or remove the key to download them from bootstrap_url"
                .to_string(),
        );
        None
    });
    let ip_server = base_url(reader, table, "ip_server", defaults.ip_server);
    let bootstrap_url = base_url(reader, table, "bootstrap_url", defaults.bootstrap_url);
    RdapConfig {
        enabled: reader.bool(table, "enabled", true),
        bootstrap_dir,
        bootstrap_url,
        bootstrap_refresh_secs: reader.integer(
            table,
            "bootstrap_refresh_secs",
            86_400,
            (3600, 365 * 86_400),
            "seconds",
        ),
        refresh_secs: reader.integer(
            table,
            "refresh_secs",
            604_800,
            (3600, 365 * 86_400),
            "seconds",
        ),
        ip_server,
    }
}

fn base_url(reader: &mut Reader<'_>, table: &Table<'_, '_>, key: &str, default: String) -> String {
    match reader.string(table, key) {
        Some((url, span)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            reader.error(
                &span,
                format!("rdap.{key} must be an http or https URL, found \"{url}\""),
                "write a base URL such as \"https://rdap.arin.net/registry/\"".to_string(),
            );
            default
        }
        Some((url, _)) => url,
        None => default,
    }
}
