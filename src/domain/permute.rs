//! Permutation engine: lookalike names of a legitimate domain, as a scammer would register
//! them (typos, look-alike characters, bit flips, extra words, other TLDs).
//!
//! Only the registrable label is changed: `example.co.uk` gives `exampel.co.uk`, never
//! `example.c0.uk`. Every fuzzer of dnstwist 20250130 is here, and with the default fuzzers
//! the output contains every name dnstwist makes for the same input (a test checks this on
//! stored dnstwist output). Candidates are checked to be valid DNS host names and returned in
//! ASCII; only candidates with non-ASCII characters go through IDNA encoding.

use std::collections::HashSet;
use std::hash::BuildHasher;

use foldhash::fast::{FixedState, RandomState};
use hashbrown::HashTable;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use super::fuzz::{self, GlyphTable, Label};
use super::idn::{self, Encoder, FastEncoding};
use super::lists;
use super::name;

pub use super::name::DomainError;

/// One generated lookalike name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permutation {
    /// ASCII form (punycode for IDN), lower-case, without a final dot.
    pub domain: String,
    /// The fuzzer that made it first, in [`Fuzzer::ALL`] order.
    pub fuzzer: Fuzzer,
}

/// A way of making lookalike names. The names are those of dnstwist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fuzzer {
    /// One letter or digit appended: `paypala.com`.
    Addition,
    /// One bit flipped in one character: `paypan.com`.
    Bitsquatting,
    /// Every letter replaced by its Cyrillic look-alike.
    Cyrillic,
    /// One or two characters replaced by look-alikes: `paypa1.com`, `pаypal.com`.
    Homoglyph,
    /// A hyphen inserted: `pay-pal.com`.
    Hyphenation,
    /// A neighbouring key inserted: `paypaol.com`.
    Insertion,
    /// One character left out: `paypl.com`.
    Omission,
    /// An `s` added: `paypals.com`.
    Plural,
    /// One character doubled: `payypal.com`.
    Repetition,
    /// One character replaced by a neighbouring key: `paypak.com`.
    Replacement,
    /// A dot inserted: `pay.pal.com`.
    Subdomain,
    /// Two neighbouring characters swapped: `papyal.com`.
    Transposition,
    /// One vowel replaced by another: `paypel.com`.
    VowelSwap,
    /// Suffix and subdomain games: `paypalcom.com`, `bank-fr.com`.
    Various,
    /// A word added: `paypal-login.com`.
    Dictionary,
    /// Another TLD: `paypal.net`.
    TldSwap,
}

impl Fuzzer {
    /// Every fuzzer, in the order they run. When two fuzzers make the same name, the name is
    /// attributed to the one first in this order.
    pub const ALL: [Fuzzer; 16] = [
        Fuzzer::Addition,
        Fuzzer::Bitsquatting,
        Fuzzer::Cyrillic,
        Fuzzer::Homoglyph,
        Fuzzer::Hyphenation,
        Fuzzer::Insertion,
        Fuzzer::Omission,
        Fuzzer::Plural,
        Fuzzer::Repetition,
        Fuzzer::Replacement,
        Fuzzer::Subdomain,
        Fuzzer::Transposition,
        Fuzzer::VowelSwap,
        Fuzzer::Various,
        Fuzzer::Dictionary,
        Fuzzer::TldSwap,
    ];

    /// The fuzzers run when none is named: all but dictionary and TLD swap, as in dnstwist.
    pub const DEFAULT: [Fuzzer; 14] = [
        Fuzzer::Addition,
        Fuzzer::Bitsquatting,
        Fuzzer::Cyrillic,
        Fuzzer::Homoglyph,
        Fuzzer::Hyphenation,
        Fuzzer::Insertion,
        Fuzzer::Omission,
        Fuzzer::Plural,
        Fuzzer::Repetition,
        Fuzzer::Replacement,
        Fuzzer::Subdomain,
        Fuzzer::Transposition,
        Fuzzer::VowelSwap,
        Fuzzer::Various,
    ];

    /// Returns the name used on the command line, in configuration and in JSON (dnstwist's
    /// names).
    pub fn as_str(self) -> &'static str {
        match self {
            Fuzzer::Addition => "addition",
            Fuzzer::Bitsquatting => "bitsquatting",
            Fuzzer::Cyrillic => "cyrillic",
            Fuzzer::Homoglyph => "homoglyph",
            Fuzzer::Hyphenation => "hyphenation",
            Fuzzer::Insertion => "insertion",
            Fuzzer::Omission => "omission",
            Fuzzer::Plural => "plural",
            Fuzzer::Repetition => "repetition",
            Fuzzer::Replacement => "replacement",
            Fuzzer::Subdomain => "subdomain",
            Fuzzer::Transposition => "transposition",
            Fuzzer::VowelSwap => "vowel-swap",
            Fuzzer::Various => "various",
            Fuzzer::Dictionary => "dictionary",
            Fuzzer::TldSwap => "tld-swap",
        }
    }

    /// Parses a name returned by [`Fuzzer::as_str`]; `None` for any other text.
    pub fn parse(name: &str) -> Option<Fuzzer> {
        Fuzzer::ALL
            .into_iter()
            .find(|fuzzer| fuzzer.as_str() == name)
    }
}

