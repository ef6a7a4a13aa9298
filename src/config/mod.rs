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

mod ct;
mod error;
mod evidence;
mod health;
mod identity;
mod inbox;
mod load;
mod mail;
mod names;
mod nrd;
mod response;
mod secrets;
mod sections;
mod sinks;
mod tls;
mod tree;
mod watchlist;
mod web;

pub use error::{ConfigError, ConfigErrors};
pub use evidence::{
    DEFAULT_USER_AGENT, EvidenceConfig, FetchConfig, RdapConfig, ReferenceLocation, ReferencePage,
};
pub use load::{Loaded, load, load_with_env};
pub use response::{CONTACTS_FILE, LANGUAGES};
pub use secrets::EnvLookup;
pub use sections::FUZZERS;

/// Tells whether `text` is a mail address that the configuration would accept.
pub fn is_mail_address(text: &str) -> bool {
    names::check_mail_address(text).is_ok()
}

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
    /// `[feed.NAME]`: RSS, Atom and JSON feeds, by name.
    pub feeds: BTreeMap<String, FeedConfig>,
    /// `[scam_repository.NAME]`: scam-report sites read with CSS selectors, by name.
    pub scam_repositories: BTreeMap<String, ScamRepositoryConfig>,
    /// `[social.NAME]`: Mastodon instances and Bluesky AppViews searched, by name.
    pub social: BTreeMap<String, SocialConfig>,
    /// `[inbox.NAME]`: mailboxes read over IMAP or as a Maildir, by name.
    pub inboxes: BTreeMap<String, InboxConfig>,
    /// `[intake]`: the HTTP endpoint of the report form; `None` when the section is absent.
    pub intake: Option<IntakeConfig>,
    /// `[mail]`: the company's own mail servers and the free-mail providers.
    pub mail: MailConfig,
    /// `[ct]`: Certificate Transparency logs to follow; `None` when the table is absent.
    pub ct: Option<CtConfig>,
    /// `[fetch]`: the safe fetcher for attacker-controlled pages.
    pub fetch: FetchConfig,
    /// `[evidence]`: the change watch and the reference pages.
    pub evidence: EvidenceConfig,
    /// `[rdap]`: registration data lookups.
    pub rdap: RdapConfig,
    /// Every watchlist file, sorted by file name.
    pub watchlists: Vec<Watchlist>,
    /// `[response]` and the contacts directory.
    pub response: ResponseConfig,
}

/// `[response]`: settings of the response commands (cases, takedowns, warning page,
/// recovery checks), and the contacts directory read from `contacts_file`.
#[derive(Debug, Clone)]
pub struct ResponseConfig {
    /// Folder the warning pages are written to (served by the company's web server).
    /// Default: none; `vigie warning-page publish` then refuses to run.
    pub web_root: Option<PathBuf>,
    /// Folder of template overrides (`warning/LANG.html`, `takedown/LANG.txt`,
    /// `report/case.md`, `report/case.html`); a template missing there is the built-in one.
    /// Default: none, only the built-in templates.
    pub templates_dir: Option<PathBuf>,
    /// The contacts directory. Default: `contacts.toml` in the watchlists folder.
    pub contacts_file: PathBuf,
    /// Whether `contacts_file` was set, which makes a missing file an error.
    pub contacts_file_required: bool,
    /// SMTP sink whose relay sends the takedown notices. Default: the first SMTP sink.
    pub sink: Option<String>,
    /// From address of takedown notices. Default: none; `vigie takedown send` then refuses.
    pub sender: Option<String>,
    /// Reply-To address of takedown notices. Default: the sender.
    pub reply_to: Option<String>,
    /// Name that signs notices and warning pages. Default: the brand of the watchlist.
    pub organization: Option<String>,
    /// Where customers report a scam, shown on the warning page. Default: none.
    pub report_email: Option<String>,
    pub report_url: Option<String>,
    pub report_phone: Option<String>,
    /// Language of notices to contacts that list none, and of the warning page by default.
    /// Default: "en".
    pub language: String,
    /// Hours a takedown notice may go without answer before the SOC is reminded. Default: 48.
    pub answer_hours: u64,
    /// Follow-ups sent without answer after which escalation to a CERT is proposed.
    /// Default: 2.
    pub followups_before_escalation: u32,
    /// Time between two recovery checks of a taken-down item, in seconds. Default: 3600.
    pub recovery_interval_secs: u64,
    /// Time allowed for one HTTP check of a taken-down site, in seconds. Default: 10.
    pub recovery_timeout_secs: u64,
    /// Let recovery checks connect to loopback, private and other non-public addresses.
    /// Default: false (a lookalike pointing at an internal address is never fetched).
    pub recovery_private_addresses: bool,
    /// DKIM selectors that `vigie audit mail-auth` checks: `"selector"` for every
    /// legitimate domain, `"domain:selector"` for one. Default: none.
    pub dkim_selectors: Vec<String>,
    /// The `[[contact]]` entries of the contacts directory, in file order.
    pub contacts: Vec<Contact>,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        ResponseConfig {
            web_root: None,
            templates_dir: None,
            contacts_file: PathBuf::from(CONTACTS_FILE),
            contacts_file_required: false,
            sink: None,
            sender: None,
            reply_to: None,
            organization: None,
            report_email: None,
            report_url: None,
            report_phone: None,
            language: "en".to_string(),
            answer_hours: 48,
            followups_before_escalation: 2,
            recovery_interval_secs: 3600,
            recovery_timeout_secs: 10,
            recovery_private_addresses: false,
            dkim_selectors: Vec::new(),
            contacts: Vec::new(),
        }
    }
}

