//! Configuration: `vigie.toml` and the watchlists it points to.
//!
//! Loading reads the TOML files, checks every key and value, and returns either a compiled
//! [`Config`] or every error found, each with its file and line and what to write instead.
//! Secrets are read here, from the environment or a file; they never appear in the TOML.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::model::Severity;

mod error;
mod health;
mod inbox;
mod load;
mod mail;
mod names;
mod nrd;
mod secrets;
mod sections;
mod sinks;
mod tls;
mod tree;
mod watchlist;

pub use error::{ConfigError, ConfigErrors};
pub use load::{Loaded, load, load_with_env};
pub use secrets::EnvLookup;
pub use sections::FUZZERS;

/// The compiled configuration the daemon and the CLI run on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path of the `vigie.toml` this was loaded from.
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[dns]`.
    pub dns: DnsConfig,
    /// `[lookalike]`: the global sweep settings, before any watchlist's overrides.
    pub lookalike: LookalikeConfig,
    /// `[dispatcher]`.
    pub dispatcher: DispatcherConfig,
    /// `[health]`.
    pub health: HealthConfig,
    /// Alert sinks by name.
    pub sinks: BTreeMap<String, SinkConfig>,
    /// Rate limits and quiet hours of the sinks that set them, by sink name.
    pub sink_policies: BTreeMap<String, crate::alert::policy::SinkPolicy>,
    /// `[nrd.NAME]`: lists of newly registered domains, by name.
    pub nrd: BTreeMap<String, NrdConfig>,
    /// `[inbox.NAME]`: mailboxes read over IMAP or as a Maildir, by name.
    pub inboxes: BTreeMap<String, InboxConfig>,
    /// `[intake]`: the HTTP endpoint of the report form; `None` when the section is absent.
    pub intake: Option<IntakeConfig>,
    /// `[mail]`: the company's own mail servers and the free-mail providers.
    pub mail: MailConfig,
    /// Every watchlist file, sorted by file name.
    pub watchlists: Vec<Watchlist>,
}

/// `[nrd.NAME]`: one list of newly registered domains, one domain a line, plain or gzip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NrdConfig {
    pub name: String,
    pub location: NrdLocation,
    /// Time between two reads of the list, in seconds. Default: 3600.
    pub interval_secs: u64,
    /// Largest list accepted, in bytes, after decompression. Default: 268435456 (256 MiB).
    pub max_bytes: u64,
    /// Time allowed for one download, in seconds. Default: 120.
    pub timeout_secs: u64,
}

/// `[mail]`: what mail analysis needs to know about the company's own mail servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `own_networks`: addresses and CIDR blocks of the company's own mail servers and
    /// relays. A `Received` hop from one of them is internal. Default: none.
    pub own_networks: Vec<ipnet::IpNet>,
    /// `own_hosts`: host names of the company's own mail servers, ASCII lower case; each
    /// covers its subdomains (`example.com` covers `mx1.example.com`). Default: none.
    pub own_hosts: Vec<String>,
    /// `free_mail_domains`: free-mail providers, replacing the built-in list. An entry is a
    /// domain (`gmail.com`) or a label with `.*` for every public suffix (`gmx.*`).
    /// Default: `None`, the built-in list.
    pub free_mail_domains: Option<Vec<String>>,
    /// `max_message_bytes`: largest mail analysed, in bytes. Default: 26214400 (25 MiB).
    pub max_message_bytes: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            own_networks: Vec::new(),
            own_hosts: Vec::new(),
            free_mail_domains: None,
            max_message_bytes: mail::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Where a list of newly registered domains is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NrdLocation {
    /// An http or https URL; `{date}` in it is replaced by the current UTC date (YYYY-MM-DD).
    Url(String),
    /// A local file, relative paths taken from the folder of `vigie.toml`.
    Path(PathBuf),
}

/// `[inbox.NAME]`: one mailbox of reported or trapped scam mail.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxConfig {
    pub name: String,
    /// Where the mail is read: an IMAP server or a Maildir folder.
    pub location: InboxLocation,
    /// Watchlist that a mail matching no watchlist is filed under, so that it still joins a
    /// campaign and alerts. Default: none, such a mail is stored without an alert.
    pub watchlist: Option<String>,
    /// Severity of a campaign whose mails match no watchlist. Default: low.
    pub unmatched_severity: Severity,
    /// Largest mail read, in bytes; a larger one is skipped with a warning. Default: 26214400
    /// (25 MiB).
    pub max_message_bytes: u64,
    /// Time between two checks of the folders when IDLE is off or unavailable, and between two
    /// scans of a Maildir, in seconds. Default: 60.
    pub poll_secs: u64,
}

/// Where an inbox is read.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxLocation {
    Imap(ImapConfig),
    /// A Maildir folder (holding `new/`, `cur/` and `tmp/`), relative paths taken from the
    /// folder of `vigie.toml`. Mail in `new/` is read, then moved to `cur/`.
    Maildir(PathBuf),
}

/// The IMAP keys of `[inbox.NAME]` with `type = "imap"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapConfig {
    /// Host name or IP address of the server. Required.
    pub host: String,
    /// Default: 993 for `tls`, 143 for `starttls` and `plain`.
    pub port: u16,
    /// TLS mode. Default: tls.
    pub security: ImapSecurity,
    /// Login name. Required.
    pub username: String,
    /// From `password_env` or `password_file`. Required.
    pub password: Secret,
    /// Folders read, each with its own connection and UID cursor. Default: `["INBOX"]`.
    pub folders: Vec<String>,
    /// Wait for new mail with IDLE (RFC 2177) where the server offers it; otherwise, or when
    /// false, poll every `poll_secs`. Default: true.
    pub idle: bool,
    /// What is done to a mail once its campaign is recorded. Default: keep.
    pub after: AfterRead,
    /// Time allowed for one IMAP command or connection, in seconds. Default: 60.
    pub timeout_secs: u64,
    /// Longest wait between two reconnection attempts, in seconds; the wait doubles from one
    /// second up to this. Default: 300.
    pub reconnect_max_secs: u64,
    /// Private CA certificates trusted for the server on top of the webpki-roots set.
    pub ca_file: Option<CaFile>,
    /// Name the server's certificate must carry, and the SNI sent. Default: `host`.
    pub tls_server_name: Option<String>,
}