impl std::fmt::Display for Fuzzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of one permutation run: which fuzzers, and extra words and TLDs.
#[derive(Debug, Clone, Default)]
pub struct PermuteOptions {
    /// Fuzzers to run; empty means [`Fuzzer::DEFAULT`], plus dictionary when `dictionary` is
    /// not empty and TLD swap when `tlds` is not empty.
    pub fuzzers: Vec<Fuzzer>,
    /// Words for the dictionary fuzzer, on top of the built-in list. Words are expected in
    /// lower case, as [`lists::parse_words`] returns them; names made with others are dropped.
    pub dictionary: Vec<String>,
    /// TLDs for the TLD-swap fuzzer, on top of the built-in list (see [`lists::parse_tlds`]).
    pub tlds: Vec<String>,
}

impl PermuteOptions {
    /// Lists the fuzzers to run, in [`Fuzzer::ALL`] order and without repeats.
    pub fn selected_fuzzers(&self) -> Vec<Fuzzer> {
        if self.fuzzers.is_empty() {
            let mut fuzzers = Fuzzer::DEFAULT.to_vec();
            if !self.dictionary.is_empty() {
                fuzzers.push(Fuzzer::Dictionary);
            }
            if !self.tlds.is_empty() {
                fuzzers.push(Fuzzer::TldSwap);
            }
            return fuzzers;
        }
        Fuzzer::ALL
            .into_iter()
            .filter(|fuzzer| self.fuzzers.contains(fuzzer))
            .collect()
    }
}

/// Generates the lookalikes of `domain`, deduplicated, the input itself excluded.
///
/// `domain` may be Unicode or punycode, in any case, with a root dot, and may have
/// subdomains (they are kept as they are). Names come out grouped by fuzzer in
/// [`Fuzzer::ALL`] order; a name two fuzzers make is listed once, under the first.
pub fn permute(domain: &str, options: &PermuteOptions) -> Result<Vec<Permutation>, DomainError> {
    let parts = name::split(domain)?;
    let original = parts.to_name();
    let subdomain = unicode_of(&parts.subdomain);
    let label_text = unicode_of(&parts.label);
    let suffix = unicode_of(&parts.suffix);

    let unicode_name = format!("{subdomain}.{label_text}.{suffix}");
    let encoder = Encoder::new(idn::table_chars(), &unicode_name);
    let mut sink = Sink::new(&parts, &subdomain, &suffix, original, encoder);
    let label = Label::new(&label_text);
    for fuzzer in options.selected_fuzzers() {
        sink.fuzzer = fuzzer;
        match fuzzer {
            Fuzzer::Addition => fuzz::addition(&label, &mut sink),
            Fuzzer::Bitsquatting => fuzz::bitsquatting(&label, &mut sink),
            Fuzzer::Cyrillic => fuzz::cyrillic(&label, &mut sink),
            Fuzzer::Homoglyph => {
                fuzz::homoglyph(&label, &GlyphTable::for_suffix(&parts.suffix), &mut sink)
            }
            Fuzzer::Hyphenation => fuzz::hyphenation(&label, &mut sink),
            Fuzzer::Insertion => fuzz::insertion(&label, &mut sink),
            Fuzzer::Omission => fuzz::omission(&label, &mut sink),
            Fuzzer::Plural => fuzz::plural(&label, &mut sink),
            Fuzzer::Repetition => fuzz::repetition(&label, &mut sink),
            Fuzzer::Replacement => fuzz::replacement(&label, &mut sink),
            Fuzzer::Subdomain => fuzz::subdomain(&label, &mut sink),
            Fuzzer::Transposition => fuzz::transposition(&label, &mut sink),
            Fuzzer::VowelSwap => fuzz::vowel_swap(&label, &mut sink),
            Fuzzer::Various => fuzz::various(&subdomain, &label_text, &suffix, &mut sink),
            Fuzzer::Dictionary => {
                let words = merge(lists::builtin_words(), &options.dictionary);
                fuzz::dictionary(&label, &words, &mut sink);
            }
            Fuzzer::TldSwap => {
                let tlds = merge(lists::builtin_tlds(), &options.tlds);
                fuzz::tld_swap(&subdomain, &label_text, &parts.suffix, &tlds, &mut sink);
            }
        }
    }
    Ok(sink.output)
}

/// Decodes the punycode labels of a name that `name::split` already validated.
fn unicode_of(ascii: &str) -> String {
    idna::domain_to_unicode(ascii).0
}

