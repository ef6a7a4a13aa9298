//! The one matcher: judges a domain, host name or URL against the compiled watchlists and
//! returns a score, a severity and the reasons in words.
//!
//! Every source (certificates, newly registered domains, feeds, scam pages, mails, social
//! accounts) calls [`Matcher::check`]. The matcher does no I/O.
//!
//! [`Matcher::compile`] builds all indexes once, so that the cost of one check does not grow
//! with the number of brands:
//!
//! - an Aho-Corasick automaton over every brand keyword in folded form and over every variant
//!   of it at one edit (letter left out, added, replaced or two letters swapped), for keywords
//!   of five folded letters or more. Folding applies the UTS #39 skeleton and the phishers'
//!   digits, removes separators and collapses repeated letters;
//! - a small fixed automaton over the words that scam hosts add to a brand (`login`, `verify`,
//!   `wallet`, ...);
//! - hash maps of the legitimate and allow-listed domains, of the legitimate domains' labels
//!   (for TLD and second-level swaps) and of their first labels (for a legitimate name written
//!   into an unrelated host, `example.com.verify-account.net`);
//! - a hash map of the permutation engine's output for every legitimate domain, so that a name
//!   the engine makes is matched exactly with its fuzzer as the reason.
//!
//! One check folds each label of the host once, runs both automata over it, and looks each
//! label up in the hash maps. A keyword hit is then checked against an English word list:
//! a hit that ordinary words of the label explain (`icloud` in `huaweicloud`, `binance` one
//! edit from `finance`) does not count.

mod fold;
mod index;
mod scan;
pub mod text;
mod words;

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::Watchlist;
use crate::model::{Finding, Indicator, IndicatorKind, Severity};

pub use index::Matcher;
pub use text::{TextMatch, TextMatcher, TextSpec};

/// A brand keyword as the watchlist gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordSpec {
    /// The keyword, e.g. `example`; case and separators are ignored.
    pub text: String,
    /// Whether the keyword counts only as a whole word (between label ends, hyphens or
    /// digits). Inside a longer word it then scores low. Short keywords (four folded letters
    /// or fewer) are always treated so.
    pub word_boundary: bool,
}

impl KeywordSpec {
    /// Makes a keyword that matches anywhere in a label.
    pub fn new(text: impl Into<String>) -> Self {
        KeywordSpec {
            text: text.into(),
            word_boundary: false,
        }
    }
}

/// Brand, keywords and domains of one watchlist, as the matcher compiles them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrandSpec {
    /// Watchlist identifier (the watchlist file's stem).
    pub id: String,
    /// Display name of the brand.
    pub brand: String,
    /// Brand keywords. When empty, the registrable label of each legitimate domain is used
    /// (`example` for `example.co.uk`).
    pub keywords: Vec<KeywordSpec>,
    /// Legitimate domains: these and their subdomains never match.
    pub legitimate: Vec<String>,
    /// Allow-listed names: these and their subdomains never match.
    pub allow: Vec<String>,
}

impl From<&Watchlist> for BrandSpec {
    fn from(watchlist: &Watchlist) -> Self {
        BrandSpec {
            id: watchlist.id.clone(),
            brand: watchlist.brand.clone(),
            keywords: watchlist
                .keywords
                .iter()
                .map(|k| KeywordSpec::new(k.clone()))
                .chain(watchlist.word_keywords.iter().map(|k| KeywordSpec {
                    text: k.clone(),
                    word_boundary: true,
                }))
                .collect(),
            legitimate: watchlist.domains.iter().map(|d| d.name.clone()).collect(),
            allow: watchlist.allow.clone(),
        }
    }
}

/// Technique by which a name imitates a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// The name is one the permutation engine makes from a legitimate domain.
    Permutation,
    /// Same label as a legitimate domain under another top-level domain.
    TldSwap,
    /// Same label as a legitimate domain under another second-level suffix (`com.br`).
    SecondLevelSwap,
    /// A label that reads as the brand but is spelled with look-alike characters.
    Homoglyph,
    /// A label at one edit from the brand keyword.
    Typo,
    /// The brand keyword, or a typo or homoglyph of it, plus other words.
    Combosquat,
    /// The brand keyword inside a longer word.
    EmbeddedBrand,
    /// The brand in a subdomain label of an unrelated domain.
    SubdomainBrand,
    /// A legitimate domain name written into the host of an unrelated domain.
    LegitimateNameInHost,
    /// The registrable label as the brand keyword itself, under a domain the brand does not own.
    BrandAsDomain,
    /// The brand keyword cut in pieces by dots (`myetherwa.llet.com`).
    SplitBrand,
}