/// `security` of an IMAP inbox: `"tls"`, `"starttls"` or `"plain"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSecurity {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// No TLS: only for a server on the same host or a test server.
    Plain,
}

/// `after`: what the inbox does to a mail once it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRead {
    /// Leave it as it is (it is read with BODY.PEEK, so it stays unseen).
    Keep,
    /// Set the `\Seen` flag.
    Seen,
    /// Set the `\Flagged` flag.
    Flag,
    /// Move it to this folder (`move_to`), created when missing.
    Move(String),
}

/// `[intake]`: the HTTP endpoint that the company's report form posts to.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeConfig {
    /// Address and port to listen on. Default: 127.0.0.1:8089.
    pub listen: SocketAddr,
    /// Bearer token the form must send, from `token_env` or `token_file`. Required.
    pub token: Secret,
    /// Largest request body accepted, in bytes. Default: 10485760 (10 MiB).
    pub max_body_bytes: u64,
    /// Reports accepted from one client IP address per minute; more get 429. Default: 10.
    pub rate_per_minute: u32,
    /// Watchlist that a report matching no watchlist is filed under. Default: none.
    pub watchlist: Option<String>,
    /// Severity of a campaign whose reports match no watchlist. Default: low.
    pub unmatched_severity: Severity,
}

impl PartialEq for CaFile {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.certificates == other.certificates
    }
}

impl Config {
    /// Returns the names of the sinks that receive `watchlist`'s alerts: its `alerts.sinks`,
    /// or every sink when that list is empty.
    pub fn sink_names_for(&self, watchlist: &Watchlist) -> Vec<String> {
        if watchlist.sinks.is_empty() {
            self.sinks.keys().cloned().collect()
        } else {
            watchlist.sinks.clone()
        }
    }
}

/// `[daemon]`: where state lives and how the service logs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Folder holding the SQLite store (`vigie.db`). Relative paths are taken from the
    /// folder of `vigie.toml`. Default: `/var/lib/vigie`, or `$STATE_DIRECTORY` under systemd.
    pub state_dir: PathBuf,
    /// Folder of the watchlist files (`*.toml`). Default: `watchlists` beside `vigie.toml`.
    pub watchlists_dir: PathBuf,
    /// Log format on standard error. Default: text.
    pub log_format: LogFormat,
    /// Time given to sources and the dispatcher to finish after SIGTERM, in seconds. Default: 10.
    pub shutdown_grace_secs: u64,
}

