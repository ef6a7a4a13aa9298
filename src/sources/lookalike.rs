//! The `lookalike` source: generates the permutations of every watched legitimate domain,
//! resolves them, and turns each registered one into a finding.
//!
//! Each watchlist is swept on its own interval (with jitter). The time of the last complete
//! sweep is kept in the store, so a restart does not sweep again before the interval is over.
//! Names whose resolution failed (SERVFAIL, timeout) are retried on a shorter schedule and are
//! never reported as registered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::SourceContext;
use crate::config::{Config, LegitDomain, LookalikeConfig, Watchlist};
use crate::detect::{BrandSpec, Match, Matcher, severity_for};
use crate::domain::{Fuzzer, Permutation, PermuteOptions, lists, permute};
use crate::model::{Finding, Indicator, IndicatorKind};
use crate::net::dns::{Records, Resolution, Resolver};
use crate::pipeline::{self, Submitted};

/// Source name used in findings, cursors and logs.
pub const SOURCE: &str = "lookalike";

/// Finding kind of a registered lookalike domain.
pub const KIND: &str = "lookalike-domain";

/// Delay before names whose resolution failed are tried again.
const UNKNOWN_RETRY: Duration = Duration::from_secs(300);

/// Counts of one sweep, logged at its end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepStats {
    pub candidates: usize,
    pub registered: usize,
    pub unknown: usize,
    pub alerted: usize,
}

/// One candidate: a permutation and the legitimate domain it was made from.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub domain: String,
    pub fuzzer: Fuzzer,
    pub imitates: String,
}

/// Runs the source until shutdown.
pub async fn run(mut ctx: SourceContext) {
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut retry: HashMap<String, Vec<Candidate>> = HashMap::new();
    let mut signatures: HashMap<String, String> = HashMap::new();

    loop {
        let config = ctx.config.borrow_and_update().clone();
        for watchlist in &config.watchlists {
            ctx.pipeline.health().register(
                &health_name(watchlist),
                Duration::from_secs(watchlist.lookalike.interval_secs),
            );
        }
        schedule(&ctx, &config, &mut due, &mut signatures);
        let Some((watchlist_id, at)) = due
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(id, at)| (id.clone(), *at))
        else {
            // No watchlist: wait for a reload or shutdown.
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                changed = ctx.config.changed() => if changed.is_err() { return } else { continue },
            }
        };

        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            changed = ctx.config.changed() => { if changed.is_err() { return } continue }
            _ = tokio::time::sleep_until(at) => {}
        }

        let Some(watchlist) = config.watchlists.iter().find(|w| w.id == watchlist_id) else {
            due.remove(&watchlist_id);
            continue;
        };
        let health = ctx.pipeline.health().clone();
        let name = health_name(watchlist);
        health.poll_started(&name);
        let pending_retry = retry.remove(&watchlist_id).unwrap_or_default();
        let full = pending_retry.is_empty() || is_full_sweep_due(&ctx, watchlist);
        let outcome = if full {
            sweep_watchlist(&ctx, &config, watchlist).await
        } else {
            resolve_and_submit(&ctx, &config, watchlist, pending_retry).await
        };
        match outcome {
            Ok((stats, unknown)) => {
                info!(
                    watchlist = %watchlist.id,
                    candidates = stats.candidates,
                    registered = stats.registered,
                    unknown = stats.unknown,
                    alerted = stats.alerted,
                    full,
                    "Lookalike sweep finished."
                );
                let mostly_unknown = stats.unknown > 0 && stats.unknown * 2 >= stats.candidates;
                health.set_collapsed(
                    &name,
                    mostly_unknown.then(|| {
                        format!(
                            "{} of {} candidates could not be resolved",
                            stats.unknown, stats.candidates
                        )
                    }),
                );
                health.poll_succeeded(&name, stats.candidates as u64);
                if mostly_unknown {
                    warn!(
                        watchlist = %watchlist.id,
                        unknown = stats.unknown,
                        candidates = stats.candidates,
                        "Most lookalike candidates could not be resolved; check that the [dns] nameservers answer."
                    );
                }
                if full {
                    record_sweep_time(&ctx, watchlist).await;
                }
                let next = if unknown.is_empty() {
                    next_interval(&watchlist.lookalike)
                } else {
                    retry.insert(watchlist.id.clone(), unknown);
                    UNKNOWN_RETRY.min(next_interval(&watchlist.lookalike))
                };
                info!(watchlist = %watchlist.id, in_secs = next.as_secs(), "Next lookalike sweep scheduled.");
                due.insert(watchlist.id.clone(), Instant::now() + next);
            }
            Err(SweepError::Shutdown) => return,
            Err(error) => {
                health.poll_failed(&name, &error.to_string());
                warn!(watchlist = %watchlist.id, %error, "Lookalike sweep failed, retrying later.");
                due.insert(watchlist.id.clone(), Instant::now() + UNKNOWN_RETRY);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("shutting down")]
    Shutdown,
    #[error("invalid legitimate domain {domain}: {reason}")]
    Permute { domain: String, reason: String },
    #[error("cannot read {path}: {error}")]
    WordList { path: String, error: std::io::Error },
    #[error("the watchlist does not compile into a matcher: {0}")]
    Matcher(String),
    #[error("cannot build the DNS resolver: {0}")]
    Resolver(String),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
}

