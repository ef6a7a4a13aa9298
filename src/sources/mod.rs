//! Sources: one module a source. Each runs as a task on the tokio runtime, reads the current
//! configuration from a watch channel (so that SIGHUP reloads reach it), keeps its cursors in
//! the store, and hands its findings to the [`Pipeline`]. A source never sends an alert itself
//! and never stops another source when it fails.

use std::sync::{Arc, Weak};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::Pipeline;

pub mod ct;
pub mod inbox;
pub mod lookalike;
pub mod nrd;

/// What every source task is started with.
#[derive(Clone)]
pub struct SourceContext {
    pub pipeline: Pipeline,
    pub config: watch::Receiver<Arc<Config>>,
    /// Cancelled on SIGTERM: the source finishes the finding in hand and returns.
    pub shutdown: CancellationToken,
}

pub mod feed;
pub mod http;
pub mod scam_repository;
pub mod social;

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{error, warn};

use crate::detect::text::{TextMatch, context, extract_hosts};
use crate::detect::{BrandSpec, DetectError, Matcher, TextMatcher, TextSpec};
use crate::model::{Finding, Indicator, IndicatorKind};

/// Cursor source under which every web source keeps its health row, keyed by the source's
/// name (`feed:NAME`, `scam_repository:NAME`, `social:NAME`).
pub const HEALTH: &str = "health";

/// Failed reads in a row after which a failing source is logged as an error.
pub const FAILURES_BEFORE_ERROR: u32 = 3;

/// Runs one task per `[KIND.NAME]` table that `select` returns, until shutdown. A reload that
/// adds, removes or changes a table starts, stops or restarts its task.
pub async fn run_named<T, F, Fut>(
    mut ctx: SourceContext,
    select: fn(&Config) -> &BTreeMap<String, T>,
    start: F,
) where
    T: Clone + PartialEq + Send + 'static,
    F: Fn(SourceContext, T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut tasks: BTreeMap<String, (T, CancellationToken, tokio::task::JoinHandle<()>)> =
        BTreeMap::new();
    loop {
        let config = ctx.config.borrow_and_update().clone();
        let wanted = select(&config);
        tasks.retain(|name, (settings, stop, _)| {
            let keep = wanted.get(name) == Some(settings);
            if !keep {
                stop.cancel();
            }
            keep
        });
        for (name, settings) in wanted {
            if tasks.contains_key(name) {
                continue;
            }
            let stop = ctx.shutdown.child_token();
            let task_ctx = SourceContext {
                shutdown: stop.clone(),
                ..ctx.clone()
            };
            let handle = tokio::spawn(start(task_ctx, settings.clone()));
            tasks.insert(name.clone(), (settings.clone(), stop, handle));
        }

        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            changed = ctx.config.changed() => if changed.is_err() { break },
        }
    }
    for (_, (_, stop, handle)) in tasks {
        stop.cancel();
        let _ = handle.await;
    }
}

