//! Permutation engine: lookalike names of a legitimate domain.

/// One generated lookalike name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permutation {
    /// ASCII form (punycode for IDN), lower-case, without a final dot.
    pub domain: String,
    pub fuzzer: Fuzzer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fuzzer {
    Addition,
    Bitsquatting,
    Cyrillic,
    Homoglyph,
    Hyphenation,
    Insertion,
    Omission,
    Plural,
    Repetition,
    Replacement,
    Subdomain,
    Transposition,
    VowelSwap,
    Various,
    Dictionary,
    TldSwap,
}

impl Fuzzer {
    /// The name used on the command line, in configuration and in JSON (dnstwist's names).
    pub fn as_str(self) -> &'static str {
        todo!()
    }

    pub fn parse(_name: &str) -> Option<Fuzzer> {
        todo!()
    }
}

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct PermuteOptions {
    /// Fuzzers to run; empty means every fuzzer but dictionary and TLD swap.
    pub fuzzers: Vec<Fuzzer>,
    /// Words for the dictionary fuzzer, on top of the built-in list.
    pub dictionary: Vec<String>,
    /// TLDs for the TLD-swap fuzzer, on top of the built-in list.
    pub tlds: Vec<String>,
}

/// Error for a domain that cannot be permuted.
#[derive(Debug, thiserror::Error)]
#[error("invalid domain {domain:?}: {reason}")]
pub struct DomainError {
    pub domain: String,
    pub reason: String,
}

/// Generates the lookalikes of `domain`, deduplicated, the input itself excluded.
pub fn permute(_domain: &str, _options: &PermuteOptions) -> Result<Vec<Permutation>, DomainError> {
    todo!()
}