/// Adds newly configured watchlists to the schedule, drops removed ones, and makes a
/// watchlist whose domains or sweep settings changed due now. Any other watchlist is due at
/// the end of the interval that started with its last stored sweep, or now.
fn schedule(
    ctx: &SourceContext,
    config: &Config,
    due: &mut HashMap<String, Instant>,
    signatures: &mut HashMap<String, String>,
) {
    due.retain(|id, _| config.watchlists.iter().any(|w| &w.id == id));
    for watchlist in &config.watchlists {
        if watchlist.domains.iter().all(|d| !d.watch) {
            due.remove(&watchlist.id);
            continue;
        }
        let current = signature(watchlist);
        let unchanged = signatures.get(&watchlist.id) == Some(&current);
        if unchanged && due.contains_key(&watchlist.id) {
            continue;
        }
        let interval = Duration::from_secs(watchlist.lookalike.interval_secs);
        let wait = match last_sweep(ctx, &watchlist.id) {
            Some((age, stored)) if age < interval && stored == current => interval - age,
            _ => Duration::ZERO,
        };
        if wait == Duration::ZERO {
            info!(watchlist = %watchlist.id, "Lookalike sweep due now.");
        }
        due.insert(watchlist.id.clone(), Instant::now() + wait);
        signatures.insert(watchlist.id.clone(), current);
    }
}

