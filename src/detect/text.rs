//! The text matcher. It finds a watchlist's brand names, executives' names, product names,
//! postal addresses, phone numbers and IBANs in free text: feed items, scam-repository pages,
//! social posts and profiles. It also judges social account names that imitate an executive
//! or the brand.
//!
//! [`TextMatcher::compile`] builds every index once; one check then costs time in proportion
//! to the text and the hits, whatever the number of watchlists and entries:
//!
//! - names (brand, keywords, executives, products, addresses) and scam words are matched on
//!   a word stream: the text lower-cased, each non-ASCII letter replaced by its UTS #39
//!   confusable skeleton (which also strips accents, so `Société` reads `societe` and a
//!   Cyrillic `а` reads `a`), and every run of other characters turned into one space. Each
//!   pattern is the folded entry with a space on both sides, so an Aho-Corasick hit is always
//!   a run of whole words;
//! - phone numbers and IBANs are matched on a compact stream that keeps only ASCII letters and
//!   digits, upper-cased, so that spaces, dots and hyphens inside a number do not matter. A hit
//!   counts only when the characters just before and after it in the text are not letters or
//!   digits;
//! - account names are reduced to a key (decorations such as `official`, `support`, digits and
//!   separators removed, then folded like domain labels) and run through an automaton of the
//!   executives' and brand's keys.
//!
//! [`extract_hosts`] takes the host names out of a text, for the domain matcher.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind as AcMatchKind};
use serde::Serialize;
use unicode_normalization::char::is_combining_mark;

use super::fold::fold;
use super::{DetectError, severity_for};
use crate::config::Watchlist;
use crate::model::Severity;

/// Words that make a mention of a brand look like a scam, used when a watchlist gives no
/// `scam_words` of its own.
pub const DEFAULT_SCAM_WORDS: &[&str] = &[
    "account suspended",
    "advance fee",
    "airdrop",
    "bank details",
    "beneficiary",
    "bitcoin",
    "claim",
    "compensation",
    "consignment",
    "crypto",
    "double your",
    "fake",
    "fraud",
    "free",
    "gift card",
    "giveaway",
    "inheritance",
    "investment",
    "kyc",
    "locked",
    "lottery",
    "password",
    "phishing",
    "prize",
    "recover",
    "refund",
    "reward",
    "scam",
    "scammer",
    "seed phrase",
    "telegram",
    "unclaimed",
    "urgent",
    "verify your",
    "wallet",
    "western union",
    "whatsapp",
    "winner",
    "wire transfer",
];

/// Words that impostors add around a name in an account's display name or handle; they are
/// removed before the name is compared.
const DECORATIONS: &[&str] = &[
    "account",
    "admin",
    "airdrop",
    "app",
    "care",
    "ceo",
    "cfo",
    "chairman",
    "coo",
    "corp",
    "cto",
    "customer",
    "desk",
    "dm",
    "fan",
    "founder",
    "giveaway",
    "help",
    "helpdesk",
    "hq",
    "inc",
    "info",
    "live",
    "llc",
    "ltd",
    "news",
    "officiai",
    "official",
    "offical",
    "president",
    "promo",
    "real",
    "service",
    "services",
    "staff",
    "support",
    "team",
    "the",
    "updates",
    "verified",
];

/// Maximum bytes of text judged in one check; the rest is left out. Fetch limits keep real
/// items far below this.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Characters of context kept on each side of a hit.
const CONTEXT_CHARS: usize = 60;

/// Maximum host names taken from one text.
const MAX_HOSTS: usize = 200;

/// Account keys shorter than this match a name only when equal to it.
const MIN_PARTIAL_KEY: usize = 5;

/// Kind of a text hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextKind {
    /// The company's IBAN.
    Iban,
    /// The company's phone number.
    Phone,
    /// An executive's name.
    Executive,
    /// The company's postal address.
    Address,
    /// The brand's display name or one of its keywords.
    Brand,
    /// A product or service name.
    Product,
}