/// One entry of the contacts directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contact {
    /// Stable id, used on the command line and in the store. Required.
    pub id: String,
    /// Display name. Default: the id.
    pub name: String,
    pub role: ContactRole,
    pub email: Option<String>,
    pub web_form: Option<String>,
    pub phone: Option<String>,
    /// ISO 639-1 codes, the preferred one first. Default: none (the `[response]` language).
    pub languages: Vec<String>,
    /// The way that works best with this contact. Default: email.
    pub preferred: ContactChannel,
    /// ISO 3166 alpha-2 code, upper-case; required for a CERT.
    pub country: Option<String>,
    /// Domains the contact answers for, ASCII lower-case: a hoster's name-server or host
    /// domains, a mail provider's domains, a registry's TLD, a social network's domain.
    pub covers: Vec<String>,
    pub note: String,
}

/// What a contact can do in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContactRole {
    /// People accredited to decide for the company (legal, communication, management).
    Decision,
    /// The owner of a compromised site that hosts the scam.
    SiteOwner,
    Hosting,
    Registrar,
    Registry,
    MailProvider,
    SocialNetwork,
    /// A national CERT or CSIRT, to which a takedown can be escalated.
    Cert,
}

impl ContactRole {
    pub const ALL: [ContactRole; 8] = [
        ContactRole::Decision,
        ContactRole::SiteOwner,
        ContactRole::Hosting,
        ContactRole::Registrar,
        ContactRole::Registry,
        ContactRole::MailProvider,
        ContactRole::SocialNetwork,
        ContactRole::Cert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::Decision => "decision",
            ContactRole::SiteOwner => "site-owner",
            ContactRole::Hosting => "hosting",
            ContactRole::Registrar => "registrar",
            ContactRole::Registry => "registry",
            ContactRole::MailProvider => "mail-provider",
            ContactRole::SocialNetwork => "social-network",
            ContactRole::Cert => "cert",
        }
    }

    pub fn parse(text: &str) -> Option<ContactRole> {
        ContactRole::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// `preferred` of a contact: `"email"`, `"web-form"` or `"phone"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContactChannel {
    Email,
    WebForm,
    Phone,
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

/// HTTP settings of one `[feed.NAME]`, `[scam_repository.NAME]` or `[social.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// Time allowed for one request, in seconds. Default: 30.
    pub timeout_secs: u64,
    /// Largest body accepted, in bytes, after decompression. Default: 5242880 (5 MiB).
    pub max_bytes: u64,
    /// Redirects followed for one request. Default: 5.
    pub max_redirects: usize,
    /// `User-Agent` sent. Default: `vigie/VERSION (scam watch; +URL of the project)`.
    pub user_agent: String,
    /// Lets the source fetch loopback, private and other non-public addresses: for tests and
    /// lab servers only. Default: false.
    pub allow_private_addresses: bool,
}

