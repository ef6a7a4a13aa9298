//! The CPU part of following a log, run on the worker pool: a `get-entries` body becomes
//! findings and malformed entries.
//!
//! Each leaf is parsed, its certificate's names are read, and every name goes through the
//! matcher. A certificate with matching names gives one finding per watchlist and
//! registrable domain. So `www.examp1e.com` and `*.examp1e.com` in one certificate are one
//! finding for `examp1e.com`. That is the subject the lookalike watch and the nrd source
//! use, so the three sources add sightings to the same finding.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use time::OffsetDateTime;

use crate::ct::api::{ApiError, parse_entries};
use crate::ct::cert::{CertDetails, CertName, ParsedCert};
use crate::ct::leaf::{EntryType, parse_leaf};
use crate::detect::{Match, Matcher};
use crate::model::{Finding, Indicator, IndicatorKind};
use crate::store::QuarantineItem;

/// Source name used in findings, cursors and logs.
pub const SOURCE: &str = "ct";

/// Fact of a CT finding: the organization (or common name) of the certificate's issuer. A
/// certificate from a new issuer for a known lookalike domain alerts again.
pub const ISSUER_FACT: &str = "certificate_issuer";

/// Names of a certificate written into a finding's evidence; the count is always given.
const EVIDENCE_NAMES: usize = 100;

/// The log a batch comes from, as findings name it.
#[derive(Debug, Clone)]
pub struct LogRef {
    /// Name used in logs and findings.
    pub name: String,
    pub url: String,
}

/// Counts, findings and malformed entries of one batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Entries read, malformed ones included.
    pub entries: u64,
    /// Certificates parsed.
    pub certificates: u64,
    /// DNS names checked.
    pub names: u64,
    /// Certificates with at least one matching name.
    pub matched_certificates: u64,
    /// Log timestamp of the newest leaf read, in milliseconds since the Unix epoch.
    pub last_logged_ms: Option<u64>,
    pub findings: Vec<Finding>,
    pub malformed: Vec<QuarantineItem>,
}

/// A certificate with names that match a watchlist.
struct CertMatch<'a> {
    index: u64,
    timestamp_ms: u64,
    entry_type: EntryType,
    names: &'a [CertName],
    details: CertDetails,
    /// Each matching name (index into `names`) with its match.
    matches: Vec<(usize, Match)>,
}

/// Reads a `get-entries` body. It fails when the body is not a `get-entries` response, and
/// the request is then retried.
pub fn decode_body(body: &[u8]) -> Result<Vec<Result<Vec<u8>, String>>, ApiError> {
    parse_entries(body)
}

/// Parses and matches the entries of a batch whose first entry has index `start`.
pub fn process_entries(
    matcher: &Matcher,
    log: &LogRef,
    start: u64,
    entries: &[Result<Vec<u8>, String>],
    now: OffsetDateTime,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    for (offset, entry) in entries.iter().enumerate() {
        let index = start + offset as u64;
        outcome.entries += 1;
        match entry {
            Ok(leaf) => process_leaf(matcher, log, index, leaf, now, &mut outcome),
            Err(reason) => outcome.malformed.push(QuarantineItem {
                item: index.to_string(),
                reason: reason.clone(),
                raw: Vec::new(),
            }),
        }
    }
    outcome
}

fn process_leaf(
    matcher: &Matcher,
    log: &LogRef,
    index: u64,
    bytes: &[u8],
    now: OffsetDateTime,
    outcome: &mut BatchOutcome,
) {
    let malformed = |reason: String| QuarantineItem {
        item: index.to_string(),
        reason,
        raw: bytes.to_vec(),
    };
    let leaf = match parse_leaf(bytes) {
        Ok(leaf) => leaf,
        Err(error) => {
            outcome.malformed.push(malformed(error.to_string()));
            return;
        }
    };
    let cert = match ParsedCert::parse(&leaf) {
        Ok(cert) => cert,
        Err(error) => {
            outcome.malformed.push(malformed(error.to_string()));
            return;
        }
    };
    outcome.certificates += 1;
    outcome.last_logged_ms = outcome.last_logged_ms.max(Some(leaf.timestamp_ms));

    let set = cert.names();
    if let Some(reason) = &set.san_error {
        // The names of the subject CN are still checked below.
        outcome.malformed.push(malformed(reason.clone()));
    }
    outcome.names += set.names.len() as u64;
    let matches: Vec<(usize, Match)> = set
        .names
        .iter()
        .enumerate()
        .filter_map(|(at, name)| matcher.check(&name.ascii).map(|found| (at, found)))
        .collect();
    if matches.is_empty() {
        return;
    }

    outcome.matched_certificates += 1;
    let found = CertMatch {
        index,
        timestamp_ms: leaf.timestamp_ms,
        entry_type: cert.entry_type(),
        names: &set.names,
        details: cert.details(),
        matches,
    };
    outcome.findings.extend(findings_of(log, &found, now));
}