/// Hashes what a sweep of `watchlist` depends on: its watched domains, allow list and
/// `[lookalike]` settings. A change makes the watchlist due at once.
fn signature(watchlist: &Watchlist) -> String {
    let watched: Vec<&str> = watchlist
        .domains
        .iter()
        .filter(|d| d.watch)
        .map(|d| d.name.as_str())
        .collect();
    let text = format!(
        "{watched:?}|{:?}|{:?}",
        watchlist.allow, watchlist.lookalike
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn cursor_key(watchlist: &str) -> String {
    format!("last-sweep:{watchlist}")
}

/// Returns the age of the last complete sweep of a watchlist and the signature it ran with.
fn last_sweep(ctx: &SourceContext, watchlist: &str) -> Option<(Duration, String)> {
    let value = ctx
        .pipeline
        .store()
        .cursor(SOURCE, &cursor_key(watchlist))
        .ok()??;
    let (at, stored) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    let at = at.parse::<i64>().ok()?;
    let age = OffsetDateTime::now_utc().unix_timestamp() - at;
    Some((Duration::from_secs(age.max(0) as u64), stored.to_string()))
}

fn is_full_sweep_due(ctx: &SourceContext, watchlist: &Watchlist) -> bool {
    let interval = Duration::from_secs(watchlist.lookalike.interval_secs);
    last_sweep(ctx, &watchlist.id)
        .is_none_or(|(age, stored)| age >= interval || stored != signature(watchlist))
}

async fn record_sweep_time(ctx: &SourceContext, watchlist: &Watchlist) {
    let store = ctx.pipeline.store().clone();
    let key = cursor_key(&watchlist.id);
    let now = format!(
        "{} {}",
        OffsetDateTime::now_utc().unix_timestamp(),
        signature(watchlist)
    );
    let watchlist = &watchlist.id;
    let result = tokio::task::spawn_blocking(move || store.set_cursor(SOURCE, &key, &now)).await;
    let error = match result {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.to_string(),
        Err(error) => error.to_string(),
    };
    warn!(%watchlist, %error, "Cannot store the time of the last sweep.");
}

/// Name under which a watchlist's sweeps report to the health registry.
pub fn health_name(watchlist: &Watchlist) -> String {
    format!("{SOURCE}:{}", watchlist.id)
}

fn next_interval(config: &LookalikeConfig) -> Duration {
    let jitter = if config.jitter_secs == 0 {
        0
    } else {
        rand::rng().random_range(0..=config.jitter_secs)
    };
    Duration::from_secs(config.interval_secs + jitter)
}

/// Sweeps every watched domain of one watchlist.
pub async fn sweep_watchlist(
    ctx: &SourceContext,
    config: &Config,
    watchlist: &Watchlist,
) -> Result<(SweepStats, Vec<Candidate>), SweepError> {
    // Permuting a large watchlist takes seconds of CPU. Between two domains the task yields
    // and checks for shutdown: a task busy in synchronous code cannot be aborted, and the
    // runtime waits for it before the process exits.
    let options = permute_options(&watchlist.lookalike)?;
    let mut seen = BTreeSet::new();
    let mut candidates = Vec::new();
    for legit in watchlist.domains.iter().filter(|d| d.watch) {
        tokio::task::yield_now().await;
        if ctx.shutdown.is_cancelled() {
            return Err(SweepError::Shutdown);
        }
        add_candidates(watchlist, legit, &options, &mut seen, &mut candidates)?;
    }
    resolve_and_submit(ctx, config, watchlist, candidates).await
}

/// Generates the candidates of every watched domain of a watchlist, without legitimate or
/// allow-listed names. A name made from two legitimate domains keeps the first.
pub fn candidates_for(watchlist: &Watchlist) -> Result<Vec<Candidate>, SweepError> {
    let options = permute_options(&watchlist.lookalike)?;
    let mut seen = BTreeSet::new();
    let mut candidates = Vec::new();
    for legit in watchlist.domains.iter().filter(|d| d.watch) {
        add_candidates(watchlist, legit, &options, &mut seen, &mut candidates)?;
    }
    Ok(candidates)
}

/// Appends the candidates made from one legitimate domain that are not in `seen`.
fn add_candidates(
    watchlist: &Watchlist,
    legit: &LegitDomain,
    options: &PermuteOptions,
    seen: &mut BTreeSet<String>,
    candidates: &mut Vec<Candidate>,
) -> Result<(), SweepError> {
    let permutations = permute(&legit.name, options).map_err(|e| SweepError::Permute {
        domain: legit.name.clone(),
        reason: e.to_string(),
    })?;
    for Permutation { domain, fuzzer } in permutations {
        // A name that is itself a public suffix (`za.com` from `a.com`) cannot be
        // registered by anyone, and it resolves because the suffix's operator runs it.
        if psl::suffix_str(&domain) == Some(domain.as_str())
            || pipeline::is_legitimate(watchlist, &domain)
            || pipeline::is_allow_listed(watchlist, &domain)
            || !seen.insert(domain.clone())
        {
            continue;
        }
        candidates.push(Candidate {
            domain,
            fuzzer,
            imitates: legit.name.clone(),
        });
    }
    Ok(())
}

/// Builds permutation options from a `[lookalike]` section, reading its word lists.
pub fn permute_options(config: &LookalikeConfig) -> Result<PermuteOptions, SweepError> {
    let mut fuzzers: Vec<Fuzzer> = config
        .fuzzers
        .iter()
        .filter_map(|f| Fuzzer::parse(f))
        .collect();
    if fuzzers.is_empty() {
        fuzzers = Fuzzer::DEFAULT.to_vec();
    }
    if config.dictionary && !fuzzers.contains(&Fuzzer::Dictionary) {
        fuzzers.push(Fuzzer::Dictionary);
    }
    if config.tld_swap && !fuzzers.contains(&Fuzzer::TldSwap) {
        fuzzers.push(Fuzzer::TldSwap);
    }
    Ok(PermuteOptions {
        fuzzers,
        dictionary: read_word_list(config.dictionary_file.as_deref(), lists::parse_words)?,
        tlds: read_word_list(config.tld_file.as_deref(), lists::parse_tlds)?,
    })
}

/// Reads a word or TLD list with the parser that `vigie check` and `vigie permute` use.
fn read_word_list(
    path: Option<&std::path::Path>,
    parse: fn(&str, &str) -> lists::ListResult,
) -> Result<Vec<String>, SweepError> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let word_list_error = |error| SweepError::WordList {
        path: path.display().to_string(),
        error,
    };
    let text = std::fs::read_to_string(path).map_err(word_list_error)?;
    parse(&text, &path.display().to_string()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        word_list_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            lines.join("; "),
        ))
    })
}