/// Sleeps for `wait`; returns false when shutdown came first.
pub async fn pause(ctx: &SourceContext, wait: std::time::Duration) -> bool {
    tokio::select! {
        _ = ctx.shutdown.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

/// The domain matcher and the text matcher of one configuration.
pub struct Matchers {
    pub domains: Matcher,
    pub text: TextMatcher,
}

impl Matchers {
    /// Compiles both matchers from the configuration's watchlists.
    pub fn compile(config: &Config) -> Result<Matchers, DetectError> {
        let brands: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
        let texts: Vec<TextSpec> = config.watchlists.iter().map(TextSpec::from).collect();
        Ok(Matchers {
            domains: Matcher::compile(&brands)?,
            text: TextMatcher::compile(&texts)?,
        })
    }
}

/// Keeps the matchers of the configuration in force, compiled again only after a reload.
///
/// Every cache of the process first looks in [`SHARED_MATCHERS`], so the web sources of one
/// configuration hold one compiled copy between them (about 8 MiB for two watchlists)
/// instead of one each.
#[derive(Default)]
pub struct MatcherCache {
    compiled: Option<(Arc<Config>, Arc<Matchers>)>,
}

/// The matchers compiled last and the configuration they come from. The references are weak,
/// so an old configuration and its matchers are freed once no source uses them.
static SHARED_MATCHERS: std::sync::Mutex<Option<(Weak<Config>, Weak<Matchers>)>> =
    std::sync::Mutex::new(None);

impl MatcherCache {
    /// Returns the matchers of `config`, compiling them when the configuration changed and no
    /// other source has compiled them yet.
    pub fn get(&mut self, config: &Arc<Config>) -> Result<Arc<Matchers>, DetectError> {
        if let Some((known, matchers)) = &self.compiled
            && Arc::ptr_eq(known, config)
        {
            return Ok(matchers.clone());
        }
        // The lock is held while compiling, so that two sources reloading at once compile once.
        let mut shared = SHARED_MATCHERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reused = shared.as_ref().and_then(|(known, matchers)| {
            let known = known.upgrade()?;
            Arc::ptr_eq(&known, config).then(|| matchers.upgrade())?
        });
        let matchers = match reused {
            Some(matchers) => matchers,
            None => {
                let matchers = Arc::new(Matchers::compile(config)?);
                *shared = Some((Arc::downgrade(config), Arc::downgrade(&matchers)));
                matchers
            }
        };
        self.compiled = Some((config.clone(), matchers.clone()));
        Ok(matchers)
    }
}

/// One item read by a web source: a feed entry, a scam report page, a post.
#[derive(Debug, Clone, Default)]
pub struct Item {
    /// The source's name, `feed:NAME` and so on; also the finding's `source`.
    pub source: String,
    /// The item's identifier in its source (feed entry id, page URL, post URI).
    pub id: String,
    /// Link at which an analyst reads the item.
    pub link: Option<String>,
    pub title: String,
    /// Every text of the item, fields separated by blank lines.
    pub text: String,
    /// Links the item carries besides `link`.
    pub links: Vec<String>,
    /// Source-specific fields kept in the evidence (author, sender, date, ...).
    pub fields: serde_json::Value,
}

impl Item {
    /// Returns the key under which the item's findings are remembered.
    fn key(&self) -> String {
        self.link
            .clone()
            .unwrap_or_else(|| format!("{}#{}", self.source, self.id))
    }

    fn evidence(&self) -> serde_json::Value {
        serde_json::json!({
            "source": self.source,
            "id": self.id,
            "link": self.link,
            "title": self.title,
            "fields": self.fields,
        })
    }
}

/// Judges one item: a `brand-mention` finding per watchlist its text names, and a
/// `lookalike-domain` finding per host it names or links to that imitates a brand. A domain
/// finding has the fingerprint the lookalike and nrd sources give the same domain.
pub fn item_findings(
    matchers: &Matchers,
    config: &Config,
    item: &Item,
    now: OffsetDateTime,
) -> Vec<Finding> {
    item_findings_where(matchers, config, item, now, |_| true)
}

/// Like [`item_findings`], keeping only the text matches that `keep` accepts; domain findings
/// are all kept.
pub fn item_findings_where(
    matchers: &Matchers,
    config: &Config,
    item: &Item,
    now: OffsetDateTime,
    keep: impl Fn(&TextMatch) -> bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for found in matchers.text.check(&item.text).iter().filter(|m| keep(m)) {
        if let Some(finding) = mention_finding(config, item, found, now) {
            findings.push(finding);
        }
    }

    let mut hosts = extract_hosts(&item.text);
    for link in item.link.iter().chain(&item.links) {
        for host in extract_hosts(link) {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
    }
    for host in hosts {
        let Some(found) = matchers.domains.check(&host) else {
            continue;
        };
        let mut finding = found.to_finding(&item.source, now);
        let place = item
            .text
            .to_lowercase()
            .find(&host)
            .filter(|at| {
                item.text.is_char_boundary(*at) && item.text.is_char_boundary(at + host.len())
            })
            .map(|at| context(&item.text, at..at + host.len()));
        let mut reason = format!("named in {} item '{}'", item.source, item.title);
        if let Some(place) = &place {
            reason.push_str(&format!(": \"{place}\""));
        }
        finding.reasons.push(reason);
        if let Some(link) = &item.link {
            finding
                .indicators
                .push(Indicator::new(IndicatorKind::Url, link.clone()));
        }
        if let Some(evidence) = finding.evidence.as_object_mut() {
            evidence.insert("item".to_string(), item.evidence());
            evidence.insert("context".to_string(), place.into());
        }
        findings.push(finding);
    }
    findings
}

fn mention_finding(
    config: &Config,
    item: &Item,
    found: &TextMatch,
    now: OffsetDateTime,
) -> Option<Finding> {
    let watchlist = config.watchlists.iter().find(|w| w.id == found.watchlist)?;
    // The company's own pages name it: a mention there is legitimate.
    if let Some(host) = item.link.as_deref().and_then(link_host)
        && (crate::pipeline::is_legitimate(watchlist, &host)
            || crate::pipeline::is_allow_listed(watchlist, &host))
    {
        return None;
    }
    let key = item.key();
    let mut reasons = vec![format!("named in {} item '{}'", item.source, item.title)];
    reasons.extend(found.reasons.iter().cloned());
    let indicators = item
        .link
        .iter()
        .map(|link| Indicator::new(IndicatorKind::Url, link.clone()))
        .collect();
    Some(Finding {
        fingerprint: Finding::fingerprint_for(&found.watchlist, "mention", &key),
        kind: "brand-mention".to_string(),
        source: item.source.clone(),
        watchlist: found.watchlist.clone(),
        subject: key,
        imitates: found.imitates().to_string(),
        techniques: found
            .kinds()
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
        reasons,
        severity: found.severity,
        score: found.score,
        indicators,
        facts: Default::default(),
        evidence: serde_json::json!({
            "item": item.evidence(),
            "hits": found.hits,
            "scam_words": found.scam_words,
        }),
        observed_at: now,
    })
}

/// Returns the lower-case host of an http(s) URL.
pub fn link_host(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_lowercase())
}

/// State of a source in its health row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// The last read succeeded.
    Ok,
    /// The last read failed (network, HTTP status, malformed response).
    Failing,
    /// The source responded, but its items could not be read (a page whose selectors match
    /// nothing), so it sees nothing while it seems to work.
    Blind,
}

/// The health row of one source, stored as JSON under cursor `health` / the source's name,
/// for the health endpoint and `vigie` commands to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub state: HealthState,
    /// Since when the source is in this state.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// Failed or blind reads in a row; 0 when the last one succeeded.
    pub consecutive_failures: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success: Option<OffsetDateTime>,
    /// The last error, naming the item and the fix; none after a success.
    pub last_error: Option<String>,
    /// Items read by the last successful read.
    pub items: u64,
}