impl TextKind {
    /// Returns the kebab-case name used in JSON and techniques.
    pub fn as_str(self) -> &'static str {
        match self {
            TextKind::Iban => "iban",
            TextKind::Phone => "phone",
            TextKind::Executive => "executive",
            TextKind::Address => "address",
            TextKind::Brand => "brand",
            TextKind::Product => "product",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            TextKind::Iban => "the company's IBAN",
            TextKind::Phone => "the company's phone number",
            TextKind::Executive => "executive name",
            TextKind::Address => "the company's address",
            TextKind::Brand => "brand name",
            TextKind::Product => "product name",
        }
    }

    /// Score of one hit of this kind before the scam-word and several-kinds bonuses.
    fn base_score(self) -> u8 {
        match self {
            TextKind::Iban => 85,
            TextKind::Phone => 75,
            TextKind::Executive | TextKind::Address => 55,
            TextKind::Brand => 50,
            TextKind::Product => 45,
        }
    }
}

/// Added when scam words are in the same text as a hit.
const SCAM_WORD_BONUS: u8 = 20;
/// Added when hits of two kinds or more are in the same text.
const SEVERAL_KINDS_BONUS: u8 = 10;

/// The entries of one watchlist that the text matcher looks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextSpec {
    /// Watchlist identifier.
    pub id: String,
    /// Display name of the brand; matched as a name too.
    pub brand: String,
    /// Brand keywords (matched as whole words in text).
    pub keywords: Vec<String>,
    pub executives: Vec<String>,
    pub products: Vec<String>,
    pub addresses: Vec<String>,
    /// Phone numbers as (country code, national number), digits only.
    pub phones: Vec<(String, String)>,
    /// IBANs, upper-case, without spaces.
    pub ibans: Vec<String>,
    /// `None` uses [`DEFAULT_SCAM_WORDS`].
    pub scam_words: Option<Vec<String>>,
}

impl From<&Watchlist> for TextSpec {
    fn from(watchlist: &Watchlist) -> Self {
        let identity = &watchlist.identity;
        let mut keywords: Vec<String> = watchlist
            .keywords
            .iter()
            .chain(&watchlist.word_keywords)
            .cloned()
            .collect();
        if keywords.is_empty() {
            keywords = watchlist
                .domains
                .iter()
                .filter_map(|d| psl::domain_str(&d.name))
                .filter_map(|d| d.split('.').next())
                .map(str::to_string)
                .collect();
        }
        TextSpec {
            id: watchlist.id.clone(),
            brand: watchlist.brand.clone(),
            keywords,
            executives: identity.executives.clone(),
            products: identity.products.clone(),
            addresses: identity.addresses.clone(),
            phones: identity
                .phones
                .iter()
                .map(|p| (p.country_code.clone(), p.national.clone()))
                .collect(),
            ibans: identity.ibans.clone(),
            scam_words: identity.scam_words.clone(),
        }
    }
}

/// One entry of a watchlist found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextHit {
    pub kind: TextKind,
    /// The watchlist entry as written there.
    pub entry: String,
    /// The text as found, e.g. `J4ne Doe` or `+33 1 23 45 67 89`.
    pub found: String,
    /// Byte range of `found` in the text.
    pub start: usize,
    pub end: usize,
    /// The hit with up to 60 characters on each side, white space collapsed.
    pub context: String,
}

/// A text that names one watchlist's brand, people or numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextMatch {
    pub watchlist: String,
    /// Display name of the brand.
    pub brand: String,
    /// Score from 0 to 100.
    pub score: u8,
    pub severity: Severity,
    /// Reasons in words, strongest first, each quoting its context.
    pub reasons: Vec<String>,
    /// Every hit, one per entry (its first place in the text), strongest kind first.
    pub hits: Vec<TextHit>,
    /// Scam words found in the same text.
    pub scam_words: Vec<String>,
}

impl TextMatch {
    /// Returns the kinds of the hits, strongest first, without repeats.
    pub fn kinds(&self) -> Vec<TextKind> {
        let mut kinds: Vec<TextKind> = self.hits.iter().map(|h| h.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Returns the entry the strongest hit names, e.g. an executive's name.
    pub fn imitates(&self) -> &str {
        self.hits.first().map_or(&self.brand, |h| &h.entry)
    }
}

/// An account whose display name or handle imitates an executive or the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountMatch {
    pub watchlist: String,
    pub brand: String,
    /// [`TextKind::Executive`] or [`TextKind::Brand`].
    pub kind: TextKind,
    /// The executive's name or the brand's name or keyword imitated.
    pub imitates: String,
    /// Whether the account's name, decorations removed, is the name itself.
    pub exact: bool,
    pub score: u8,
    pub severity: Severity,
    pub reasons: Vec<String>,
}

/// One watchlist entry a pattern stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntryRef {
    brand: u32,
    kind: TextKind,
    entry: u32,
}