/// Resolves candidates and submits each registered one; returns the stats and the
/// candidates whose resolution failed.
async fn resolve_and_submit(
    ctx: &SourceContext,
    config: &Config,
    watchlist: &Watchlist,
    candidates: Vec<Candidate>,
) -> Result<(SweepStats, Vec<Candidate>), SweepError> {
    let resolver = Resolver::new(&config.dns).map_err(|e| SweepError::Resolver(e.to_string()))?;
    let matcher = Matcher::compile(&[BrandSpec::from(watchlist)])
        .map_err(|e| SweepError::Matcher(e.to_string()))?;
    let names: Vec<String> = candidates.iter().map(|c| c.domain.clone()).collect();
    let by_name: HashMap<&str, &Candidate> =
        candidates.iter().map(|c| (c.domain.as_str(), c)).collect();
    let mut stats = SweepStats {
        candidates: candidates.len(),
        ..SweepStats::default()
    };
    debug!(watchlist = %watchlist.id, candidates = names.len(), "Resolving lookalike candidates.");

    let report = tokio::select! {
        _ = ctx.shutdown.cancelled() => return Err(SweepError::Shutdown),
        report = resolver.sweep(names, |_| {}) => report,
    };
    for (zone, records) in &report.wildcard_zones {
        debug!(watchlist = %watchlist.id, %zone, ?records, "Wildcard zone: its subdomain candidates are not registrations.");
    }

    let mut unknown = Vec::new();
    for entry in report.entries {
        let Some(candidate) = by_name.get(entry.name.as_str()) else {
            continue;
        };
        if entry.wildcard_zone.is_some() {
            continue;
        }
        let name = entry.name;
        match entry.resolution {
            Resolution::NotRegistered => {}
            Resolution::Unknown(reason) => {
                debug!(domain = %name, %reason, "Resolution failed, will retry.");
                stats.unknown += 1;
                unknown.push((*candidate).clone());
            }
            Resolution::Registered(records) => {
                stats.registered += 1;
                if ctx.shutdown.is_cancelled() {
                    return Err(SweepError::Shutdown);
                }
                let matched = matcher.check(&candidate.domain);
                let finding = finding_for(
                    watchlist,
                    candidate,
                    matched.as_ref(),
                    &records,
                    OffsetDateTime::now_utc(),
                );
                if let Submitted::Recorded { alerted: true, .. } =
                    ctx.pipeline.submit(finding).await?
                {
                    stats.alerted += 1;
                }
            }
        }
    }
    Ok((stats, unknown))
}

/// Builds the finding for a registered lookalike.
pub fn finding_for(
    watchlist: &Watchlist,
    candidate: &Candidate,
    matched: Option<&Match>,
    records: &Records,
    now: OffsetDateTime,
) -> Finding {
    let unicode = idna::domain_to_unicode(&candidate.domain).0;
    let mut techniques = vec![candidate.fuzzer.as_str().to_string()];
    let (base, mut reasons) = match matched {
        Some(found) => {
            for kind in &found.kinds {
                let kind = kind.as_str().to_string();
                if !techniques.contains(&kind) {
                    techniques.push(kind);
                }
            }
            (found.score, found.reasons.clone())
        }
        None => (
            fallback_score(candidate.fuzzer),
            vec![format!(
                "{} of {} ({})",
                candidate.fuzzer.as_str(),
                candidate.imitates,
                describe(candidate.fuzzer)
            )],
        ),
    };
    if !records.mx.is_empty() {
        reasons.push("has MX records: it can send and receive mail".to_string());
    }
    if !records.a.is_empty() || !records.aaaa.is_empty() {
        reasons.push("has address records: it can serve web pages".to_string());
    }
    let score = score(base, records);

    let mut indicators = vec![Indicator::new(IndicatorKind::Domain, &candidate.domain)];
    for ip in records.a.iter().chain(records.aaaa.iter()) {
        indicators.push(Indicator::new(IndicatorKind::Ip, ip));
    }

    let facts = BTreeMap::from([
        ("a".to_string(), records.a.clone()),
        ("aaaa".to_string(), records.aaaa.clone()),
        ("mx".to_string(), records.mx.clone()),
        ("ns".to_string(), records.ns.clone()),
    ]);

    Finding {
        fingerprint: Finding::fingerprint_for(&watchlist.id, "domain", &candidate.domain),
        kind: KIND.to_string(),
        source: SOURCE.to_string(),
        watchlist: watchlist.id.clone(),
        subject: candidate.domain.clone(),
        imitates: candidate.imitates.clone(),
        techniques,
        reasons,
        severity: severity_for(score),
        score,
        indicators,
        facts,
        evidence: json!({ "unicode": unicode, "records": records }),
        observed_at: now,
    }
}

