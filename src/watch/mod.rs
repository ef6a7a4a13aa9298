//! The change watch: reads web evidence and ownership for every open finding that has a web
//! host, again and again on the finding's own schedule, and hands each reading to the
//! pipeline as a new sighting of the finding.
//!
//! A reading carries facts (`a`, `aaaa`, `mx`, `ns`, and the namespaced `web.state` (`live`
//! or nothing), `web.login-form`, `web.payment-form`, `web.similarity`, `web.final-host`,
//! `web.address`), a score raised by what the page shows and by what the records gained (a
//! first or a new mail server, a new address), and the evidence entries `web`, `ownership` and
//! `mail`. The store alerts, with the before and after, when a fact gains a value never seen
//! before or the severity rises. So a parked page that turns into a copy of the login page,
//! or a lookalike that gains a mail server, alerts again at a higher severity.
//!
//! A live page is checked every `live_interval_secs`, a parked or for-sale one every
//! `parked_interval_secs`, a host that serves nothing every `unreachable_interval_secs`. The
//! schedule is kept in the store, so a restart does not check everything at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde_json::json;
use time::OffsetDateTime;
use tracing::{debug, info, warn};

use crate::config::{Config, Watchlist};
use crate::detect::severity_for;
use crate::evidence::mx;
use crate::evidence::parked::PageState;
use crate::evidence::rdap::{Bootstrap, RdapClient};
use crate::evidence::similarity::{CLONE_THRESHOLD, RESEMBLES_THRESHOLD};
use crate::evidence::web::{self, CheckContext, Reference, WebEvidence};
use crate::model::{Finding, Indicator, IndicatorKind};
use crate::net::dns::{Records, Resolution};
use crate::net::fetch::Fetcher;
use crate::sources::SourceContext;
use crate::store::{StoredFinding, WebCheck};

/// Source name of the watch's sightings.
pub const SOURCE: &str = "web-watch";

/// Prefix of the reasons the watch writes about the page, so that a new reading replaces the
/// old ones.
const REASON_PREFIX: &str = "page: ";

/// Prefix of the reasons the watch writes about changed records; replaced the same way.
const CHANGE_PREFIX: &str = "records: ";

/// Score at least given to a lookalike that gains its first mail server: it can now receive
/// (and usually send) mail under the brand's look.
pub const MAIL_SCORE: u8 = 60;

/// Points added to the stored score when a lookalike moves to a new mail server or address.
pub const MOVE_POINTS: u8 = 10;

/// Addresses of one host whose network is looked up in RDAP.
const MAX_RDAP_ADDRESSES: usize = 2;