/// `daemon.log_format`: `"text"` or `"json"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// `[dns]`: how names are resolved.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Nameservers as `IP:port` (port 53 when the config gives none); empty means the system
    /// resolver (`/etc/resolv.conf`). Default: empty.
    pub nameservers: Vec<SocketAddr>,
    /// Time to wait for one answer, in milliseconds. Default: 2000.
    pub timeout_ms: u64,
    /// Attempts per query before the name is "unknown". Default: 2.
    pub attempts: u32,
    /// Queries in flight at once. Default: 100.
    pub concurrency: usize,
}

/// `[lookalike]`: the permutation sweep, with defaults that a watchlist may override.
#[derive(Debug, Clone)]
pub struct LookalikeConfig {
    /// Time between two sweeps of a watchlist, in seconds. Default: 3600.
    pub interval_secs: u64,
    /// Random delay added to each interval, up to this many seconds. Default: 300.
    pub jitter_secs: u64,
    /// Fuzzers to run, by their dnstwist names (see [`FUZZERS`]). Empty means the default set:
    /// every fuzzer but `dictionary` and `tld-swap`, which run only when `dictionary` /
    /// `tld_swap` are on. Default: empty.
    pub fuzzers: Vec<String>,
    /// Run the dictionary fuzzer (built-in words plus `dictionary_file`). Default: true.
    pub dictionary: bool,
    /// Extra dictionary words, one a line; the file exists when the config loads.
    /// Default: none.
    pub dictionary_file: Option<PathBuf>,
    /// Run the TLD-swap fuzzer (built-in TLD list plus `tld_file`). Default: true.
    pub tld_swap: bool,
    /// Extra TLDs, one a line. Default: none.
    pub tld_file: Option<PathBuf>,
}

/// `[health]`: the health and metrics endpoint and the blind-source alert.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Address of the HTTP endpoint serving `/healthz` and `/metrics`. Default: none (off).
    pub listen: Option<SocketAddr>,
    /// Time without a successful poll after which a source counts as blind, in seconds; a
    /// source that polls less often gets three of its intervals. Default: 21600 (6 hours).
    pub blind_after_secs: u64,
    /// Sinks that receive blind-source alerts. Default: empty, meaning every sink.
    pub sinks: Vec<String>,
}

/// `[dispatcher]`: alert delivery retries.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// First retry delay after a failed delivery, in seconds; it doubles on each failure.
    /// Default: 5.
    pub retry_initial_secs: u64,
    /// Maximum delay between two attempts, in seconds. Default: 900.
    pub retry_max_secs: u64,
}

/// One alert sink.
#[derive(Debug, Clone)]
pub enum SinkConfig {
    /// Mail through an SMTP relay.
    Smtp(SmtpSinkConfig),
    /// JSON POST to an HTTP endpoint.
    Webhook(WebhookSinkConfig),
}

/// `[sinks.NAME]` with `type = "smtp"`.
#[derive(Debug, Clone)]
pub struct SmtpSinkConfig {
    /// Host name or IP address of the relay. Required.
    pub host: String,
    /// Default: 25 for `plain`, 587 for `starttls`, 465 for `tls`.
    pub port: u16,
    /// TLS mode. Default: starttls.
    pub security: SmtpSecurity,
    /// SMTP AUTH user; set together with a password. Default: no authentication.
    pub username: Option<String>,
    /// From `password_env` or `password_file`.
    pub password: Option<Secret>,
    /// Sender address of the alerts. Required.
    pub from: String,
    /// Recipients, at least one. Required.
    pub to: Vec<String>,
    /// Time allowed for one SMTP exchange, in seconds. Default: 30.
    pub timeout_secs: u64,
    /// `ca_file`: private CA certificates trusted for the relay on top of the webpki-roots
    /// (Mozilla) set, for `starttls` and `tls`. Default: none, only webpki-roots.
    pub ca_file: Option<CaFile>,
    /// `tls_server_name`: DNS name or IP address that the relay's certificate must carry, and
    /// the SNI sent; for a relay reached by an IP address or another alias. Default: `host`.
    pub tls_server_name: Option<String>,
}

