//! Compilation of brand specs into the matcher's indexes.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind as AcMatchKind};

use super::fold::{check_host_syntax, fold};
use super::{BrandSpec, DetectError, Match};
use crate::domain::{PermuteOptions, permute};

/// Keywords of fewer folded letters than this get no one-edit variants: at four letters and
/// below, a variant is too often an ordinary word.
pub(crate) const MIN_TYPO_KEYWORD_LEN: usize = 5;

/// Keywords of this many folded letters or fewer count only as whole words.
pub(crate) const SHORT_KEYWORD_LEN: usize = 4;

/// Letters a one-edit variant may add or put in place of another. Digits and hyphens are not
/// needed: folding turns them into letters or word boundaries.
const VARIANT_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz";

/// Words that scam hosts add to a brand name; a match next to one of them scores higher.
const RISK_WORDS: &[&str] = &[
    "access",
    "account",
    "accounts",
    "airdrop",
    "alert",
    "app",
    "auth",
    "bank",
    "banking",
    "billing",
    "bonus",
    "claim",
    "confirm",
    "connect",
    "customer",
    "dapp",
    "delivery",
    "gift",
    "giveaway",
    "help",
    "helpdesk",
    "invoice",
    "kyc",
    "limited",
    "locked",
    "login",
    "logon",
    "mail",
    "mint",
    "notice",
    "online",
    "parcel",
    "password",
    "pay",
    "payment",
    "portal",
    "promo",
    "recover",
    "recovery",
    "refund",
    "reset",
    "restore",
    "reward",
    "secure",
    "security",
    "service",
    "session",
    "signin",
    "signon",
    "support",
    "suspended",
    "sync",
    "token",
    "track",
    "tracking",
    "unlock",
    "update",
    "validate",
    "verification",
    "verify",
    "wallet",
    "webmail",
];

/// Edit that derives a pattern of the keyword automaton from its keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
    Exact,
    Omission,
    Insertion,
    Replacement,
    Transposition,
}

impl Edit {
    pub fn describe(self) -> &'static str {
        match self {
            Edit::Exact => "exact",
            Edit::Omission => "one letter left out",
            Edit::Insertion => "one letter added",
            Edit::Replacement => "one letter replaced",
            Edit::Transposition => "two letters swapped",
        }
    }
}

/// One keyword a pattern stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatternRef {
    pub keyword: u32,
    pub edit: Edit,
    /// Whether the edit changes the keyword's first letter.
    pub first_letter: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct LegitEntry {
    pub ascii: String,
    /// The registrable label, e.g. `example` for `www.example.co.uk`.
    pub label: String,
    /// The public suffix, e.g. `co.uk`.
    pub suffix: String,
}

#[derive(Debug, Clone)]
pub(crate) struct BrandEntry {
    pub id: String,
    pub brand: String,
    pub legit: Vec<LegitEntry>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeywordEntry {
    pub brand: u32,
    /// The keyword as written, lower-case.
    pub text: String,
    pub folded: String,
    /// Whether the keyword counts only between word boundaries.
    pub whole_word: bool,
    /// The legitimate domain this keyword is the label of, if any.
    pub legit: Option<u32>,
}

/// A legitimate domain of one brand, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LegitRef {
    pub brand: u32,
    pub legit: u32,
}

/// The compiled watchlists: every index one check needs.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub(crate) brands: Vec<BrandEntry>,
    pub(crate) keywords: Vec<KeywordEntry>,
    pub(crate) keyword_automaton: AhoCorasick,
    pub(crate) pattern_refs: Vec<Vec<PatternRef>>,
    pub(crate) risk_automaton: AhoCorasick,
    pub(crate) risk_words: Vec<String>,
    /// Legitimate domains (ASCII) to the brands that own them.
    pub(crate) legit_hosts: HashMap<String, Vec<u32>>,
    /// Allow-listed names (ASCII) to the brands that allow them.
    pub(crate) allow_hosts: HashMap<String, Vec<u32>>,
    /// Registrable labels of legitimate domains.
    pub(crate) legit_labels: HashMap<String, Vec<LegitRef>>,
    /// First label of each legitimate domain.
    pub(crate) legit_first_labels: HashMap<String, Vec<LegitRef>>,
    /// Hosts the permutation engine makes, to their source domain and fuzzer name.
    pub(crate) permutations: HashMap<String, Vec<(LegitRef, &'static str)>>,
}