/// Appends the extra entries to the built-in ones, skipping blanks and repeats.
fn merge<'a>(builtin: &'a [String], extra: &'a [String]) -> Vec<&'a str> {
    let mut merged: Vec<&str> = builtin.iter().map(String::as_str).collect();
    let mut present: HashSet<&str, RandomState> = merged.iter().copied().collect();
    for entry in extra {
        let entry = entry.trim().trim_start_matches('.');
        if !entry.is_empty() && present.insert(entry) {
            merged.push(entry);
        }
    }
    merged
}

/// Receives candidates from the fuzzers, turns them into full ASCII names, drops the invalid
/// ones, the input and repeats, and keeps the rest in order.
pub(crate) struct Sink {
    /// `sub.` in ASCII, or empty.
    ascii_prefix: String,
    /// `.suffix` in ASCII.
    ascii_suffix: String,
    unicode_prefix: String,
    unicode_suffix: String,
    original: String,
    fuzzer: Fuzzer,
    /// Index into `output` of every name kept, by the hash of the name.
    index_by_name: HashTable<u32>,
    hasher: FixedState,
    /// Candidates that went through full UTS #46 processing, so that none goes twice.
    slow_seen: HashSet<String, RandomState>,
    encoder: Encoder<'static>,
    buf: String,
    ascii_buf: String,
    output: Vec<Permutation>,
}

impl Sink {
    fn new(
        parts: &name::DomainParts,
        subdomain: &str,
        suffix: &str,
        original: String,
        encoder: Encoder<'static>,
    ) -> Sink {
        let dotted = |text: &str| {
            if text.is_empty() {
                String::new()
            } else {
                format!("{text}.")
            }
        };
        Sink {
            ascii_prefix: dotted(&parts.subdomain),
            ascii_suffix: format!(".{}", parts.suffix),
            unicode_prefix: dotted(subdomain),
            unicode_suffix: format!(".{suffix}"),
            original,
            fuzzer: Fuzzer::Addition,
            index_by_name: HashTable::new(),
            hasher: FixedState::default(),
            slow_seen: HashSet::default(),
            encoder,
            buf: String::with_capacity(64),
            ascii_buf: String::with_capacity(64),
            output: Vec::new(),
        }
    }

    /// Takes a candidate for the registrable label (it may contain dots).
    pub(crate) fn label(&mut self, label: &str) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if label.is_ascii() {
            buf.push_str(&self.ascii_prefix);
            buf.push_str(label);
            buf.push_str(&self.ascii_suffix);
        } else {
            buf.push_str(&self.unicode_prefix);
            buf.push_str(label);
            buf.push_str(&self.unicode_suffix);
        }
        self.name(&buf);
        self.buf = buf;
    }

    /// Takes a whole candidate name, in ASCII or Unicode.
    pub(crate) fn name(&mut self, name: &str) {
        if name.is_ascii() {
            self.accept(name, is_valid_candidate);
            return;
        }

        let mut ascii = std::mem::take(&mut self.ascii_buf);
        match self.encoder.encode(name, &mut ascii) {
            FastEncoding::Valid => self.accept(&ascii, name::is_valid_ascii_name),
            FastEncoding::Invalid => {}
            FastEncoding::Unknown => self.encode_slowly(name),
        }
        self.ascii_buf = ascii;
    }

    /// Runs full UTS #46 processing on a candidate the fast encoder cannot judge.
    fn encode_slowly(&mut self, name: &str) {
        if self.slow_seen.contains(name) {
            return;
        }
        self.slow_seen.insert(name.to_owned());
        if let Ok(ascii) = Uts46::new().to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        ) {
            self.accept(&ascii, name::is_valid_ascii_name);
        }
    }

    /// Keeps an ASCII name unless it is the input, already kept, or fails `is_valid`
    /// (checked last because most candidates are repeats).
    fn accept(&mut self, ascii: &str, is_valid: fn(&str) -> bool) {
        if ascii == self.original {
            return;
        }
        let Sink {
            index_by_name,
            hasher,
            output,
            fuzzer,
            ..
        } = self;
        let hash = hasher.hash_one(ascii);
        if index_by_name
            .find(hash, |&index| output[index as usize].domain == ascii)
            .is_some()
            || !is_valid(ascii)
        {
            return;
        }
        let index = u32::try_from(output.len()).expect("fewer than 2^32 names");
        output.push(Permutation {
            domain: ascii.to_owned(),
            fuzzer: *fuzzer,
        });
        index_by_name.insert_unique(hash, index, |&index| {
            hasher.hash_one(output[index as usize].domain.as_str())
        });
    }
}

/// Checks an ASCII candidate; one with an `xn--` label must also decode as IDNA.
fn is_valid_candidate(name: &str) -> bool {
    if !name::is_valid_ascii_name(name) {
        return false;
    }
    !name.contains("xn--")
        || Uts46::new()
            .to_ascii(
                name.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::Check,
                DnsLength::Verify,
            )
            .is_ok()
}

#[cfg(test)]
#[path = "permute_tests.rs"]
mod tests;