/// Builds one finding per watchlist and registrable domain among the matching names.
fn findings_of(log: &LogRef, cert: &CertMatch<'_>, now: OffsetDateTime) -> Vec<Finding> {
    let mut groups: BTreeMap<(&str, String), Vec<&(usize, Match)>> = BTreeMap::new();
    for pair in &cert.matches {
        let host = &pair.1.host;
        let domain = psl::domain_str(host).unwrap_or(host).to_string();
        groups
            .entry((pair.1.watchlist.as_str(), domain))
            .or_default()
            .push(pair);
    }
    groups
        .into_iter()
        .map(|((_, domain), group)| finding_of(log, cert, &domain, &group, now))
        .collect()
}

fn finding_of(
    log: &LogRef,
    cert: &CertMatch<'_>,
    domain: &str,
    group: &[&(usize, Match)],
    now: OffsetDateTime,
) -> Finding {
    let best = group
        .iter()
        .map(|(_, found)| found)
        .max_by_key(|found| found.score)
        .expect("a group has at least one match");
    let matched_names: Vec<&CertName> = group.iter().map(|(at, _)| &cert.names[*at]).collect();
    let details = &cert.details;

    let mut finding = best.to_finding(SOURCE, now);
    finding.fingerprint = Finding::fingerprint_for(&best.watchlist, "domain", domain);
    finding.subject = domain.to_string();
    finding.reasons.push(format!(
        "TLS certificate from {} for {}",
        details.issuer_org,
        matched_names
            .iter()
            .map(|name| name.display())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let mut indicators: BTreeSet<Indicator> = BTreeSet::new();
    indicators.insert(Indicator::new(IndicatorKind::Domain, domain));
    for name in &matched_names {
        indicators.insert(Indicator::new(IndicatorKind::Domain, name.ascii.clone()));
    }
    finding.indicators = indicators.into_iter().collect();
    finding.facts = BTreeMap::from([(
        ISSUER_FACT.to_string(),
        BTreeSet::from([details.issuer_org.clone()]),
    )]);
    finding.evidence = evidence(log, cert, group);
    finding
}

fn evidence(log: &LogRef, cert: &CertMatch<'_>, group: &[&(usize, Match)]) -> serde_json::Value {
    let details = &cert.details;
    let format = |at: OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let logged_at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(cert.timestamp_ms) * 1_000_000)
            .map(format)
            .unwrap_or_default();
    let matched: Vec<serde_json::Value> = group
        .iter()
        .map(|(at, found)| {
            let name = &cert.names[*at];
            json!({
                "name": name.display(),
                "unicode": name.unicode,
                "wildcard": name.wildcard,
                "score": found.score,
                "severity": found.severity,
                "kinds": found.kinds,
            })
        })
        .collect();
    let names: Vec<String> = cert
        .names
        .iter()
        .take(EVIDENCE_NAMES)
        .map(CertName::display)
        .collect();
    json!({
        "log": log.name,
        "log_url": log.url,
        "index": cert.index,
        "entry_type": cert.entry_type.as_str(),
        "logged_at": logged_at,
        "issuer": details.issuer,
        "not_before": format(details.not_before),
        "not_after": format(details.not_after),
        "serial": details.serial,
        "sha256": details.sha256,
        "matched": matched,
        "names": names,
        "names_total": cert.names.len(),
    })
}