impl Matcher {
    /// Compiles the watchlists into one matcher.
    ///
    /// Fails on the first legitimate or allow-listed domain that is not a valid domain name,
    /// on a keyword with no letter, and on a watchlist with neither keyword nor domain.
    pub fn compile(specs: &[BrandSpec]) -> Result<Matcher, DetectError> {
        // Built here rather than on the first check, so that checks have an even cost.
        super::words::dictionary();
        let mut builder = Builder::default();
        for spec in specs {
            builder.add_brand(spec)?;
        }
        builder.finish()
    }

    /// Judges one domain, host name or URL; `None` when it imitates no watchlist, is an IP
    /// address, or cannot be read as a host name.
    pub fn check(&self, input: &str) -> Option<Match> {
        self.check_input(input).ok().flatten()
    }

    /// Judges one input like [`Matcher::check`], and returns why an input could not be read.
    pub fn check_input(&self, input: &str) -> Result<Option<Match>, DetectError> {
        super::scan::check_input(self, input)
    }

    /// Number of brands compiled.
    pub fn brand_count(&self) -> usize {
        self.brands.len()
    }

    /// Number of patterns in the keyword automaton (keywords and their one-edit variants).
    pub fn pattern_count(&self) -> usize {
        self.pattern_refs.len()
    }
}

#[derive(Default)]
struct Builder {
    permutations: HashMap<String, Vec<(LegitRef, &'static str)>>,
    brands: Vec<BrandEntry>,
    keywords: Vec<KeywordEntry>,
    patterns: HashMap<String, Vec<PatternRef>>,
    legit_hosts: HashMap<String, Vec<u32>>,
    allow_hosts: HashMap<String, Vec<u32>>,
    legit_labels: HashMap<String, Vec<LegitRef>>,
    legit_first_labels: HashMap<String, Vec<LegitRef>>,
}

impl Builder {
    fn add_brand(&mut self, spec: &BrandSpec) -> Result<(), DetectError> {
        let brand = self.brands.len() as u32;
        if spec.keywords.is_empty() && spec.legitimate.is_empty() {
            return Err(DetectError::EmptyWatchlist {
                watchlist: spec.id.clone(),
            });
        }

        let mut legit = Vec::new();
        for name in &spec.legitimate {
            let entry = normalize_domain(&spec.id, name)?;
            let at = LegitRef {
                brand,
                legit: legit.len() as u32,
            };
            push_unique(&mut self.legit_hosts, entry.ascii.clone(), brand);
            self.legit_labels
                .entry(entry.label.clone())
                .or_default()
                .push(at);
            let first = entry
                .ascii
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string();
            self.legit_first_labels.entry(first).or_default().push(at);
            self.add_permutations(&entry.ascii, at);
            legit.push(entry);
        }
        for name in &spec.allow {
            let entry = normalize_domain(&spec.id, name)?;
            push_unique(&mut self.allow_hosts, entry.ascii, brand);
        }

        let mut keywords: Vec<(String, bool)> = spec
            .keywords
            .iter()
            .map(|k| (k.text.trim().to_lowercase(), k.word_boundary))
            .collect();
        if keywords.is_empty() {
            keywords = legit.iter().map(|l| (l.label.clone(), false)).collect();
        }
        for (text, word_boundary) in keywords {
            let linked = legit
                .iter()
                .position(|l| fold(&l.label) == fold(&text))
                .map(|i| i as u32);
            self.add_keyword(spec, brand, text, word_boundary, linked)?;
        }

        self.brands.push(BrandEntry {
            id: spec.id.clone(),
            brand: spec.brand.clone(),
            legit,
        });
        Ok(())
    }