/// Runs the change watch until shutdown. The watcher is built again after a reload and once
/// `[rdap] bootstrap_refresh_secs` have passed, which reads the reference pages and the RDAP
/// bootstrap files again.
pub async fn run(mut ctx: SourceContext) {
    let mut watcher: Option<(Arc<Config>, std::time::Instant, Watcher)> = None;
    loop {
        let config = ctx.config.borrow_and_update().clone();
        if config.evidence.enabled {
            let max_age = Duration::from_secs(config.rdap.bootstrap_refresh_secs.max(60));
            let (built_at, current) = match watcher.take() {
                Some((built, at, w)) if Arc::ptr_eq(&built, &config) && at.elapsed() < max_age => {
                    (at, w)
                }
                _ => (std::time::Instant::now(), Watcher::new(&config).await),
            };
            let now = OffsetDateTime::now_utc();
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                () = current.round(&ctx, now) => {}
            }
            watcher = Some((config.clone(), built_at, current));
        }
        let poll = Duration::from_secs(config.evidence.poll_secs);
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            changed = ctx.config.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// The watch's tools, built from one configuration.
pub struct Watcher {
    config: Arc<Config>,
    fetcher: Option<Fetcher>,
    rdap: Option<RdapClient>,
    references: HashMap<String, Vec<Reference>>,
}

impl Watcher {
    /// Builds the fetcher, reads the reference pages and the RDAP bootstrap files. A part
    /// that fails is logged and left out; the rest still runs.
    pub async fn new(config: &Arc<Config>) -> Watcher {
        let fetcher = match Fetcher::new(&config.fetch, &config.dns) {
            Ok(fetcher) => Some(fetcher),
            Err(error) => {
                warn!(%error, "The change watch cannot fetch pages.");
                None
            }
        };
        let mut watcher = Watcher {
            config: config.clone(),
            fetcher,
            rdap: None,
            references: HashMap::new(),
        };
        if let Some(fetcher) = watcher.fetcher.clone() {
            watcher.references = web::read_references(config, &fetcher, "lookalike pages").await;
            watcher.rdap = rdap_client(config, &fetcher).await;
        }
        watcher
    }

    /// Schedules the findings not scheduled yet, then checks those due at `now`.
    pub async fn round(&self, ctx: &SourceContext, now: OffsetDateTime) {
        if let Err(error) = self.enroll(ctx, now).await {
            warn!(%error, "The change watch cannot read new findings.");
        }
        let store = ctx.pipeline.store().clone();
        let batch = self.config.evidence.batch;
        let due = match tokio::task::spawn_blocking(move || store.due_web_checks(now, batch)).await
        {
            Ok(Ok(due)) => due,
            Ok(Err(error)) => return warn!(%error, "The change watch cannot read its schedule."),
            Err(error) => return warn!(%error, "The change watch cannot read its schedule."),
        };
        if !due.is_empty() {
            debug!(due = due.len(), "Checking web hosts.");
        }
        stream::iter(due)
            .for_each_concurrent(
                self.config.evidence.concurrency,
                |(check, finding)| async move {
                    self.check(ctx, check, finding).await;
                },
            )
            .await;
    }

    async fn enroll(&self, ctx: &SourceContext, now: OffsetDateTime) -> Result<(), String> {
        let store = ctx.pipeline.store().clone();
        let batch = self.config.evidence.batch;
        tokio::task::spawn_blocking(move || {
            for finding in store.unscheduled_findings(batch)? {
                let (host, at) = match web_host(&finding) {
                    Some(host) => (host, now),
                    // Never due: a finding without a host has no page.
                    None => (String::new(), OffsetDateTime::UNIX_EPOCH),
                };
                store.schedule_web_check(finding.id, &host, at, None, None)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }

    /// Checks one finding's host, submits the reading and schedules the next check.
    async fn check(&self, ctx: &SourceContext, check: WebCheck, stored: StoredFinding) {
        let Some(fetcher) = &self.fetcher else {
            return;
        };
        let Some(watchlist) = self
            .config
            .watchlists
            .iter()
            .find(|w| w.id == stored.watchlist)
        else {
            return;
        };
        let reading = self.read(fetcher, watchlist, &check.host, &stored).await;
        let state = reading.web.state;
        let finding = reading.into_finding(&stored);
        let (next, error) = match ctx.pipeline.submit(finding).await {
            Ok(_) => (self.interval(state), None),
            Err(error) => {
                warn!(finding = stored.id, host = %check.host, %error, "Cannot record a web check.");
                let backoff = self.config.evidence.poll_secs << check.failures.min(10);
                (
                    Duration::from_secs(
                        backoff.min(self.config.evidence.unreachable_interval_secs),
                    ),
                    Some(error.to_string()),
                )
            }
        };
        let store = ctx.pipeline.store().clone();
        let host = check.host.clone();
        let at = OffsetDateTime::now_utc() + next;
        let scheduled = tokio::task::spawn_blocking(move || {
            store.schedule_web_check(stored.id, &host, at, Some(state.as_str()), error.as_deref())
        })
        .await;
        if !matches!(scheduled, Ok(Ok(()))) {
            warn!(host = %check.host, "Cannot store the next web check.");
        }
        info!(host = %check.host, state = state.as_str(), next_in_secs = next.as_secs(), "Web host checked.");
    }

    fn interval(&self, state: PageState) -> Duration {
        let evidence = &self.config.evidence;
        Duration::from_secs(match state {
            PageState::Live => evidence.live_interval_secs,
            PageState::Unreachable => evidence.unreachable_interval_secs,
            _ => evidence.parked_interval_secs,
        })
    }

    /// Reads everything about one host: records, page, ownership, mail providers.
    pub async fn read(
        &self,
        fetcher: &Fetcher,
        watchlist: &Watchlist,
        host: &str,
        stored: &StoredFinding,
    ) -> Reading {
        let name = host_name(host);
        let resolution = fetcher.resolver().resolve(name).await;
        let records = match &resolution {
            Resolution::Registered(records) => Some(records.clone()),
            Resolution::NotRegistered => Some(Records::default()),
            Resolution::Unknown(_) => None,
        };
        let nameservers: Vec<String> = records
            .as_ref()
            .map(|r| r.ns.iter().cloned().collect())
            .unwrap_or_default();
        let terms = brand_terms(watchlist);
        let references = self
            .references
            .get(&watchlist.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let context = CheckContext {
            references,
            brand_terms: &terms,
            nameservers: &nameservers,
        };
        let web = web::check_host(fetcher, host, &context).await;
        let ownership = match &self.rdap {
            Some(rdap) if self.ownership_due(stored) => {
                Some(read_ownership(rdap, fetcher, name, records.as_ref()).await)
            }
            _ => None,
        };
        Reading {
            host: host.to_owned(),
            records,
            web,
            ownership,
        }
    }

    fn ownership_due(&self, stored: &StoredFinding) -> bool {
        let read_at = stored
            .evidence
            .get("ownership")
            .and_then(|o| o.get("read_at"))
            .and_then(|t| t.as_str())
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            });
        read_at.is_none_or(|at| {
            OffsetDateTime::now_utc() - at
                >= time::Duration::seconds(self.config.rdap.refresh_secs as i64)
        })
    }
}

/// One reading of a host, before it becomes a sighting.
#[derive(Debug, Clone)]
pub struct Reading {
    pub host: String,
    /// `None` when resolution failed (the record facts are then left as they were).
    pub records: Option<Records>,
    pub web: WebEvidence,
    /// Registration data, when it was due for a refresh.
    pub ownership: Option<serde_json::Value>,
}

impl Reading {
    /// Turns the reading into a sighting of `stored`.
    pub fn into_finding(self, stored: &StoredFinding) -> Finding {
        let (score, web_reasons) = score(stored.score, &self.web);
        let (score, change_reasons) = match &self.records {
            Some(records) => record_changes(stored, records, score),
            None => (score, Vec::new()),
        };
        let mut reasons: Vec<String> = stored
            .reasons
            .iter()
            .filter(|r| !r.starts_with(REASON_PREFIX) && !r.starts_with(CHANGE_PREFIX))
            .cloned()
            .collect();
        reasons.extend(
            web_reasons
                .into_iter()
                .map(|r| format!("{REASON_PREFIX}{r}")),
        );
        reasons.extend(
            change_reasons
                .into_iter()
                .map(|r| format!("{CHANGE_PREFIX}{r}")),
        );

        let mut facts = BTreeMap::new();
        if let Some(records) = &self.records {
            facts.insert("a".to_owned(), records.a.clone());
            facts.insert("aaaa".to_owned(), records.aaaa.clone());
            facts.insert("mx".to_owned(), records.mx.clone());
            facts.insert("ns".to_owned(), records.ns.clone());
        } else {
            // Resolution failed: the stored records stand.
            for name in ["a", "aaaa", "mx", "ns"] {
                if let Some(values) = stored.facts.get(name) {
                    facts.insert(name.to_owned(), values.clone());
                }
            }
        }
        facts.extend(web_facts(&self.web));

        let mut evidence = serde_json::Map::new();
        evidence.insert("web".to_owned(), json!(self.web));
        if let Some(records) = &self.records {
            evidence.insert(
                "mail".to_owned(),
                json!({ "mx": mx::providers(records.mx.iter()) }),
            );
        }
        if let Some(ownership) = self.ownership {
            evidence.insert("ownership".to_owned(), ownership);
        }

        Finding {
            fingerprint: stored.fingerprint.clone(),
            kind: stored.kind.clone(),
            source: SOURCE.to_owned(),
            watchlist: stored.watchlist.clone(),
            subject: stored.subject.clone(),
            imitates: stored.imitates.clone(),
            techniques: stored.techniques.clone(),
            reasons,
            severity: severity_for(score),
            score,
            indicators: indicators(stored, &self.web),
            facts,
            evidence: serde_json::Value::Object(evidence),
            observed_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Raises a finding's score by what its page shows, and says why.
pub fn score(base: u8, web: &WebEvidence) -> (u8, Vec<String>) {
    let mut score = base;
    let mut reasons = Vec::new();
    match web.state {
        PageState::Live => {}
        PageState::Unreachable => return (score, reasons),
        state => {
            let signs = if web.signs.is_empty() {
                String::new()
            } else {
                format!(" ({})", web.signs.join("; "))
            };
            reasons.push(format!("{}{signs}", state.as_str()));
            return (score, reasons);
        }
    }
    if let Some(similar) = &web.similarity {
        let value = similar.similarity.score;
        if value >= CLONE_THRESHOLD {
            score = score.max(90);
            reasons.push(format!(
                "copies the real page {} (similarity {value:.2}: structure {:.2}, text {:.2})",
                similar.reference, similar.similarity.structure, similar.similarity.text
            ));
        } else if value >= RESEMBLES_THRESHOLD {
            score = score.max(75);
            reasons.push(format!(
                "resembles the real page {} (similarity {value:.2})",
                similar.reference
            ));
        }
    }
    let named = !web.brand_terms.is_empty();
    if web.login_form || web.payment_form {
        score = score.max(if named { 85 } else { 70 });
        if web.login_form {
            reasons.push("has a login form".to_owned());
        }
        if web.payment_form {
            reasons.push("asks for card data".to_owned());
        }
    }
    if named {
        score = score.max(60);
        reasons.push(format!("names the brand ({})", web.brand_terms.join(", ")));
    }
    if reasons.is_empty() {
        reasons.push("serves a live page".to_owned());
    }
    (score, reasons)
}

/// Raises `score` for what the records gained since the stored sighting, and returns the
/// reasons.
///
/// Only records the finding already had are compared, so the first reading of a finding that
/// came without records (from CT or a feed) changes nothing, and a value is new only when no
/// earlier sighting had it, so round-robin DNS records raise nothing. A first mail server raises
/// the score to [`MAIL_SCORE`] at least; a new mail server besides or instead of earlier
/// ones, a first address, or a new address raises it to the stored score plus
/// [`MOVE_POINTS`].
pub fn record_changes(stored: &StoredFinding, records: &Records, score: u8) -> (u8, Vec<String>) {
    let mut score = score;
    let mut reasons = Vec::new();
    let moved = stored.score.saturating_add(MOVE_POINTS).min(100);
    let list = |values: &BTreeSet<String>| {
        if values.is_empty() {
            "none".to_owned()
        } else {
            values.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };

    let known = &stored.known_facts;
    if let Some(before) = known.get("mx") {
        let gained: BTreeSet<String> = records.mx.difference(before).cloned().collect();
        if !gained.is_empty() {
            if before.is_empty() {
                score = score.max(MAIL_SCORE);
                reasons.push(format!("now takes mail: MX {}", list(&gained)));
            } else {
                score = score.max(moved);
                reasons.push(format!(
                    "new mail server {} (before: {})",
                    list(&gained),
                    list(before)
                ));
            }
        }
    }

    if known.contains_key("a") || known.contains_key("aaaa") {
        let before: BTreeSet<String> = ["a", "aaaa"]
            .iter()
            .filter_map(|name| known.get(*name))
            .flatten()
            .cloned()
            .collect();
        let gained: BTreeSet<String> = records
            .a
            .iter()
            .chain(records.aaaa.iter())
            .filter(|address| !before.contains(*address))
            .cloned()
            .collect();
        if !gained.is_empty() {
            score = score.max(moved);
            reasons.push(format!(
                "new address {} (before: {})",
                list(&gained),
                list(&before)
            ));
        }
    }
    (score, reasons)
}

/// The namespaced facts of a reading. Only a live page has any: a parked, for-sale or
/// placeholder page, or a host that serves nothing, is kept in the `web` evidence and the
/// reasons, so that a new lookalike's first check is quiet and a page that goes live alerts
/// with the state, forms, similarity, host and address it brings.
fn web_facts(web: &WebEvidence) -> BTreeMap<String, BTreeSet<String>> {
    let live = web.state.is_live();
    let flag = |on: bool| -> BTreeSet<String> {
        (live && on).then(|| "yes".to_owned()).into_iter().collect()
    };
    let when_live = |values: BTreeSet<String>| if live { values } else { BTreeSet::new() };
    let final_host = web
        .final_url
        .iter()
        .filter_map(|u| reqwest::Url::parse(u).ok()?.host_str().map(str::to_owned))
        .collect();
    BTreeMap::from([
        (
            "web.state".to_owned(),
            flag(true).into_iter().map(|_| "live".to_owned()).collect(),
        ),
        ("web.login-form".to_owned(), flag(web.login_form)),
        ("web.payment-form".to_owned(), flag(web.payment_form)),
        (
            "web.similarity".to_owned(),
            when_live(web.similarity.iter().map(|s| s.band.clone()).collect()),
        ),
        ("web.final-host".to_owned(), when_live(final_host)),
        (
            "web.address".to_owned(),
            when_live(web.address.iter().cloned().collect()),
        ),
    ])
}

fn indicators(stored: &StoredFinding, web: &WebEvidence) -> Vec<Indicator> {
    let mut indicators = stored.indicators.clone();
    let mut add = |indicator: Indicator| {
        if !indicators.contains(&indicator) {
            indicators.push(indicator);
        }
    };
    if let Some(address) = &web.address {
        add(Indicator::new(IndicatorKind::Ip, address));
    }
    if web.state.is_live()
        && let Some(url) = &web.final_url
    {
        add(Indicator::new(IndicatorKind::Url, url));
    }
    indicators
}

/// The host whose page a finding is about: its first URL's host (with the URL's port when it
/// is not the scheme's), else its subject when that is a host name under a public suffix.
pub fn web_host(finding: &StoredFinding) -> Option<String> {
    let from_url = finding
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .find_map(|i| {
            let url = reqwest::Url::parse(&i.value).ok()?;
            let host = url.host_str()?;
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        });
    from_url.or_else(|| {
        let subject = finding.subject.trim_end_matches('.').to_ascii_lowercase();
        let is_host = !subject.is_empty()
            && subject.contains('.')
            && subject
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && psl::domain_str(&subject).is_some();
        is_host.then_some(subject)
    })
}

/// The name of `host[:port]`, without the port (and without the brackets of an IPv6 literal).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn brand_terms(watchlist: &Watchlist) -> Vec<String> {
    let mut terms: Vec<String> = vec![watchlist.brand.clone()];
    terms.extend(watchlist.keywords.iter().cloned());
    terms.extend(watchlist.word_keywords.iter().cloned());
    terms.extend(watchlist.domains.iter().map(|d| d.name.clone()));
    terms
}

async fn read_ownership(
    rdap: &RdapClient,
    fetcher: &Fetcher,
    host: &str,
    records: Option<&Records>,
) -> serde_json::Value {
    let mut errors = Vec::new();
    let registrable = psl::domain_str(host).unwrap_or(host).to_owned();
    let domain = match rdap.domain(&registrable).await {
        Ok(found) => Some(found),
        Err(error) => {
            errors.push(error.to_string());
            None
        }
    };
    let addresses: Vec<IpAddr> = records
        .map(|r| {
            r.a.iter()
                .chain(r.aaaa.iter())
                .filter_map(|a| a.parse().ok())
                .filter(|ip| fetcher.policy().check(*ip).is_ok())
                .take(MAX_RDAP_ADDRESSES)
                .collect()
        })
        .unwrap_or_default();
    let mut networks = Vec::new();
    for ip in addresses {
        match rdap.ip(ip).await {
            Ok(found) => networks.push(found),
            Err(error) => errors.push(error.to_string()),
        }
    }
    let read_at = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({ "read_at": read_at, "domain": domain, "networks": networks, "errors": errors })
}

async fn rdap_client(config: &Config, fetcher: &Fetcher) -> Option<RdapClient> {
    if !config.rdap.enabled {
        return None;
    }
    let bootstrap = match &config.rdap.bootstrap_dir {
        Some(dir) => Bootstrap::load(dir),
        None => {
            let cache = config.daemon.state_dir.join("rdap");
            let max_age = Duration::from_secs(config.rdap.bootstrap_refresh_secs);
            Bootstrap::refresh(fetcher, &config.rdap.bootstrap_url, &cache, max_age).await
        }
    };
    match bootstrap {
        Ok(bootstrap) => Some(RdapClient::new(
            fetcher.clone(),
            bootstrap,
            config.rdap.ip_server.clone(),
        )),
        Err(error) => {
            warn!(%error, "RDAP lookups are off until the bootstrap files can be read.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn stored(known: &[(&str, &[&str])]) -> StoredFinding {
        let known_facts: BTreeMap<String, BTreeSet<String>> = known
            .iter()
            .map(|(name, values)| {
                let values = values.iter().map(|v| v.to_string()).collect();
                (name.to_string(), values)
            })
            .collect();
        StoredFinding {
            id: 1,
            fingerprint: "f".into(),
            kind: "lookalike-domain".into(),
            source: "lookalike".into(),
            watchlist: "example".into(),
            subject: "examp1e.test".into(),
            imitates: "example.test".into(),
            techniques: Vec::new(),
            reasons: Vec::new(),
            severity: Severity::Low,
            score: 30,
            indicators: Vec::new(),
            facts: known_facts.clone(),
            evidence: json!({}),
            first_seen: OffsetDateTime::UNIX_EPOCH,
            last_seen: OffsetDateTime::UNIX_EPOCH,
            revision: 1,
            sightings: 1,
            status: "open".into(),
            known_facts,
        }
    }

    fn records(a: &[&str], mx: &[&str]) -> Records {
        Records {
            a: a.iter().map(|v| v.to_string()).collect(),
            mx: mx.iter().map(|v| v.to_string()).collect(),
            ..Records::default()
        }
    }

    #[test]
    fn first_mail_server_raises_to_medium() {
        let before = stored(&[("a", &["198.51.100.7"]), ("mx", &[])]);
        let (score, reasons) = record_changes(
            &before,
            &records(&["198.51.100.7"], &["mx.examp1e.test"]),
            30,
        );
        assert_eq!(score, MAIL_SCORE);
        assert_eq!(severity_for(score), Severity::Medium);
        assert_eq!(reasons, ["now takes mail: MX mx.examp1e.test"]);
    }

    #[test]
    fn values_seen_before_raise_nothing() {
        // Round-robin: the address resolved now was seen by an earlier sighting.
        let before = stored(&[
            ("a", &["198.51.100.7", "198.51.100.8"]),
            ("mx", &["mx.examp1e.test"]),
        ]);
        let (score, reasons) = record_changes(
            &before,
            &records(&["198.51.100.8"], &["mx.examp1e.test"]),
            30,
        );
        assert_eq!((score, reasons.len()), (30, 0));
    }

    #[test]
    fn findings_without_records_are_not_compared() {
        // A finding from CT has no record facts: its first reading is no change.
        let before = stored(&[]);
        let (score, reasons) = record_changes(
            &before,
            &records(&["198.51.100.7"], &["mx.examp1e.test"]),
            30,
        );
        assert_eq!((score, reasons.len()), (30, 0));
    }

    #[test]
    fn first_address_is_a_move() {
        let before = stored(&[("a", &[]), ("aaaa", &[])]);
        let (score, reasons) = record_changes(&before, &records(&["198.51.100.7"], &[]), 30);
        assert_eq!(score, 30 + MOVE_POINTS);
        assert_eq!(reasons, ["new address 198.51.100.7 (before: none)"]);
    }
}