/// Outcome of one read, for the health row.
pub enum Outcome {
    Ok { items: u64 },
    Failed(String),
    Blind(String),
}

/// Updates the health of `source` after one read: the daemon's health registry (which
/// serves `/healthz` and raises the blind-source alert) and the stored health row. Logs a
/// failing or blind source. Returns the row written.
pub async fn record_health(
    ctx: &SourceContext,
    source: &str,
    outcome: Outcome,
) -> Result<SourceHealth, crate::pipeline::PipelineError> {
    let registry = ctx.pipeline.health();
    match &outcome {
        Outcome::Ok { items } => {
            registry.set_collapsed(source, None);
            registry.poll_succeeded(source, *items);
        }
        Outcome::Failed(reason) => registry.poll_failed(source, reason),
        Outcome::Blind(reason) => {
            registry.set_collapsed(source, Some(reason.clone()));
            registry.poll_failed(source, reason);
        }
    }
    let store = ctx.pipeline.store().clone();
    let key = source.to_string();
    let previous = {
        let store = store.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || store.cursor(HEALTH, &key))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
            .and_then(|text| serde_json::from_str::<SourceHealth>(&text).ok())
    };
    let now = OffsetDateTime::now_utc();
    let health = next_health(previous, outcome, now);
    match (&health.state, &health.last_error) {
        (HealthState::Blind, Some(reason)) => {
            error!(source, reason = %reason, "A source is blind: it responds but its items can no longer be read.");
        }
        (HealthState::Failing, Some(reason))
            if health.consecutive_failures >= FAILURES_BEFORE_ERROR =>
        {
            error!(source, failures = health.consecutive_failures, reason = %reason, "A source keeps failing; it sees nothing until this is fixed.");
        }
        (HealthState::Failing, Some(reason)) => {
            warn!(source, failures = health.consecutive_failures, reason = %reason, "A source read failed; retrying later.");
        }
        _ => {}
    }
    let text = serde_json::to_string(&health).unwrap_or_default();
    tokio::task::spawn_blocking(move || store.set_cursor(HEALTH, &key, &text)).await??;
    Ok(health)
}

/// Computes the next health row from the previous one and one read's outcome.
pub fn next_health(
    previous: Option<SourceHealth>,
    outcome: Outcome,
    now: OffsetDateTime,
) -> SourceHealth {
    let last_success = previous.as_ref().and_then(|p| p.last_success);
    let (state, error, items) = match outcome {
        Outcome::Ok { items } => (HealthState::Ok, None, items),
        Outcome::Failed(reason) => (HealthState::Failing, Some(reason), 0),
        Outcome::Blind(reason) => (HealthState::Blind, Some(reason), 0),
    };
    let since = match &previous {
        Some(p) if p.state == state => p.since,
        _ => now,
    };
    let failures = match (state, &previous) {
        (HealthState::Ok, _) => 0,
        (_, Some(p)) => p.consecutive_failures.saturating_add(1),
        (_, None) => 1,
    };
    SourceHealth {
        state,
        since,
        consecutive_failures: failures,
        last_success: if state == HealthState::Ok {
            Some(now)
        } else {
            last_success
        },
        last_error: error,
        items: if state == HealthState::Ok {
            items
        } else {
            previous.map_or(0, |p| p.items)
        },
    }
}