fn describe(fuzzer: Fuzzer) -> &'static str {
    match fuzzer {
        Fuzzer::Addition => "a character added at the end",
        Fuzzer::Bitsquatting => "one bit flipped in a character",
        Fuzzer::Cyrillic => "Latin letters replaced by Cyrillic look-alikes",
        Fuzzer::Homoglyph => "characters replaced by look-alikes",
        Fuzzer::Hyphenation => "a hyphen inserted",
        Fuzzer::Insertion => "a neighbouring key inserted",
        Fuzzer::Omission => "a character left out",
        Fuzzer::Plural => "made plural",
        Fuzzer::Repetition => "a character doubled",
        Fuzzer::Replacement => "a character replaced by a neighbouring key",
        Fuzzer::Subdomain => "a dot inserted",
        Fuzzer::Transposition => "two characters swapped",
        Fuzzer::VowelSwap => "a vowel replaced",
        Fuzzer::Various => "a common variant",
        Fuzzer::Dictionary => "a word added",
        Fuzzer::TldSwap => "another top-level domain",
    }
}

/// Scores a lookalike the matcher does not flag (a name made by a fuzzer that the
/// matcher judges too weak on its own, such as some subdomain splits), by its technique.
fn fallback_score(fuzzer: Fuzzer) -> u8 {
    match fuzzer {
        Fuzzer::Homoglyph | Fuzzer::Cyrillic => 65,
        Fuzzer::Dictionary | Fuzzer::TldSwap | Fuzzer::Various => 55,
        Fuzzer::Subdomain => 35,
        _ => 50,
    }
}

/// Scores a registered lookalike: how close the name is to the brand (the matcher's score),
/// plus what its records let an attacker do: 10 for mail (MX), 5 for web (A or AAAA).
pub fn score(base: u8, records: &Records) -> u8 {
    let mut score = u16::from(base);
    if !records.mx.is_empty() {
        score += 10;
    }
    if !records.a.is_empty() || !records.aaaa.is_empty() {
        score += 5;
    }
    score.min(100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn public_suffix_is_no_candidate() {
        // `a.com` gives `za.com` and `sa.com` (suffixes run by a registry operator) and
        // `a.se`; nobody can register such a name, and it resolves on its own.
        let watchlist = Watchlist {
            id: "a".to_string(),
            file: std::path::PathBuf::from("a.toml"),
            brand: "A".to_string(),
            keywords: Vec::new(),
            word_keywords: Vec::new(),
            domains: vec![LegitDomain {
                name: "a.com".to_string(),
                status: crate::config::DomainStatus::Active,
                watch: true,
            }],
            allow: Vec::new(),
            sinks: Vec::new(),
            min_severity: Severity::Low,
            lookalike: LookalikeConfig {
                interval_secs: 3600,
                jitter_secs: 0,
                fuzzers: Vec::new(),
                dictionary: true,
                dictionary_file: None,
                tld_swap: true,
                tld_file: None,
            },
        };

        let candidates = candidates_for(&watchlist).unwrap();

        assert!(candidates.len() > 100, "{}", candidates.len());
        for candidate in &candidates {
            assert_ne!(
                psl::suffix_str(&candidate.domain),
                Some(candidate.domain.as_str()),
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn mail_capable_homoglyph_is_critical() {
        let records = Records {
            a: BTreeSet::from(["198.51.100.66".to_string()]),
            mx: BTreeSet::from(["mx.examp1e.test".to_string()]),
            ..Records::default()
        };
        assert_eq!(severity_for(score(85, &records)), Severity::Critical);
        assert_eq!(score(95, &records), 100);
        assert_eq!(
            severity_for(score(
                fallback_score(Fuzzer::Subdomain),
                &Records::default()
            )),
            Severity::Low
        );
        assert_eq!(
            severity_for(score(fallback_score(Fuzzer::Omission), &Records::default())),
            Severity::Medium
        );
    }
}