    /// Hashes every name the permutation engine makes from `domain` (its default fuzzers), so
    /// that such a name is caught exactly, with its fuzzer as the reason.
    fn add_permutations(&mut self, domain: &str, at: LegitRef) {
        let permutations = match permute(domain, &PermuteOptions::default()) {
            Ok(permutations) => permutations,
            Err(error) => {
                // The keyword and swap indexes still cover this domain.
                tracing::debug!(%domain, %error, "No permutations for a legitimate domain.");
                return;
            }
        };
        for permutation in permutations {
            let hits = self.permutations.entry(permutation.domain).or_default();
            if !hits.iter().any(|(known, _)| *known == at) {
                hits.push((at, permutation.fuzzer.as_str()));
            }
        }
    }

    fn add_keyword(
        &mut self,
        spec: &BrandSpec,
        brand: u32,
        text: String,
        word_boundary: bool,
        legit: Option<u32>,
    ) -> Result<(), DetectError> {
        // Keywords in Unicode are compared through their folded form like labels are.
        let folded = fold(&text);
        let letters = folded.chars().count();
        if letters < 2 {
            return Err(DetectError::InvalidKeyword {
                watchlist: spec.id.clone(),
                keyword: text,
                reason: "fewer than two letters remain after folding; use the brand name"
                    .to_string(),
            });
        }
        if self
            .keywords
            .iter()
            .any(|k| k.brand == brand && k.folded == folded)
        {
            return Ok(());
        }

        let keyword = self.keywords.len() as u32;
        let whole_word = word_boundary || letters <= SHORT_KEYWORD_LEN;
        self.add_pattern(folded.clone(), keyword, Edit::Exact, false);
        if letters >= MIN_TYPO_KEYWORD_LEN {
            // Variants shorter than a typo-able keyword are ordinary short words too often.
            for (variant, edit, first_letter) in one_edit_variants(&folded) {
                if variant.chars().count() >= MIN_TYPO_KEYWORD_LEN {
                    self.add_pattern(variant, keyword, edit, first_letter);
                }
            }
        }
        self.keywords.push(KeywordEntry {
            brand,
            text,
            folded,
            whole_word,
            legit,
        });
        Ok(())
    }

    fn add_pattern(&mut self, pattern: String, keyword: u32, edit: Edit, first_letter: bool) {
        let refs = self.patterns.entry(pattern).or_default();
        let new = PatternRef {
            keyword,
            edit,
            first_letter,
        };
        match refs.iter_mut().find(|r| r.keyword == keyword) {
            None => refs.push(new),
            // The same string reached by two edits keeps the more telling one: exact
            // first, then an edit that leaves the first letter alone.
            Some(old) if edit == Edit::Exact || (old.first_letter && !first_letter) => *old = new,
            Some(_) => {}
        }
    }