/// A PEM file of CA certificates, read and checked when the config loads.
#[derive(Clone)]
pub struct CaFile {
    /// Path as resolved: a relative `ca_file` is joined to the folder of `vigie.toml`.
    pub path: PathBuf,
    /// The certificates in file order, DER-encoded; at least one.
    pub certificates: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl fmt::Debug for CaFile {
    /// Shows the path and the number of certificates instead of their bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaFile")
            .field("path", &self.path)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// `security` of an SMTP sink: `"plain"`, `"starttls"` or `"tls"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS: only for a relay on the same host or a test server.
    Plain,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (often port 465).
    Tls,
}

/// Layout of a webhook's request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    /// The alert document as JSON, signed (docs/alerts.md).
    #[default]
    Generic,
    /// A Slack incoming webhook message (text and blocks).
    Slack,
    /// A Mattermost incoming webhook message (text and an attachment).
    Mattermost,
    /// A Microsoft Teams workflow message holding an Adaptive Card.
    Teams,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Generic => "generic",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Mattermost => "mattermost",
            WebhookFormat::Teams => "teams",
        }
    }
}

/// `[sinks.NAME]` with `type = "webhook"`. `Debug` hides a URL that is a secret.
#[derive(Clone)]
pub struct WebhookSinkConfig {
    /// `http` or `https` URL that receives one POST per alert: `url` in the TOML, or
    /// `url_env` / `url_file` when the URL itself is the secret (chat webhooks). Required.
    pub url: String,
    /// True when the URL came from `url_env` or `url_file`: messages then show its host only.
    pub url_is_secret: bool,
    /// Body layout. Default: generic.
    pub format: WebhookFormat,
    /// HMAC-SHA256 key, from `secret_env` or `secret_file`; without it the request is unsigned.
    pub secret: Option<Secret>,
    /// Time allowed for one request, in seconds. Default: 10.
    pub timeout_secs: u64,
}

impl fmt::Debug for WebhookSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = if self.url_is_secret {
            "<redacted>"
        } else {
            self.url.as_str()
        };
        f.debug_struct("WebhookSinkConfig")
            .field("url", &url)
            .field("format", &self.format)
            .field("secret", &self.secret)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// A secret read from the environment or a file. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the secret, for the one place that sends it (SMTP AUTH, HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One watchlist file: a brand and what it legitimately owns.
#[derive(Debug, Clone)]
pub struct Watchlist {
    /// The file's stem, e.g. `acme` for `watchlists/acme.toml`.
    pub id: String,
    pub file: PathBuf,
    /// Display name of the brand (`[brand] name`). Required.
    pub brand: String,
    /// Brand keywords, lower-case, matched anywhere in a name.
    pub keywords: Vec<String>,
    /// Brand keywords, lower-case, that count only as whole words (between label ends,
    /// hyphens or digits): for short brands that common words contain.
    pub word_keywords: Vec<String>,
    /// The `[[domains]]` entries, at least one; no domain is in two watchlists.
    pub domains: Vec<LegitDomain>,
    /// Names that never alert (ASCII form, lower-case).
    pub allow: Vec<String>,
    /// Sinks that receive this watchlist's alerts; empty means every sink.
    pub sinks: Vec<String>,
    /// Alerts below this severity are recorded but not sent. Default: low.
    pub min_severity: Severity,
    /// Per-watchlist overrides of `[lookalike]`.
    pub lookalike: LookalikeConfig,
}

/// A domain the company owns.
#[derive(Debug, Clone)]
pub struct LegitDomain {
    /// ASCII (punycode) form, lower-case.
    pub name: String,
    /// Default: active.
    pub status: DomainStatus,
    /// Whether its permutations are swept. Default: true for active domains, false for old
    /// and forgotten ones (which still never alert).
    pub watch: bool,
}

/// `status` of a legitimate domain: `"active"`, `"old"` or `"forgotten"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStatus {
    /// In use today.
    Active,
    /// No longer in use but still registered by the company (old brands, campaigns).
    Old,
    /// Registered long ago and easy to forget: parked, defensive or regional registrations.
    Forgotten,
}