/// A scam word and the lists that have it: a brand's own list (`Some(brand)`) or the
/// default list (`None`).
type ScamRef = (String, Vec<Option<u32>>);

#[derive(Debug, Clone)]
struct BrandEntry {
    id: String,
    brand: String,
    /// Whether the watchlist replaced the default scam words.
    own_scam_words: bool,
}

/// The compiled watchlists of the text matcher.
#[derive(Debug, Clone)]
pub struct TextMatcher {
    brands: Vec<BrandEntry>,
    /// Entries as written, indexed by [`EntryRef::entry`].
    entries: Vec<String>,
    words: AhoCorasick,
    word_refs: Vec<Vec<EntryRef>>,
    compact: AhoCorasick,
    compact_refs: Vec<Vec<EntryRef>>,
    scam: AhoCorasick,
    /// For each scam-word pattern: the word, and the lists that have it.
    scam_refs: Vec<ScamRef>,
    accounts: AhoCorasick,
    account_refs: Vec<Vec<EntryRef>>,
}

impl TextMatcher {
    /// Compiles the watchlists into one text matcher.
    pub fn compile(specs: &[TextSpec]) -> Result<TextMatcher, DetectError> {
        let mut builder = Builder::default();
        for spec in specs {
            builder.add(spec);
        }
        builder.finish()
    }