    fn finish(self) -> Result<Matcher, DetectError> {
        let (patterns, pattern_refs): (Vec<String>, Vec<Vec<PatternRef>>) =
            self.patterns.into_iter().unzip();
        let keyword_automaton = AhoCorasick::builder()
            .match_kind(AcMatchKind::Standard)
            .build(&patterns)
            .map_err(|e| DetectError::Index(e.to_string()))?;

        let risk_words: Vec<String> = RISK_WORDS.iter().map(|w| w.to_string()).collect();
        let folded_risk: Vec<String> = risk_words.iter().map(|w| fold(w)).collect();
        let risk_automaton = AhoCorasick::builder()
            .match_kind(AcMatchKind::Standard)
            .build(&folded_risk)
            .map_err(|e| DetectError::Index(e.to_string()))?;

        Ok(Matcher {
            brands: self.brands,
            keywords: self.keywords,
            keyword_automaton,
            pattern_refs,
            risk_automaton,
            risk_words,
            legit_hosts: self.legit_hosts,
            allow_hosts: self.allow_hosts,
            legit_labels: self.legit_labels,
            legit_first_labels: self.legit_first_labels,
            permutations: self.permutations,
        })
    }
}

fn push_unique(map: &mut HashMap<String, Vec<u32>>, key: String, brand: u32) {
    let brands = map.entry(key).or_default();
    if !brands.contains(&brand) {
        brands.push(brand);
    }
}

/// Reads a watchlist domain into its ASCII form, registrable label and public suffix.
fn normalize_domain(watchlist: &str, name: &str) -> Result<LegitEntry, DetectError> {
    let invalid = |reason: String| DetectError::InvalidDomain {
        watchlist: watchlist.to_string(),
        domain: name.to_string(),
        reason,
    };
    let trimmed = name.trim().trim_end_matches('.');
    let ascii = idna::domain_to_ascii(trimmed)
        .map_err(|_| invalid("not a valid IDNA domain name; check for stray characters".into()))?;
    if ascii.is_empty() {
        return Err(invalid("empty domain name; remove the entry".to_string()));
    }
    check_host_syntax(&ascii).map_err(invalid)?;
    if let Some(registrable) = psl::domain_str(&ascii) {
        let suffix = psl::suffix_str(&ascii).unwrap_or_default().to_string();
        let label = registrable
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        return Ok(LegitEntry {
            ascii,
            label,
            suffix,
        });
    }
    // A company may own a name that the public suffix list's private section lists, such as
    // a hosting platform's own domain: its first label is the brand label.
    let private = psl::suffix(ascii.as_bytes()).and_then(|s| s.typ()) == Some(psl::Type::Private);
    match ascii.split_once('.') {
        Some((label, suffix)) if private => Ok(LegitEntry {
            label: label.to_string(),
            suffix: suffix.to_string(),
            ascii,
        }),
        _ => Err(invalid(format!(
            "{ascii:?} is a public suffix, not a domain; give a name under it such as example.{ascii}"
        ))),
    }
}

/// Lists every string at one edit from `word`: one letter left out, added, replaced, or two
/// neighbours swapped. Each comes with whether the edit touches the first letter.
fn one_edit_variants(word: &str) -> Vec<(String, Edit, bool)> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let rebuild = |parts: &[char]| parts.iter().collect::<String>();
    for i in 0..chars.len() {
        let mut v = chars.clone();
        v.remove(i);
        out.push((rebuild(&v), Edit::Omission, i == 0));
    }
    for i in 0..=chars.len() {
        for c in VARIANT_ALPHABET.chars() {
            let mut v = chars.clone();
            v.insert(i, c);
            out.push((rebuild(&v), Edit::Insertion, i == 0));
        }
    }
    for i in 0..chars.len() {
        for c in VARIANT_ALPHABET.chars().filter(|c| *c != chars[i]) {
            let mut v = chars.clone();
            v[i] = c;
            out.push((rebuild(&v), Edit::Replacement, i == 0));
        }
    }
    for i in 0..chars.len().saturating_sub(1) {
        if chars[i] != chars[i + 1] {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            out.push((rebuild(&v), Edit::Transposition, i == 0));
        }
    }
    out.retain(|(v, _, _)| v != word);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_cover_each_edit() {
        let variants = one_edit_variants("paypal");
        let has = |s: &str| variants.iter().any(|(v, _, _)| v == s);
        assert!(has("paypl"));
        assert!(has("paypall"));
        assert!(has("paypai"));
        assert!(has("papyal"));
        assert!(!has("paypal"));
    }

    #[test]
    fn public_suffix_rejected_as_legitimate_domain() {
        let err = normalize_domain("acme", "co.uk").unwrap_err();
        assert!(err.to_string().contains("public suffix"), "{err}");
    }

    #[test]
    fn private_suffix_accepted_as_legitimate_domain() {
        let entry = normalize_domain("google", "googleapis.com").unwrap();
        assert_eq!(entry.label, "googleapis");
    }

    #[test]
    fn legitimate_domain_split_on_public_suffix() {
        let entry = normalize_domain("acme", "www.Example.CO.UK.").unwrap();
        assert_eq!(entry.ascii, "www.example.co.uk");
        assert_eq!(entry.label, "example");
        assert_eq!(entry.suffix, "co.uk");
    }
}