/// `[feed.NAME]`: one RSS 0.9x/1.0/2.0, Atom or JSON Feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    pub name: String,
    /// http or https URL of the feed. Required.
    pub url: String,
    /// Time between two reads, in seconds. Default: 900.
    pub interval_secs: u64,
    /// Items read from one answer at most; the feed's first items are kept. Default: 500.
    pub max_items: usize,
    pub fetch: FetchSettings,
}

/// `[scam_repository.NAME]`: a scam-report site read with CSS selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScamRepositoryConfig {
    pub name: String,
    /// http or https URL of the first list page. Required.
    pub url: String,
    /// Time between two reads of the site, in seconds. Default: 3600.
    pub interval_secs: u64,
    /// Delay between two requests to the site, in milliseconds. Default: 2000.
    pub delay_ms: u64,
    /// Read and obey the site's robots.txt. Default: true.
    pub robots_txt: bool,
    /// List pages read per visit, following `next_page`. Default: 3.
    pub max_pages: usize,
    /// Item pages read per visit. Default: 50.
    pub max_items: usize,
    /// CSS selector of the links to item pages on a list page. Required.
    pub item_links: String,
    /// CSS selector of the link to the next list page. Default: none (one list page).
    pub next_page: Option<String>,
    /// Item fields by name (`sender`, `reply_to`, `subject`, `body`, `date`, ...), each a CSS
    /// selector on the item page. At least one is required.
    pub fields: BTreeMap<String, String>,
    pub fetch: FetchSettings,
}

/// `network` of a `[social.NAME]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialNetwork {
    /// A Mastodon instance's REST API.
    Mastodon,
    /// A Bluesky AppView's XRPC API.
    Bluesky,
}

/// `[social.NAME]`: one Mastodon instance or Bluesky AppView searched for impersonations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialConfig {
    pub name: String,
    pub network: SocialNetwork,
    /// Base URL: the Mastodon instance, or the Bluesky AppView (default
    /// `https://public.api.bsky.app`).
    pub url: String,
    /// Search terms. Default: each watchlist's brand name and executives.
    pub queries: Vec<String>,
    /// Mastodon hashtags whose timeline is read, without `#`. Default: none.
    pub hashtags: Vec<String>,
    /// Search for accounts. Default: true.
    pub search_accounts: bool,
    /// Search for posts. Default: true.
    pub search_posts: bool,
    /// Result pages read per query and kind. Default: 2.
    pub max_pages: usize,
    /// Results asked per page. Default: 40 (Mastodon), 25 (Bluesky).
    pub page_size: usize,
    /// Time between two rounds of searches, in seconds. Default: 1800.
    pub interval_secs: u64,
    /// Mastodon access token, from `token_env` or `token_file`. Default: none.
    pub token: Option<Secret>,
    /// Bluesky login: handle or e-mail. Default: none (public AppView, no login).
    pub login_identifier: Option<String>,
    /// Bluesky app password, from `password_env` or `password_file`.
    pub password: Option<Secret>,
    /// Bluesky server that creates the session (and then serves the searches). Default:
    /// `https://bsky.social`.
    pub login_url: String,
    pub fetch: FetchSettings,
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

/// `[ct]`: the Certificate Transparency logs to follow and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtConfig {
    /// `log_list_url` or `log_list_path`: a v3 log list (Chrome's or Apple's format).
    /// Default: none, only the `[ct.logs.NAME]` tables are followed.
    pub log_list: Option<LogListLocation>,
    /// Time between two reads of the log list, in seconds. Default: 86400.
    pub log_list_refresh_secs: u64,
    /// States of the listed logs that are followed. Default: usable and qualified.
    pub states: Vec<crate::ct::LogState>,
    /// Entries asked for in one `get-entries` request; a log that serves fewer gets smaller
    /// requests. Default: 256.
    pub batch_size: u64,
    /// `get-entries` requests in flight at once for one log. Default: 2.
    pub parallel_requests: usize,
    /// Time between two `get-sth` calls once a log is read to its head, in seconds; up to a
    /// tenth is taken off at random. Default: 30.
    pub poll_interval_secs: u64,
    /// Whether a log followed for the first time is read from its first entry rather than
    /// from its current head. Default: false.
    pub backfill: bool,
    /// Time allowed for one request, in seconds. Default: 30.
    pub timeout_secs: u64,
    /// Largest response body accepted, in bytes. Default: 67108864 (64 MiB).
    pub max_response_bytes: u64,
    /// Longest wait between two attempts after failures, in seconds. Default: 600.
    pub retry_max_secs: u64,
    /// Threads that parse and match certificates; 0 means one per CPU. Default: 0.
    pub workers: usize,
    /// Extra CA certificates trusted for the log list and the logs over HTTPS, on top of the
    /// system's (a lab or a private log). Default: none.
    pub ca_file: Option<CaFile>,
    /// `[ct.logs.NAME]` tables, by name.
    pub logs: BTreeMap<String, CtLogConfig>,
}

