//! English words, folded like labels, that tell an ordinary word from a brand imitation.
//!
//! Two kinds of false positive come from ordinary words. A keyword can be found across the
//! boundary of two words written together (`icloud` in `huaweicloud`, which is `huawei` plus
//! `cloud`), or inside a longer word (`ripple` folds to `riple`, found in `triple`). And a
//! one-edit variant of a brand is often a word itself (`haven` for `havven`, `finance` for
//! `binance`). The scan asks this module whether the words of the label explain a hit
//! before it scores it.
//!
//! The list is Debian's `wamerican-small` (SCOWL size 35), lower-case words of three letters
//! or more; `words.txt` carries its origin and licence. It is folded with the label folding,
//! so a word and a label compare in the same form.

use std::collections::HashSet;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind as AcMatchKind};

use super::fold::{Folded, fold};

const WORD_LIST: &str = include_str!("words.txt");

/// Common two-letter words that may start or end a compound label (`myicloud`), which the
/// list, of three letters or more, does not contain.
const SHORT_WORDS: [&str; 20] = [
    "my", "go", "to", "in", "on", "me", "we", "us", "up", "be", "do", "at", "an", "by", "of", "or",
    "it", "is", "no", "so",
];

/// Words shorter than this (folded) are too often found by chance inside a label to explain
/// a hit away; they only help to segment the text beside a hit.
const MIN_EXPLAINING_LEN: usize = 4;

/// The word list, compiled once on first use.
pub(crate) struct Dictionary {
    automaton: AhoCorasick,
    /// Folded words, for hits in folded labels.
    words: HashSet<String>,
    /// Words as written, for whole labels: folding would make a brand's own doubled letter
    /// (`havven`) read as a word (`haven`).
    plain: HashSet<&'static str>,
}

/// A dictionary word found in a folded label, by byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Occurrence {
    start: usize,
    end: usize,
}

impl Occurrence {
    fn len(self) -> usize {
        self.end - self.start
    }
}

static DICTIONARY: LazyLock<Dictionary> = LazyLock::new(Dictionary::build);

/// Returns the compiled word list.
pub(crate) fn dictionary() -> &'static Dictionary {
    &DICTIONARY
}

impl Dictionary {
    fn build() -> Dictionary {
        let plain: HashSet<&'static str> = WORD_LIST
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect();
        let mut words: HashSet<String> = plain
            .iter()
            .map(|word| fold(word))
            .filter(|word| word.len() >= 3)
            .collect();
        words.extend(SHORT_WORDS.iter().map(|w| w.to_string()));
        let mut patterns: Vec<&String> = words.iter().collect();
        patterns.sort();
        let automaton = AhoCorasickBuilder::new()
            .match_kind(AcMatchKind::Standard)
            .build(patterns)
            .expect("the embedded word list builds an automaton");
        Dictionary {
            automaton,
            words,
            plain,
        }
    }

    /// Returns whether `folded` is a word of the list.
    #[cfg(test)]
    pub(crate) fn contains(&self, folded: &str) -> bool {
        self.words.contains(folded)
    }

    /// Returns whether a lower-case label, as written, is a word of the list of at least
    /// four letters.
    pub(crate) fn is_word(&self, label: &str) -> bool {
        label.len() >= MIN_EXPLAINING_LEN && self.plain.contains(label)
    }

    /// Dictionary words in `label` that do not cross one of its separators.
    fn occurrences(&self, label: &Folded) -> Vec<Occurrence> {
        self.automaton
            .find_overlapping_iter(&label.text)
            .map(|m| Occurrence {
                start: m.start(),
                end: m.end(),
            })
            .filter(|o| !label.breaks.iter().any(|b| o.start < *b && *b < o.end))
            .collect()
    }

    /// Returns whether `text` splits entirely into dictionary words.
    fn segments(&self, text: &str) -> bool {
        if text.is_empty() {
            return true;
        }
        // reachable[i]: text[..i] splits into words.
        let mut reachable = vec![false; text.len() + 1];
        reachable[0] = true;
        for end in 1..=text.len() {
            reachable[end] =
                (0..end).any(|start| reachable[start] && self.words.contains(&text[start..end]));
        }
        reachable[text.len()]
    }

