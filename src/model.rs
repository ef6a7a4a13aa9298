//! Types shared by sources, the pipeline, the store and the alert sinks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// How urgent a finding is. Ordered from `Low` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the lower-case name used in configuration and JSON.
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Class of an indicator of compromise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    Domain,
    Ip,
    Url,
    Email,
    Account,
}

/// One indicator (domain, IP address, URL, mail address or account) carried by a finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    pub value: String,
}

impl Indicator {
    pub fn new(kind: IndicatorKind, value: impl Into<String>) -> Self {
        Indicator {
            kind,
            value: value.into(),
        }
    }
}

/// An observation that matched a watchlist.
///
/// `facts` holds the values whose change matters (DNS records for a lookalike domain): the
/// store compares them with the previous sighting, and a fact that gains a value alerts again.
/// `evidence` holds everything else the analyst may want, and is replaced on each sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identity: the same thing seen again has the same fingerprint.
    pub fingerprint: String,
    /// What kind of thing was found, e.g. `lookalike-domain`.
    pub kind: String,
    /// Name of the source that saw it, e.g. `lookalike`.
    pub source: String,
    /// Identifier of the watchlist it matched (the watchlist file's stem).
    pub watchlist: String,
    /// The suspicious item itself, e.g. the lookalike domain in ASCII (punycode) form.
    pub subject: String,
    /// The legitimate domain or brand it imitates.
    pub imitates: String,
    /// Techniques that produce the subject from what it imitates (fuzzer names).
    pub techniques: Vec<String>,
    /// Reasons in words, for the analyst.
    pub reasons: Vec<String>,
    pub severity: Severity,
    /// Score from 0 to 100.
    pub score: u8,
    pub indicators: Vec<Indicator>,
    pub facts: BTreeMap<String, BTreeSet<String>>,
    pub evidence: serde_json::Value,
    pub observed_at: OffsetDateTime,
}

impl Finding {
    /// Computes the fingerprint of a subject of a given class for a watchlist.
    ///
    /// The source is left out on purpose, so that the same domain seen by two sources is one
    /// finding with two sightings.
    pub fn fingerprint_for(watchlist: &str, class: &str, subject: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [watchlist, class, subject] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(&hasher.finalize()[..16])
    }
}

/// Returns `text` with every dot, `http` scheme and `@` made inert, so that an indicator
/// pasted from an alert is not clickable: `hxxps://evil[.]example`.
pub fn defang(text: &str) -> String {
    let mut out = text
        .replace("https://", "hxxps://")
        .replace("http://", "hxxp://");
    out = out.replace('.', "[.]");
    out.replace('@', "[@]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defang_url_and_address() {
        assert_eq!(defang("https://evil.example/a"), "hxxps://evil[.]example/a");
        assert_eq!(defang("ceo@evil.example"), "ceo[@]evil[.]example");
    }

    #[test]
    fn fingerprint_ignores_nothing_but_source() {
        let a = Finding::fingerprint_for("acme", "domain", "acme-login.com");
        let b = Finding::fingerprint_for("acme", "domain", "acme-login.com");
        let c = Finding::fingerprint_for("acme", "domain", "acme-login.net");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 32);
    }
}