    /// Finds every watchlist entry in `text` and judges it per watchlist, strongest first.
    pub fn check(&self, text: &str) -> Vec<TextMatch> {
        let text = truncate(text, MAX_TEXT_BYTES);
        let words = fold_words(text);
        let mut hits: Vec<(u32, TextHit)> = Vec::new();
        self.word_hits(text, &words, &mut hits);
        self.compact_hits(text, &mut hits);
        if hits.is_empty() {
            return Vec::new();
        }
        let scam = self.scam_hits(&words);

        let mut by_brand: HashMap<u32, Vec<TextHit>> = HashMap::new();
        for (brand, hit) in hits {
            let list = by_brand.entry(brand).or_default();
            if !list
                .iter()
                .any(|h| h.kind == hit.kind && h.entry == hit.entry)
            {
                list.push(hit);
            }
        }
        let mut matches: Vec<TextMatch> = by_brand
            .into_iter()
            .map(|(brand, hits)| self.judge(brand, hits, &scam))
            .collect();
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.watchlist.cmp(&b.watchlist)));
        matches
    }

    /// Judges an account by its display name and handle: does it imitate an executive or a
    /// brand? One match per watchlist, strongest first.
    pub fn check_account(&self, display_name: &str, handle: &str) -> Vec<AccountMatch> {
        let mut best: HashMap<u32, AccountMatch> = HashMap::new();
        for (field, raw) in [("display name", display_name), ("handle", handle)] {
            let key = account_key(raw);
            if key.text.is_empty() {
                continue;
            }
            for hit in self.accounts.find_overlapping_iter(&key.text) {
                let exact = hit.start() == 0 && hit.end() == key.text.len();
                let partial = hit.start() == 0 || hit.end() == key.text.len();
                if !(exact || (partial && hit.end() - hit.start() >= MIN_PARTIAL_KEY)) {
                    continue;
                }
                for entry in &self.account_refs[hit.pattern().as_usize()] {
                    let found = self.account_match(*entry, field, raw, &key, exact);
                    let slot = best.entry(entry.brand).or_insert_with(|| found.clone());
                    if found.score > slot.score {
                        *slot = found;
                    }
                }
            }
        }
        let mut matches: Vec<AccountMatch> = best.into_values().collect();
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.watchlist.cmp(&b.watchlist)));
        matches
    }

    /// Number of watchlists compiled.
    pub fn brand_count(&self) -> usize {
        self.brands.len()
    }

    fn account_match(
        &self,
        entry: EntryRef,
        field: &str,
        raw: &str,
        key: &AccountKey,
        exact: bool,
    ) -> AccountMatch {
        let brand = &self.brands[entry.brand as usize];
        let imitates = self.entries[entry.entry as usize].clone();
        let what = if entry.kind == TextKind::Executive {
            "executive"
        } else {
            "brand"
        };
        let mut score: u8 = match (entry.kind, exact) {
            (TextKind::Executive, true) => 80,
            (_, true) => 75,
            (TextKind::Executive, false) => 60,
            (_, false) => 55,
        };
        let mut reasons = vec![if exact {
            format!("{field} '{raw}' reads as {what} '{imitates}'")
        } else {
            format!("{field} '{raw}' contains {what} '{imitates}'")
        }];
        if !key.decorations.is_empty() {
            reasons.push(format!("decorated with '{}'", key.decorations.join("', '")));
        }
        if key.confusable {
            score += 10;
            reasons.push(format!("{field} uses look-alike characters"));
        }
        AccountMatch {
            watchlist: brand.id.clone(),
            brand: brand.brand.clone(),
            kind: entry.kind,
            imitates,
            exact,
            score,
            severity: severity_for(score),
            reasons,
        }
    }

    fn word_hits(&self, text: &str, words: &Folded, out: &mut Vec<(u32, TextHit)>) {
        for hit in self.words.find_overlapping_iter(&words.text) {
            // The pattern's spaces are not part of the name.
            let (start, end) = (hit.start() + 1, hit.end() - 1);
            let range = words.original(start, end);
            for entry in &self.word_refs[hit.pattern().as_usize()] {
                out.push((entry.brand, self.text_hit(*entry, text, range.clone())));
            }
        }
    }

    fn compact_hits(&self, text: &str, out: &mut Vec<(u32, TextHit)>) {
        let compact = fold_compact(text);
        for hit in self.compact.find_overlapping_iter(&compact.text) {
            let range = compact.original(hit.start(), hit.end());
            let before = text[..range.start].chars().next_back();
            let after = text[range.end..].chars().next();
            if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric)
            {
                continue;
            }
            for entry in &self.compact_refs[hit.pattern().as_usize()] {
                out.push((entry.brand, self.text_hit(*entry, text, range.clone())));
            }
        }
    }

    fn text_hit(&self, entry: EntryRef, text: &str, range: std::ops::Range<usize>) -> TextHit {
        TextHit {
            kind: entry.kind,
            entry: self.entries[entry.entry as usize].clone(),
            found: text[range.clone()].to_string(),
            context: context(text, range.clone()),
            start: range.start,
            end: range.end,
        }
    }

    /// Returns the scam words found, each with the lists it belongs to.
    fn scam_hits(&self, words: &Folded) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .scam
            .find_overlapping_iter(&words.text)
            .map(|hit| hit.pattern().as_usize())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    fn judge(&self, brand: u32, mut hits: Vec<TextHit>, scam: &[usize]) -> TextMatch {
        hits.sort_by_key(|h| (h.kind, h.start));
        let entry = &self.brands[brand as usize];
        let list = entry.own_scam_words.then_some(brand);
        let scam_words: Vec<String> = scam
            .iter()
            .filter(|p| self.scam_refs[**p].1.contains(&list))
            .map(|p| self.scam_refs[*p].0.clone())
            .collect();

        let mut score = hits.iter().map(|h| h.kind.base_score()).max().unwrap_or(0);
        let mut reasons: Vec<String> = hits
            .iter()
            .map(|h| {
                format!(
                    "{} '{}' in the text: \"{}\"",
                    h.kind.describe(),
                    h.entry,
                    h.context
                )
            })
            .collect();
        let mut kinds: Vec<TextKind> = hits.iter().map(|h| h.kind).collect();
        kinds.dedup();
        if kinds.len() > 1 {
            score = score.saturating_add(SEVERAL_KINDS_BONUS);
        }
        if !scam_words.is_empty() {
            score = score.saturating_add(SCAM_WORD_BONUS);
            reasons.push(format!("with scam words: '{}'", scam_words.join("', '")));
        }
        let score = score.min(100);
        TextMatch {
            watchlist: entry.id.clone(),
            brand: entry.brand.clone(),
            score,
            severity: severity_for(score),
            reasons,
            hits,
            scam_words,
        }
    }
}

#[derive(Default)]
struct Builder {
    brands: Vec<BrandEntry>,
    entries: Vec<String>,
    words: HashMap<String, Vec<EntryRef>>,
    compact: HashMap<String, Vec<EntryRef>>,
    scam: HashMap<String, ScamRef>,
    accounts: HashMap<String, Vec<EntryRef>>,
}