    /// Returns whether ordinary words of `label` explain the keyword pattern found at
    /// `start..end`, so that the hit says nothing about the brand.
    ///
    /// `exact` tells an exact keyword from a one-edit variant of it, and `plain_keyword`
    /// whether the keyword is letters only: the digits of `office365` leave separators of
    /// their own inside a hit, which then prove nothing. A hit is explained when
    /// a word of four letters or more:
    ///
    /// - contains it and starts before it (`riple` in `triple`), or, for a variant, is
    ///   equal to it (`finance` as a variant of `binance`);
    /// - crosses one of its ends, covering more than half of an exact hit or any part of a
    ///   variant, while the rest of the label up to the hit's other end splits into words
    ///   (`open|weather` over `openwea`, a variant of `opensea`);
    /// - takes all of the hit but one letter at one end (two for a variant), while the text
    ///   on that side does not split into words ending at the hit (`huawei|cloud` for
    ///   `icloud`, where `huawe` is no word; but `my|icloud` stays a hit). A separator just
    ///   where that word starts (`digi-cloud`) explains the hit on its own.
    pub(crate) fn explains(
        &self,
        label: &Folded,
        (start, end): (usize, usize),
        exact: bool,
        plain_keyword: bool,
    ) -> bool {
        let span = end - start;
        if exact && self.stands_alone(label, start, end) {
            return false;
        }
        let leftover_max = if exact { 1 } else { 2 };
        let occurrences = self.occurrences(label);
        for word in occurrences.iter().filter(|w| w.len() >= MIN_EXPLAINING_LEN) {
            // A word that starts where the keyword starts is mostly the brand inflected
            // (`exampled`, `apples`), still an imitation; one that starts before it is not.
            let contains = word.start <= start && word.end >= end;
            let before = word.start < start;
            if contains && (before || (!exact && word.len() == span)) {
                return true;
            }
            let overlap = word.end.min(end).saturating_sub(word.start.max(start));
            // The rest of the label on the other side of the word must read as words too:
            // `ampler` crosses the end of `example` in `examplerecover`, but leaves `ex`.
            let crosses_start = word.start < start && start < word.end && word.end < end;
            let crosses_end = start < word.start && word.start < end && end < word.end;
            let rest_segments = (crosses_start
                && self.segments(&label.text[word.end..segment_end(label, end)]))
                || (crosses_end
                    && self.segments(&label.text[segment_start(label, start)..word.start]));
            if rest_segments && (!exact || overlap * 2 > span) {
                return true;
            }
            let tail = start < word.start && word.end == end && word.start - start <= leftover_max;
            if tail && self.tail_explains(label, start, word, plain_keyword) {
                return true;
            }
            let head = word.start == start && word.end < end && end - word.end <= leftover_max;
            if head && self.head_explains(label, end, word, plain_keyword) {
                return true;
            }
        }
        false
    }

    /// Returns whether an exact hit at `start..end` reads as a word of its own: no separator
    /// inside it, and the text beside it in its segment splits into words, with a plural
    /// `s` allowed after it (`rune|scape` is no reason to drop `runescape` from
    /// `runescapeservices`, nor `fork|delta` from `forkdeltas`).
    fn stands_alone(&self, label: &Folded, start: usize, end: usize) -> bool {
        if label.breaks.iter().any(|b| start < *b && *b < end) {
            return false;
        }
        let before = &label.text[segment_start(label, start)..start];
        let after = &label.text[end..segment_end(label, end)];
        let after = if self.segments(after) {
            ""
        } else {
            after.strip_prefix('s').unwrap_or(after)
        };
        self.segments(before) && self.segments(after)
    }