/// Where the log list is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogListLocation {
    /// An http or https URL.
    Url(String),
    /// A local file, relative paths taken from the folder of `vigie.toml`.
    Path(PathBuf),
}

/// `[ct.logs.NAME]`: settings of one log, which the log list may also name, or a log to
/// follow that the list does not have. Unset values fall back to `[ct]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLogConfig {
    /// NAME of the table, used in logs and findings.
    pub name: String,
    /// Base URL of the log, normalized to end with `/`. Required.
    pub url: String,
    /// Whether the log is followed. Default: true.
    pub enabled: bool,
    /// Description shown in logs; default: the log list's, else NAME.
    pub description: Option<String>,
    pub batch_size: Option<u64>,
    pub parallel_requests: Option<usize>,
    pub poll_interval_secs: Option<u64>,
    pub backfill: Option<bool>,
    /// Index to start at when the log has no saved position; overrides `backfill`.
    pub start_index: Option<u64>,
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

impl Eq for CaFile {}

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
    /// Names, numbers and accounts of the company that scammers reuse (`[brand]` keys
    /// `executives`, `products`, `phones`, `ibans`, `addresses`, `official_accounts`,
    /// `scam_words`).
    pub identity: Identity,
}

/// What scammers copy from a company besides its domains, from the `[brand]` table of a
/// watchlist. The text matcher looks for each of these in feeds, scam pages and posts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Executives' names as written, e.g. `Jane Q. Doe`.
    pub executives: Vec<String>,
    /// Product and service names as written.
    pub products: Vec<String>,
    /// The company's phone numbers.
    pub phones: Vec<PhoneNumber>,
    /// The company's IBANs, upper-case, without spaces; each passed the mod-97 check.
    pub ibans: Vec<String>,
    /// The company's postal addresses as written.
    pub addresses: Vec<String>,
    /// Social accounts that the company runs: never reported as impersonations.
    pub official_accounts: Vec<OfficialAccount>,
    /// Words that make a mention of the brand look like a scam. `None` keeps the built-in
    /// list; `Some` replaces it (an empty list turns the scam-word rule off).
    pub scam_words: Option<Vec<String>>,
}

/// A phone number written in international form, `+33 1 23 45 67 89`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// The number as written in the watchlist.
    pub written: String,
    /// Country calling code, digits only (`33`).
    pub country_code: String,
    /// The rest of the number, digits only, without a leading trunk `0` (`123456789`).
    pub national: String,
}

/// An official social account of the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficialAccount {
    /// `mastodon:USER@INSTANCE`, both lower-case.
    Mastodon { username: String, instance: String },
    /// `bluesky:HANDLE` or `bluesky:did:...`, lower-case.
    Bluesky { id: String },
}

impl OfficialAccount {
    /// Tells whether a Mastodon account `username@instance` is this one.
    pub fn is_mastodon(&self, username: &str, instance: &str) -> bool {
        matches!(self, OfficialAccount::Mastodon { username: u, instance: i }
            if u.eq_ignore_ascii_case(username) && i.eq_ignore_ascii_case(instance))
    }

    /// Tells whether a Bluesky account, by handle or DID, is this one.
    pub fn is_bluesky(&self, handle: &str, did: &str) -> bool {
        matches!(self, OfficialAccount::Bluesky { id }
            if id.eq_ignore_ascii_case(handle) || id.eq_ignore_ascii_case(did))
    }
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