impl Builder {
    fn add(&mut self, spec: &TextSpec) {
        let brand = self.brands.len() as u32;
        self.brands.push(BrandEntry {
            id: spec.id.clone(),
            brand: spec.brand.clone(),
            own_scam_words: spec.scam_words.is_some(),
        });

        let names = std::iter::once(&spec.brand)
            .chain(&spec.keywords)
            .map(|n| (TextKind::Brand, n))
            .chain(spec.executives.iter().map(|n| (TextKind::Executive, n)))
            .chain(spec.products.iter().map(|n| (TextKind::Product, n)))
            .chain(spec.addresses.iter().map(|n| (TextKind::Address, n)));
        for (kind, name) in names {
            let entry = self.entry(brand, kind, name);
            for variant in name_variants(kind, name) {
                if matches!(kind, TextKind::Executive | TextKind::Brand) {
                    let key = account_key(&variant).text;
                    if !key.is_empty() {
                        push_ref(&mut self.accounts, key, entry);
                    }
                }
                push_ref(&mut self.words, format!(" {variant} "), entry);
            }
        }
        for (country_code, national) in &spec.phones {
            let written = format!("+{country_code} {national}");
            let entry = self.entry(brand, TextKind::Phone, &written);
            for variant in phone_variants(country_code, national) {
                push_ref(&mut self.compact, variant, entry);
            }
        }
        for iban in &spec.ibans {
            let entry = self.entry(brand, TextKind::Iban, iban);
            push_ref(&mut self.compact, iban.to_uppercase(), entry);
        }

        let (words, list): (Vec<String>, Option<u32>) = match &spec.scam_words {
            Some(own) => (own.clone(), Some(brand)),
            None => (
                DEFAULT_SCAM_WORDS.iter().map(|w| w.to_string()).collect(),
                None,
            ),
        };
        for word in words {
            let folded = fold_words(&word).text.trim().to_string();
            if folded.is_empty() {
                continue;
            }
            let slot = self
                .scam
                .entry(format!(" {folded} "))
                .or_insert_with(|| (word.clone(), Vec::new()));
            if !slot.1.contains(&list) {
                slot.1.push(list);
            }
        }
    }

    fn entry(&mut self, brand: u32, kind: TextKind, written: &str) -> EntryRef {
        self.entries.push(written.to_string());
        EntryRef {
            brand,
            kind,
            entry: self.entries.len() as u32 - 1,
        }
    }

    fn finish(self) -> Result<TextMatcher, DetectError> {
        let (words, word_refs) = automaton(self.words)?;
        let (compact, compact_refs) = automaton(self.compact)?;
        let (accounts, account_refs) = automaton(self.accounts)?;
        let (scam_patterns, scam_refs): (Vec<String>, Vec<ScamRef>) = self.scam.into_iter().unzip();
        let scam = build(&scam_patterns)?;
        Ok(TextMatcher {
            brands: self.brands,
            entries: self.entries,
            words,
            word_refs,
            compact,
            compact_refs,
            scam,
            scam_refs,
            accounts,
            account_refs,
        })
    }
}

fn push_ref(map: &mut HashMap<String, Vec<EntryRef>>, pattern: String, entry: EntryRef) {
    let refs = map.entry(pattern).or_default();
    if !refs.contains(&entry) {
        refs.push(entry);
    }
}

type Automaton = (AhoCorasick, Vec<Vec<EntryRef>>);

fn automaton(patterns: HashMap<String, Vec<EntryRef>>) -> Result<Automaton, DetectError> {
    let (patterns, refs): (Vec<String>, Vec<Vec<EntryRef>>) = patterns.into_iter().unzip();
    Ok((build(&patterns)?, refs))
}

fn build(patterns: &[String]) -> Result<AhoCorasick, DetectError> {
    AhoCorasick::builder()
        .match_kind(AcMatchKind::Standard)
        .build(patterns)
        .map_err(|e| DetectError::Index(e.to_string()))
}

/// Folded forms under which a name is matched: the name itself and, for an executive, the
/// name without middle initials (`Jane Q. Doe` is also found as `Jane Doe`).
fn name_variants(kind: TextKind, name: &str) -> Vec<String> {
    let folded = fold_words(name).text.trim().to_string();
    if folded.is_empty() {
        return Vec::new();
    }
    let mut variants = vec![folded.clone()];
    if kind == TextKind::Executive {
        let words: Vec<&str> = folded.split(' ').collect();
        let kept: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, w)| *i == 0 || *i == words.len() - 1 || w.chars().count() > 1)
            .map(|(_, w)| *w)
            .collect();
        if kept.len() >= 2 && kept.len() < words.len() {
            variants.push(kept.join(" "));
        }
    }
    variants
}