    /// The hit ends with `word`: it is explained when a separator sits where the word starts,
    /// or when nothing shows a word boundary at the hit's start.
    fn tail_explains(
        &self,
        label: &Folded,
        start: usize,
        word: &Occurrence,
        plain_keyword: bool,
    ) -> bool {
        if plain_keyword && label.breaks.contains(&word.start) {
            return true;
        }
        if label.is_boundary(start) {
            return false;
        }
        !self.segments(&label.text[segment_start(label, start)..start])
    }

    /// The hit starts with `word`: the mirror of [`Dictionary::tail_explains`].
    fn head_explains(
        &self,
        label: &Folded,
        end: usize,
        word: &Occurrence,
        plain_keyword: bool,
    ) -> bool {
        if plain_keyword && label.breaks.contains(&word.end) {
            return true;
        }
        if label.is_boundary(end) {
            return false;
        }
        !self.segments(&label.text[end..segment_end(label, end)])
    }
}

/// Start of the separator-free segment of `label` that contains `offset`.
fn segment_start(label: &Folded, offset: usize) -> usize {
    label
        .breaks
        .iter()
        .rev()
        .find(|b| **b <= offset)
        .copied()
        .unwrap_or(0)
}

/// End of the separator-free segment of `label` that contains `offset`.
fn segment_end(label: &Folded, offset: usize) -> usize {
    label
        .breaks
        .iter()
        .find(|b| **b >= offset)
        .copied()
        .unwrap_or(label.text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fold::fold_into;

    fn folded(label: &str) -> Folded {
        let mut out = Folded::default();
        fold_into(label, &mut out);
        out
    }

    /// Finds `keyword` (already folded) in the folded label and asks whether words explain it.
    fn explained(label: &str, keyword: &str, exact: bool) -> bool {
        let label = folded(label);
        let start = label
            .text
            .find(keyword)
            .unwrap_or_else(|| panic!("{keyword} not in {}", label.text));
        dictionary().explains(&label, (start, start + keyword.len()), exact, true)
    }

    #[test]
    fn word_list_loads_every_line() {
        // The list has 40,080 words; folding merges a few (`bass` and `bas`).
        let count = dictionary().words.len();
        assert!(count > 35_000, "only {count} words");
        assert!(dictionary().contains("cloud"));
        assert!(dictionary().contains(&fold("apple")));
    }

    #[test]
    fn keyword_across_compound_explained() {
        let cases = [
            ("huaweicloud", "icloud"),
            ("myhuaweicloud", "icloud"),
            ("mearicloud", "icloud"),
            ("alicloudapi", "icloud"),
            ("digi-cloud", "icloud"),
            ("tripleseat", "riple"),
        ];
        for (label, keyword) in cases {
            assert!(
                explained(label, keyword, true),
                "{label} should explain {keyword}"
            );
        }
    }

    #[test]
    fn keyword_at_word_boundary_not_explained() {
        let cases = [
            ("myicloud", "icloud"),
            ("icloudverify", "icloud"),
            ("facebooklogin", "facebok"),
            ("amazonsecure", "amazon"),
            ("paypalsupport", "paypal"),
            ("microsoftonline", "microsoft"),
            ("appleid", "aple"),
            ("examplerecover", "example"),
            ("runescapeservices", "runescape"),
            ("forkdeltas", "forkdelta"),
            ("exampled", "example"),
        ];
        for (label, keyword) in cases {
            assert!(
                !explained(label, keyword, true),
                "{label} should not explain {keyword}"
            );
        }
    }

    #[test]
    fn variant_that_is_word_explained() {
        assert!(explained("financesonline", "finance", false));
        assert!(explained("infinity-tracking", "nfinity", false));
        assert!(explained("openweathermap", "openwea", false));
    }

    #[test]
    fn whole_label_word_recognised() {
        for word in ["haven", "happen", "finance", "affinity", "cloud", "mail"] {
            assert!(dictionary().is_word(word), "{word}");
        }
        for label in ["paypa1", "gooogle", "instagam", "havven"] {
            assert!(!dictionary().is_word(label), "{label}");
        }
    }
}