/// Reads the health row of `source` from the store.
pub fn health_of(
    store: &crate::store::Store,
    source: &str,
) -> Result<Option<SourceHealth>, crate::store::StoreError> {
    Ok(store
        .cursor(HEALTH, source)?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// Reads the cursor `key` of `source` from the store.
pub async fn get_cursor(
    ctx: &SourceContext,
    source: &str,
    key: &str,
) -> Result<Option<String>, crate::pipeline::PipelineError> {
    let store = ctx.pipeline.store().clone();
    let (source, key) = (source.to_string(), key.to_string());
    Ok(tokio::task::spawn_blocking(move || store.cursor(&source, &key)).await??)
}

/// Writes the cursor `key` of `source`.
pub async fn set_cursor(
    ctx: &SourceContext,
    source: &str,
    key: &str,
    value: &str,
) -> Result<(), crate::pipeline::PipelineError> {
    let store = ctx.pipeline.store().clone();
    let (source, key, value) = (source.to_string(), key.to_string(), value.to_string());
    tokio::task::spawn_blocking(move || store.set_cursor(&source, &key, &value)).await??;
    Ok(())
}

/// Tells whether any key of an item was processed before by `source`.
pub async fn seen_any(
    ctx: &SourceContext,
    source: &str,
    keys: &[String],
) -> Result<bool, crate::pipeline::PipelineError> {
    let store = ctx.pipeline.store().clone();
    let (source, keys) = (source.to_string(), keys.to_vec());
    Ok(tokio::task::spawn_blocking(move || store.seen_any(&source, &keys)).await??)
}

/// Marks the keys of an item processed by `source`, after its findings were submitted.
pub async fn mark_seen(
    ctx: &SourceContext,
    source: &str,
    keys: &[String],
) -> Result<(), crate::pipeline::PipelineError> {
    let store = ctx.pipeline.store().clone();
    let (source, keys) = (source.to_string(), keys.to_vec());
    let now = OffsetDateTime::now_utc();
    tokio::task::spawn_blocking(move || store.mark_seen(&source, &keys, now)).await??;
    Ok(())
}

/// Days an item key is remembered; a feed that brings back an item older than this alerts
/// on it again.
pub const SEEN_DAYS: i64 = 180;

/// Forgets the item keys of `source` older than [`SEEN_DAYS`].
pub async fn prune_seen(
    ctx: &SourceContext,
    source: &str,
) -> Result<usize, crate::pipeline::PipelineError> {
    let store = ctx.pipeline.store().clone();
    let source = source.to_string();
    let before = OffsetDateTime::now_utc() - time::Duration::days(SEEN_DAYS);
    Ok(tokio::task::spawn_blocking(move || store.prune_seen(&source, before)).await??)
}

/// Builds the HTTP client of a source from its settings; host names are resolved through
/// `[dns]`.
pub fn http_client(
    settings: &crate::config::FetchSettings,
    dns: &crate::config::DnsConfig,
) -> Result<http::HttpClient, http::HttpError> {
    let resolver =
        crate::net::dns::Resolver::new(dns).map_err(|error| http::HttpError::Transport {
            url: String::new(),
            reason: format!("cannot set up the [dns] resolver: {error}"),
        })?;
    http::HttpClient::new(
        http::HttpSettings {
            user_agent: settings.user_agent.clone(),
            timeout: std::time::Duration::from_secs(settings.timeout_secs),
            max_bytes: settings.max_bytes,
            max_redirects: settings.max_redirects,
            allow_private_addresses: settings.allow_private_addresses,
        },
        std::sync::Arc::new(resolver),
    )
}

/// Returns the keys of an item's text for the seen-items table: a SHA-256 of its words, so
/// that the same text under a new id or link is known.
pub fn text_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    format!(
        "text:{}",
        hex::encode(&Sha256::digest(words.join(" ").as_bytes())[..16])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, brand: &str) -> Arc<Config> {
        std::fs::create_dir_all(dir.join("watchlists")).unwrap();
        std::fs::write(
            dir.join("watchlists/acme.toml"),
            format!("[brand]\nname = \"{brand}\"\n\n[[domains]]\nname = \"acme-bank.test\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("vigie.toml"),
            "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n\
             [sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
        )
        .unwrap();
        Arc::new(crate::config::load(&dir.join("vigie.toml")).unwrap())
    }

    #[test]
    fn sources_share_one_compiled_matcher() {
        let dir = tempfile::tempdir().unwrap();
        let first = config(dir.path(), "Acme Bank");
        let (mut feed, mut social) = (MatcherCache::default(), MatcherCache::default());
        let a = feed.get(&first).unwrap();
        let b = social.get(&first).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one copy for one configuration");

        // A reload gives a new configuration: compiled again, and shared again.
        let reloaded = config(dir.path(), "Acme Bank Group");
        let c = feed.get(&reloaded).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&c, &social.get(&reloaded).unwrap()));

        // Once no cache keeps a reference to the old matchers, they are freed.
        let old = Arc::downgrade(&a);
        drop((a, b));
        assert!(old.upgrade().is_none());
    }
}