/// Digit strings under which a phone number is matched on the compact stream: international
/// (`33123456789`), with the `00` prefix, with a bracketed trunk zero kept (`+33 (0)1 ...`),
/// national with its trunk zero, and the national number alone when it is long enough not to
/// be met by chance.
fn phone_variants(country_code: &str, national: &str) -> Vec<String> {
    let mut variants = vec![
        format!("{country_code}{national}"),
        format!("00{country_code}{national}"),
        format!("{country_code}0{national}"),
        format!("0{national}"),
    ];
    if national.len() >= 9 {
        variants.push(national.to_string());
    }
    variants
}

/// A folded text and, for each byte of it, the byte range of the character it came from.
#[derive(Debug, Default)]
struct Folded {
    text: String,
    starts: Vec<usize>,
    ends: Vec<usize>,
}

impl Folded {
    fn push(&mut self, c: char, start: usize, end: usize) {
        self.text.push(c);
        for _ in 0..c.len_utf8() {
            self.starts.push(start);
            self.ends.push(end);
        }
    }

    /// Returns the range of the original text that folded bytes `start..end` came from.
    fn original(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        self.starts[start]..self.ends[end - 1]
    }
}

/// Folds a text into the word stream: lower case, confusable skeleton for non-ASCII letters,
/// accents dropped, every run of other characters one space, a space at both ends.
fn fold_words(text: &str) -> Folded {
    let mut out = Folded::default();
    out.push(' ', 0, 0);
    let mut buffer = [0u8; 4];
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase(), at, end);
        } else if c.is_alphanumeric() {
            for folded in fold_letter(c, &mut buffer).chars() {
                out.push(folded, at, end);
            }
        } else if is_combining_mark(c) {
            // An accent written as its own character belongs to the letter before it.
        } else if !out.text.ends_with(' ') {
            out.push(' ', at, end);
        }
    }
    if !out.text.ends_with(' ') {
        out.push(' ', text.len(), text.len());
    }
    out
}

/// Folds one non-ASCII letter or digit: its lower case, then its UTS #39 skeleton, keeping
/// letters and digits only.
fn fold_letter(c: char, buffer: &mut [u8; 4]) -> String {
    let mut out = String::new();
    for lower in c.to_lowercase() {
        match lower {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'đ' => out.push('d'),
            'ł' => out.push('l'),
            _ => {
                let text: &str = lower.encode_utf8(buffer);
                let skeleton: String = unicode_security::skeleton(text)
                    .filter(|p| p.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect();
                // The skeleton writes `m` as `rn`; ASCII text keeps its `m`.
                out.push_str(&skeleton.replace("rn", "m"));
            }
        }
    }
    out
}

/// Folds a text into the compact stream: ASCII letters upper-cased and digits, nothing else.
/// A non-ASCII letter becomes `#`, so that no number runs across it.
fn fold_compact(text: &str) -> Folded {
    let mut out = Folded::default();
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase(), at, end);
        } else if c.is_alphanumeric() && !out.text.ends_with('#') {
            out.push('#', at, end);
        }
    }
    out
}

/// An account name reduced for comparison.
#[derive(Debug, Default)]
struct AccountKey {
    /// The name's words without decorations and numbers, joined and folded like a domain
    /// label (look-alike digits read as letters, repeated letters collapsed).
    text: String,
    /// Decoration words removed.
    decorations: Vec<String>,
    /// Whether the name used non-ASCII letters that fold to ASCII ones.
    confusable: bool,
}

/// Reduces a display name or user name to its key. The instance part of a Mastodon
/// `user@instance` is left out; callers strip a Bluesky handle's domain suffix.
fn account_key(raw: &str) -> AccountKey {
    let name = raw.trim().trim_start_matches('@');
    let name = name.split('@').next().unwrap_or_default();
    let folded = fold_words(name);
    let mut decorations = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for word in folded.text.split_whitespace() {
        if DECORATIONS.contains(&word) {
            decorations.push(word.to_string());
            continue;
        }
        let word = trim_trailing_number(word);
        if !word.is_empty() {
            kept.push(word);
        }
    }
    if kept.is_empty() {
        return AccountKey::default();
    }
    let joined: String = kept.concat();
    let confusable = !name.is_ascii() && fold_words(name).text.is_ascii();
    AccountKey {
        text: fold(&joined),
        decorations,
        confusable,
    }
}