impl MatchKind {
    /// Returns the kebab-case name used in JSON and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Permutation => "permutation",
            MatchKind::TldSwap => "tld-swap",
            MatchKind::SecondLevelSwap => "second-level-swap",
            MatchKind::Homoglyph => "homoglyph",
            MatchKind::Typo => "typo",
            MatchKind::Combosquat => "combosquat",
            MatchKind::EmbeddedBrand => "embedded-brand",
            MatchKind::SubdomainBrand => "subdomain-brand",
            MatchKind::LegitimateNameInHost => "legitimate-name-in-host",
            MatchKind::BrandAsDomain => "brand-as-domain",
            MatchKind::SplitBrand => "split-brand",
        }
    }
}

/// A name that imitates a watchlist's brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Identifier of the watchlist matched.
    pub watchlist: String,
    /// The legitimate domain imitated, or the brand's display name when no one domain is.
    pub matched: String,
    /// The input line as given, trimmed.
    pub input: String,
    /// Host name in ASCII (punycode) form.
    pub host: String,
    /// Host name in Unicode form.
    pub unicode: String,
    /// Techniques found, strongest first.
    pub kinds: Vec<MatchKind>,
    /// Fuzzer names of the permutation engine that make this host, if any.
    pub fuzzers: Vec<String>,
    /// Score from 0 to 100.
    pub score: u8,
    pub severity: Severity,
    /// Reasons in words, strongest first.
    pub reasons: Vec<String>,
}

impl Match {
    /// Turns the match into a finding of class `lookalike-domain` seen by `source`.
    pub fn to_finding(&self, source: &str, observed_at: OffsetDateTime) -> Finding {
        let mut techniques: Vec<String> = self.fuzzers.clone();
        techniques.extend(self.kinds.iter().map(|k| k.as_str().to_string()));
        Finding {
            fingerprint: Finding::fingerprint_for(&self.watchlist, "domain", &self.host),
            kind: "lookalike-domain".to_string(),
            source: source.to_string(),
            watchlist: self.watchlist.clone(),
            subject: self.host.clone(),
            imitates: self.matched.clone(),
            techniques,
            reasons: self.reasons.clone(),
            severity: self.severity,
            score: self.score,
            indicators: vec![Indicator::new(IndicatorKind::Domain, self.host.clone())],
            facts: Default::default(),
            evidence: serde_json::json!({ "input": self.input, "unicode": self.unicode }),
            observed_at,
        }
    }
}

/// Maps a score to its severity: 90 and up critical, 70 high, 40 medium, below low.
pub fn severity_for(score: u8) -> Severity {
    match score {
        90.. => Severity::Critical,
        70..=89 => Severity::High,
        40..=69 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// Error of the matcher: a watchlist that cannot compile, or an input that is no host name.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// An input line that contains no usable host name.
    #[error("invalid input {input:?}: {reason}")]
    InvalidInput { input: String, reason: String },
    /// A legitimate or allow-listed domain that is not a valid domain name.
    #[error("watchlist {watchlist}: invalid domain {domain:?}: {reason}")]
    InvalidDomain {
        watchlist: String,
        domain: String,
        reason: String,
    },
    /// A keyword that folds to nothing comparable.
    #[error("watchlist {watchlist}: invalid keyword {keyword:?}: {reason}")]
    InvalidKeyword {
        watchlist: String,
        keyword: String,
        reason: String,
    },
    /// A watchlist with neither keywords nor legitimate domains.
    #[error("watchlist {watchlist}: no keyword and no legitimate domain; add at least one")]
    EmptyWatchlist { watchlist: String },
    /// The keyword automaton could not be built (too many patterns for its size limits).
    #[error("failed to build the keyword index: {0}; use fewer or shorter keywords")]
    Index(String),
}

impl DetectError {
    /// Returns whether the error is about one input line rather than about the watchlists.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, DetectError::InvalidInput { .. })
    }
}