/// Removes a number of two digits or more that ends a word (`janedoe1984` to `janedoe`); a
/// word of digits only is removed whole.
fn trim_trailing_number(word: &str) -> &str {
    let trimmed = word.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.is_empty() || word.len() - trimmed.len() >= 2 {
        trimmed
    } else {
        word
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Returns the hit with up to [`CONTEXT_CHARS`] characters on each side, white space
/// collapsed, with `…` where the text was cut.
pub fn context(text: &str, range: std::ops::Range<usize>) -> String {
    let before: String = {
        let chars: Vec<char> = text[..range.start]
            .chars()
            .rev()
            .take(CONTEXT_CHARS)
            .collect();
        chars.into_iter().rev().collect()
    };
    let after: String = text[range.end..].chars().take(CONTEXT_CHARS).collect();
    let mut out = String::new();
    if before.len() < range.start {
        out.push('…');
    }
    out.push_str(&before);
    out.push_str(&text[range.clone()]);
    out.push_str(&after);
    if range.end + after.len() < text.len() {
        out.push('…');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Takes the host names out of a text: the hosts of URLs (defanged ones too, `hxxps://`,
/// `[.]`), and the domains of mail addresses and bare names under a known public suffix
/// (`examp1e-login.com`). Lower-case, without repeats, at most 200.
pub fn extract_hosts(text: &str) -> Vec<String> {
    let text = truncate(text, MAX_TEXT_BYTES)
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".")
        .replace("hxxp", "http");
    let mut hosts: Vec<String> = Vec::new();
    let separators = |c: char| c.is_whitespace() || "<>\"'`(){}[]|\\^,;".contains(c);
    for token in text.split(separators) {
        if hosts.len() >= MAX_HOSTS {
            break;
        }
        let Some(host) = host_of_token(token) else {
            continue;
        };
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

fn host_of_token(token: &str) -> Option<String> {
    let token = token.trim_matches(|c: char| ".:!?*".contains(c));
    let is_url = token.contains("://");
    let rest = match token.find("://") {
        Some(at) => &token[at + 3..],
        None => token.rsplit_once('@').map_or(token, |(_, domain)| domain),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let well_formed = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        });
    if !well_formed {
        return None;
    }
    let ascii = idna::domain_to_ascii(&host).ok()?;
    // A bare name needs a known suffix (`file.txt` is none); a URL names its host plainly.
    let known = is_url || psl::suffix(ascii.as_bytes()).is_some_and(|s| s.is_known());
    let tld_is_word = labels
        .last()
        .is_some_and(|tld| tld.chars().all(char::is_alphabetic));
    (known && tld_is_word).then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TextSpec {
        TextSpec {
            id: "acme".to_string(),
            brand: "Acme Bank".to_string(),
            keywords: vec!["acmebank".to_string()],
            executives: vec!["Jane Q. Doe".to_string(), "Éloïse Martin".to_string()],
            products: vec!["AcmePay".to_string()],
            addresses: vec!["12 rue de l'Exemple, 75001 Paris".to_string()],
            phones: vec![("33".to_string(), "123456789".to_string())],
            ibans: vec!["FR7630006000011234567890189".to_string()],
            scam_words: None,
        }
    }

    fn matcher() -> TextMatcher {
        TextMatcher::compile(&[spec()]).unwrap()
    }

    #[test]
    fn word_fold_strips_accents_and_confusables() {
        assert_eq!(fold_words("Éloïse MARTIN!").text, " eloise martin ");
        assert_eq!(fold_words("\u{0410}cme").text, " acme ");
        assert_eq!(fold_words("e\u{0301}loi\u{0308}se").text, " eloise ");
        assert_eq!(fold_words("Straße").text, " strasse ");
    }

    #[test]
    fn executive_found_with_accents_and_initials() {
        let found = matcher().check("Message from ELOISE MARTIN, and from Jane Doe too.");
        assert_eq!(found.len(), 1);
        let entries: Vec<&str> = found[0].hits.iter().map(|h| h.entry.as_str()).collect();
        assert!(entries.contains(&"Éloïse Martin"), "{entries:?}");
        assert!(entries.contains(&"Jane Q. Doe"), "{entries:?}");
        let hit = &found[0].hits[0];
        assert_eq!(hit.kind, TextKind::Executive);
    }

    #[test]
    fn names_need_word_boundaries() {
        assert!(matcher().check("Janet Doerr and acmepayments").is_empty());
        assert!(!matcher().check("pay with AcmePay today").is_empty());
    }

    #[test]
    fn phone_found_in_several_forms() {
        for text in [
            "call +33 1 23 45 67 89 now",
            "call 01.23.45.67.89 now",
            "call +33 (0)1 23 45 67 89",
            "tel:0033123456789",
        ] {
            let found = matcher().check(text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].hits[0].kind, TextKind::Phone, "{text}");
        }
        assert!(matcher().check("ref 10123456789").is_empty());
        assert!(matcher().check("id 01234567890").is_empty());
    }

    #[test]
    fn iban_found_with_or_without_spaces() {
        let found = matcher().check("Pay to IBAN: FR76 3000 6000 0112 3456 7890 189.");
        assert_eq!(found[0].hits[0].kind, TextKind::Iban);
        assert_eq!(found[0].hits[0].found, "FR76 3000 6000 0112 3456 7890 189");
        assert!(found[0].severity >= Severity::High);
        assert!(!matcher().check("fr7630006000011234567890189").is_empty());
    }

    #[test]
    fn scam_words_raise_the_score() {
        let plain = matcher().check("Acme Bank opens a new branch.");
        let scam = matcher().check("Acme Bank lottery winner: claim your prize!");
        assert_eq!(plain[0].severity, Severity::Medium);
        assert!(scam[0].score > plain[0].score);
        assert_eq!(scam[0].severity, Severity::High);
        assert!(scam[0].scam_words.contains(&"lottery".to_string()));
    }

    #[test]
    fn own_scam_words_replace_the_default() {
        let mut own = spec();
        own.scam_words = Some(vec!["transfert urgent".to_string()]);
        let matcher = TextMatcher::compile(&[own]).unwrap();
        assert!(matcher.check("Acme Bank lottery")[0].scam_words.is_empty());
        assert_eq!(
            matcher.check("Acme Bank: TRANSFERT URGENT")[0].scam_words,
            vec!["transfert urgent".to_string()]
        );
    }

    #[test]
    fn context_quotes_the_hit() {
        let found = matcher().check("line one\n\nPlease   call Jane Doe\tabout the refund");
        let hit = &found[0].hits[0];
        assert_eq!(hit.found, "Jane Doe");
        assert_eq!(
            hit.context,
            "line one Please call Jane Doe about the refund"
        );
    }

    #[test]
    fn account_imitating_an_executive() {
        let matcher = matcher();
        for (display, handle) in [
            ("Jane Doe", "janedoe_official"),
            ("J4ne D0e CEO", "jd"),
            ("", "jane.doe1984"),
            ("Jаne Doe", "x"),
        ] {
            let found = matcher.check_account(display, handle);
            assert_eq!(found.len(), 1, "{display} / {handle}");
            assert_eq!(found[0].kind, TextKind::Executive, "{display} / {handle}");
            assert!(found[0].exact, "{display} / {handle}");
        }
        assert!(matcher.check_account("John Smith", "jsmith").is_empty());
    }

    #[test]
    fn account_imitating_the_brand() {
        let found = matcher().check_account("Acme Bank Support", "acmebank_help");
        assert_eq!(found[0].kind, TextKind::Brand);
        assert!(found[0].severity >= Severity::High);
        let partial = matcher().check_account("acmebankgiftcards", "x");
        assert!(!partial[0].exact);
    }

    #[test]
    fn hosts_taken_from_text() {
        let hosts = extract_hosts(
            "Phish at hxxps://acme-login[.]com/verify?x=1, mail from ceo@acmebank-secure.net. \
             See also www.Example.org and http://acme.test/. Not file.txt nor e.g. this.",
        );
        assert_eq!(
            hosts,
            vec![
                "acme-login.com",
                "acmebank-secure.net",
                "www.example.org",
                "acme.test"
            ]
        );
    }
}
