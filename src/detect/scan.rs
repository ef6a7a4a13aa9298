//! One check: the signals a host gives against the compiled indexes, their scores and reasons.
//!
//! Scores (0 to 100; severity bands in [`super::severity_for`]):
//!
//! | signal | score |
//! | --- | --- |
//! | homoglyph of a legitimate label with non-ASCII look-alikes | 95 |
//! | homoglyph with ASCII look-alikes (`paypa1`, `rnicrosoft`) | 85 |
//! | legitimate domain written into an unrelated host | 85 |
//! | permutation engine homoglyph, legitimate label of 7 letters or more | 85 |
//! | brand of 7 letters or more split by dots (`myetherwa.llet.com`) | 75 |
//! | other permutation engine output, legitimate label of 5 letters or more | 65 |
//! | brand plus other words, at a word boundary (combosquat) | 65 |
//! | same label under another TLD or second-level suffix | 65 |
//! | brand keyword as the whole registrable label of a domain it does not own | 65 |
//! | one edit from the brand, or a repeated letter, as the whole registrable label | 65 |
//! | typo of the brand as a whole word plus other words | 60 |
//! | shorter brand split by dots | 60 |
//! | brand as a subdomain label of an unrelated domain | 60 |
//! | typo of a brand of 9 letters or more at one end of a longer word | 55 |
//! | brand inside a longer word | 55 |
//! | permutation engine output, legitimate label under 5 letters | 35 |
//! | same label under 5 letters under another suffix | 35 |
//! | typo of a brand of 7 or 8 letters at one end of a longer word | 35 |
//! | one edit at the first letter of a brand under 7 letters, as the whole label | 35 |
//! | short or whole-word keyword inside a longer word | 25 |
//!
//! A word that scam hosts add (`login`, `verify`, `wallet`, ...) anywhere else in the host adds
//! 10. A signal found only in a subdomain label loses 5.
//!
//! A name alone is weak evidence for a swap or a one-edit typo: other companies own
//! `example.net` or `exampel.com` in good faith, so these start at medium and need a risk word
//! to reach high. The lookalike source raises severity later from DNS and page content.

use std::collections::HashMap;

use super::fold::{Folded, describe_substitutions, fold_into, parse_input};
use super::index::{Edit, KeywordEntry, LegitRef, MIN_TYPO_KEYWORD_LEN, Matcher, PatternRef};
use super::words::dictionary;
use super::{DetectError, Match, MatchKind, severity_for};

const HOMOGLYPH_UNICODE: u8 = 95;
const HOMOGLYPH_ASCII: u8 = 85;
const LEGITIMATE_NAME_IN_HOST: u8 = 85;
const SWAP: u8 = 65;
const SWAP_SHORT_LABEL: u8 = 35;
const PERMUTATION_HOMOGLYPH: u8 = 85;
const PERMUTATION: u8 = 65;
const PERMUTATION_SHORT_LABEL: u8 = 35;
const BRAND_AS_DOMAIN: u8 = 65;
const TYPO_WHOLE_LABEL: u8 = 65;
const COMBOSQUAT: u8 = 65;
const TYPO_COMBOSQUAT: u8 = 60;
const TYPO_INSIDE_WORD: u8 = 35;
const TYPO_INSIDE_WORD_VERY_LONG: u8 = 55;
const TYPO_FIRST_LETTER: u8 = 35;
const SPLIT_LONG: u8 = 75;
const SPLIT_SHORT: u8 = 60;

/// Keywords of this many folded letters or more are rarely met by chance: their typos count
/// at one end of a word too, and their pieces across dots count as high.
const LONG_KEYWORD_LEN: usize = 7;

/// A typo of a keyword this long inside a longer word is medium on its own, because few
/// unrelated words come within one edit of nine letters or more.
const VERY_LONG_KEYWORD_LEN: usize = 9;

const SUBDOMAIN_BRAND: u8 = 60;
const EMBEDDED: u8 = 55;
const EMBEDDED_SHORT: u8 = 25;
const RISK_WORD_BONUS: u8 = 10;
const SUBDOMAIN_PENALTY: u8 = 5;

/// Reasons kept per match; the weaker ones add little for the analyst.
const MAX_REASONS: usize = 4;

/// One piece of evidence that a host imitates a brand.
#[derive(Debug, Clone)]
struct Signal {
    brand: u32,
    score: u8,
    kind: MatchKind,
    reason: String,
    legit: Option<u32>,
    fuzzer: Option<&'static str>,
}

/// The host under check, split at its public suffix.
struct Subject<'a> {
    ascii: Vec<&'a str>,
    unicode: Vec<&'a str>,
    /// Index of the registrable label (the one just left of the public suffix).
    registrable: usize,
    suffix: &'a str,
    registrable_domain: &'a str,
    silenced: Vec<u32>,
}

/// A word from the risk list found in one label, by folded byte range.
struct RiskHit {
    label: usize,
    start: usize,
    end: usize,
    word: usize,
}

pub(crate) fn check_input(m: &Matcher, input: &str) -> Result<Option<Match>, DetectError> {
    let Some(host) = parse_input(input)? else {
        return Ok(None);
    };
    let ascii: Vec<&str> = host.ascii.split('.').collect();
    let mut unicode: Vec<&str> = host.unicode.split('.').collect();
    if unicode.len() != ascii.len() {
        unicode = ascii.clone();
    }
    if ascii.len() < 2 {
        // A single label names no domain to judge.
        return Ok(None);
    }
    let mut suffix = psl::suffix_str(&host.ascii).unwrap_or_default();
    if suffix.is_empty() || suffix.split('.').count() >= ascii.len() {
        // Wildcard rules (`*.ck`) make a whole two-label name a public suffix; judge its
        // first label as if it were registrable, since that is what a reader sees.
        suffix = &host.ascii[ascii[0].len() + 1..];
    }
    let registrable = ascii.len() - suffix.split('.').count() - 1;
    let registrable_domain = psl::domain_str(&host.ascii).unwrap_or(&host.ascii);
    let silenced = silenced_brands(m, &host.ascii);
    if !m.brands.is_empty() && silenced.len() == m.brands.len() {
        return Ok(None);
    }

    let subject = Subject {
        ascii,
        unicode,
        registrable,
        suffix,
        registrable_domain,
        silenced,
    };
    let folded = fold_labels(&subject);
    let risks = risk_hits(m, &folded);
    let mut signals = Vec::new();
    permutation_signals(m, &host.ascii, &subject, &mut signals);
    swap_signals(m, &subject, &risks, &mut signals);
    legitimate_name_signals(m, &subject, &mut signals);
    keyword_signals(m, &subject, &folded, &risks, &mut signals);
    split_signals(m, &subject, &folded, &mut signals);

    signals.retain(|s| !subject.silenced.contains(&s.brand));
    Ok(combine(
        m,
        input.trim(),
        &host.ascii,
        &host.unicode,
        signals,
    ))
}

/// Brands for which the host is legitimate or allow-listed (itself or a parent of it).
fn silenced_brands(m: &Matcher, ascii: &str) -> Vec<u32> {
    let mut silenced = Vec::new();
    let mut rest = ascii;
    loop {
        for map in [&m.legit_hosts, &m.allow_hosts] {
            if let Some(brands) = map.get(rest) {
                silenced.extend(brands.iter().copied());
            }
        }
        match rest.split_once('.') {
            Some((_, parent)) => rest = parent,
            None => break,
        }
    }
    silenced.sort_unstable();
    silenced.dedup();
    silenced
}

fn permutation_signals(m: &Matcher, ascii: &str, subject: &Subject, out: &mut Vec<Signal>) {
    if m.permutations.is_empty() {
        return;
    }
    for name in [ascii, subject.registrable_domain] {
        let Some(hits) = m.permutations.get(name) else {
            continue;
        };
        for (at, fuzzer) in hits {
            let legit = &m.brands[at.brand as usize].legit[at.legit as usize];
            let mut signal = Signal {
                brand: at.brand,
                score: permutation_score(fuzzer, &legit.label),
                kind: MatchKind::Permutation,
                reason: format!("{fuzzer} permutation of {}", legit.ascii),
                legit: Some(at.legit),
                fuzzer: Some(fuzzer),
            };
            let label = subject.ascii[subject.registrable];
            if !matches!(*fuzzer, "homoglyph" | "cyrillic") && reads_as_word(label, &legit.label) {
                signal.score = signal.score.min(PERMUTATION_SHORT_LABEL);
                signal
                    .reason
                    .push_str(&format!(", but '{label}' is an English word"));
            }
            out.push(signal);
        }
    }
}

/// Returns whether a label one edit from the brand's `legit` label reads as an ordinary word:
/// it is an English word (`mail` from `gmail`), or it differs from the brand only in a first
/// letter put before the same word (`ymail` and `gmail`, `bstatic` and `gstatic`).
fn reads_as_word(label: &str, legit: &str) -> bool {
    if label.contains(legit) {
        // A word made from the brand (`exampled`) still carries the brand whole.
        return false;
    }
    let words = dictionary();
    if words.is_word(label) {
        return true;
    }
    match (label.get(1..), legit.get(1..)) {
        (Some(rest), Some(legit_rest)) => rest == legit_rest && words.is_word(rest),
        _ => false,
    }
}

/// Score of a name the permutation engine makes, by fuzzer and by the length of the label
/// it was made from: the engine's one-letter changes of a short label (`aol`, `x`) are
/// mostly other companies' names (`ao.com`, `z.com`).
fn permutation_score(fuzzer: &str, label: &str) -> u8 {
    let base = match fuzzer {
        "homoglyph" | "cyrillic" => PERMUTATION_HOMOGLYPH,
        _ => PERMUTATION,
    };
    match label.chars().count() {
        ..MIN_TYPO_KEYWORD_LEN => PERMUTATION_SHORT_LABEL,
        MIN_TYPO_KEYWORD_LEN..LONG_KEYWORD_LEN => base.min(SWAP),
        _ => base,
    }
}

/// Same registrable label as a legitimate domain, under another suffix.
fn swap_signals(m: &Matcher, subject: &Subject, risks: &[RiskHit], out: &mut Vec<Signal>) {
    let label = subject.ascii[subject.registrable];
    let Some(refs) = m.legit_labels.get(label) else {
        return;
    };
    for at in refs {
        let legit = &m.brands[at.brand as usize].legit[at.legit as usize];
        if legit.suffix == subject.suffix {
            continue;
        }
        let second_level = legit.suffix.contains('.') || subject.suffix.contains('.');
        let (kind, what) = if second_level {
            (MatchKind::SecondLevelSwap, "second-level swap")
        } else {
            (MatchKind::TldSwap, "TLD swap")
        };
        // Labels under five letters (`x`, `ing`, `rbc`) are taken under most TLDs by
        // unrelated owners.
        let short = legit.label.chars().count() < MIN_TYPO_KEYWORD_LEN;
        let mut signal = Signal {
            brand: at.brand,
            score: if short { SWAP_SHORT_LABEL } else { SWAP },
            kind,
            reason: format!(
                "{what} of {} (.{} for .{})",
                legit.ascii, subject.suffix, legit.suffix
            ),
            legit: Some(at.legit),
            fuzzer: None,
        };
        if let Some(hit) = risks.first() {
            signal.score += RISK_WORD_BONUS;
            let word = &m.risk_words[hit.word];
            signal.reason.push_str(&format!(" with the word '{word}'"));
        }
        out.push(signal);
    }
}

/// A legitimate domain written into the subdomain part of an unrelated host, such as
/// `paypal.com.verify-account.net` or `services.runescape.com-m.cc`.
fn legitimate_name_signals(m: &Matcher, subject: &Subject, out: &mut Vec<Signal>) {
    for start in 0..subject.registrable {
        let label = subject.ascii[start];
        let last_part = label.rsplit('-').next().unwrap_or(label);
        let mut candidates = vec![label];
        if last_part != label {
            candidates.push(last_part);
        }
        for first in candidates {
            for at in m.legit_first_labels.get(first).into_iter().flatten() {
                if let Some(signal) = legitimate_name_at(m, subject, start, *at) {
                    out.push(signal);
                }
            }
        }
    }
}

fn legitimate_name_at(
    m: &Matcher,
    subject: &Subject,
    start: usize,
    at: LegitRef,
) -> Option<Signal> {
    let legit = &m.brands[at.brand as usize].legit[at.legit as usize];
    let parts: Vec<&str> = legit.ascii.split('.').collect();
    let last = start + parts.len() - 1;
    // The name must end inside the host, not at its end: at the end it is the legitimate
    // domain itself, which is silenced earlier.
    if parts.len() < 2 || last >= subject.ascii.len() - 1 {
        return None;
    }
    for (offset, part) in parts.iter().enumerate().skip(1) {
        let host_label = subject.ascii[start + offset];
        let is_last = offset == parts.len() - 1;
        let glued = host_label
            .strip_prefix(part)
            .is_some_and(|rest| rest.starts_with('-'));
        if host_label != *part && !(is_last && glued) {
            return None;
        }
    }
    Some(Signal {
        brand: at.brand,
        score: LEGITIMATE_NAME_IN_HOST,
        kind: MatchKind::LegitimateNameInHost,
        reason: format!(
            "legitimate domain {} written into the host of unrelated domain {}",
            legit.ascii, subject.registrable_domain
        ),
        legit: Some(at.legit),
        fuzzer: None,
    })
}

/// Folds every label left of the public suffix.
fn fold_labels(subject: &Subject) -> Vec<Folded> {
    let mut folded: Vec<Folded> = vec![Folded::default(); subject.registrable + 1];
    for (i, buffer) in folded.iter_mut().enumerate() {
        fold_into(subject.unicode[i], buffer);
    }
    folded
}

fn risk_hits(m: &Matcher, folded: &[Folded]) -> Vec<RiskHit> {
    let mut risks = Vec::new();
    for (i, buffer) in folded.iter().enumerate() {
        for hit in m.risk_automaton.find_overlapping_iter(&buffer.text) {
            risks.push(RiskHit {
                label: i,
                start: hit.start(),
                end: hit.end(),
                word: hit.pattern().as_usize(),
            });
        }
    }
    risks
}

fn keyword_signals(
    m: &Matcher,
    subject: &Subject,
    folded: &[Folded],
    risks: &[RiskHit],
    out: &mut Vec<Signal>,
) {
    let mut hits: Vec<(Place, PatternRef)> = Vec::new();
    for (i, buffer) in folded.iter().enumerate() {
        hits.clear();
        for hit in m.keyword_automaton.find_overlapping_iter(&buffer.text) {
            let place = Place {
                label: i,
                start: hit.start(),
                end: hit.end(),
            };
            for pattern in &m.pattern_refs[hit.pattern().as_usize()] {
                hits.push((place, *pattern));
            }
        }
        // One-edit variants of a keyword also match inside its exact form; where the exact
        // form is present they add nothing.
        let exact: Vec<u32> = hits
            .iter()
            .filter(|(_, p)| p.edit == Edit::Exact)
            .map(|(_, p)| p.keyword)
            .collect();

        // Best signal per keyword in this label.
        let mut best: HashMap<u32, Signal> = HashMap::new();
        for (place, pattern) in &hits {
            if pattern.edit != Edit::Exact && exact.contains(&pattern.keyword) {
                continue;
            }
            let Some(signal) = keyword_signal(
                m,
                subject,
                buffer_of(folded, place),
                risks,
                *place,
                *pattern,
            ) else {
                continue;
            };
            let slot = best
                .entry(pattern.keyword)
                .or_insert_with(|| signal.clone());
            if signal.score > slot.score {
                *slot = signal;
            }
        }
        out.extend(best.into_values());
    }
}

fn buffer_of<'a>(folded: &'a [Folded], place: &Place) -> &'a Folded {
    &folded[place.label]
}

/// A brand keyword cut in pieces by dots, such as `myetherwa.llet.com`: the labels are joined
/// and only exact matches that cross a dot count (the others were judged label by label).
fn split_signals(m: &Matcher, subject: &Subject, folded: &[Folded], out: &mut Vec<Signal>) {
    if folded.len() < 2 {
        return;
    }
    let mut joined = String::new();
    let mut starts = Vec::with_capacity(folded.len());
    for label in folded {
        let text = match (joined.chars().next_back(), label.text.chars().next()) {
            // The joined text collapses a letter repeated across the dot, as folding would.
            (Some(last), Some(first)) if last == first => &label.text[first.len_utf8()..],
            _ => label.text.as_str(),
        };
        starts.push(joined.len());
        joined.push_str(text);
    }

    let mut seen: Vec<u32> = Vec::new();
    for hit in m.keyword_automaton.find_overlapping_iter(&joined) {
        if !starts.iter().any(|s| hit.start() < *s && *s < hit.end()) {
            continue;
        }
        for pattern in &m.pattern_refs[hit.pattern().as_usize()] {
            let keyword = &m.keywords[pattern.keyword as usize];
            let letters = keyword.folded.chars().count();
            if pattern.edit != Edit::Exact || keyword.whole_word || seen.contains(&pattern.keyword)
            {
                continue;
            }
            seen.push(pattern.keyword);
            out.push(Signal {
                brand: keyword.brand,
                score: if letters >= LONG_KEYWORD_LEN {
                    SPLIT_LONG
                } else {
                    SPLIT_SHORT
                },
                kind: MatchKind::SplitBrand,
                reason: format!(
                    "brand '{}' split by dots in {}",
                    keyword.text,
                    subject.ascii.join(".")
                ),
                legit: keyword.legit,
                fuzzer: None,
            });
        }
    }
}

/// Where a keyword pattern matched: the label and the byte range in its folded form.
#[derive(Clone, Copy)]
struct Place {
    label: usize,
    start: usize,
    end: usize,
}

/// One keyword pattern found in one folded label, with what scoring needs to know about it.
struct KeywordHit<'a> {
    keyword: &'a KeywordEntry,
    pattern: PatternRef,
    /// The label as written (Unicode form).
    raw: &'a str,
    /// Whether the pattern covers the whole folded label.
    whole: bool,
    left: bool,
    right: bool,
    in_registrable: bool,
    /// A risk word elsewhere in the host.
    risk: Option<&'a str>,
    /// The legitimate domain, or `brand 'x'`, for reasons.
    target: String,
}

/// How far a signal is scored: complete, or still to get the risk-word and subdomain
/// adjustments.
enum Scored {
    Complete(Signal),
    Adjust(Signal),
}

fn keyword_signal(
    m: &Matcher,
    subject: &Subject,
    folded: &Folded,
    risks: &[RiskHit],
    place: Place,
    pattern: PatternRef,
) -> Option<Signal> {
    let keyword = &m.keywords[pattern.keyword as usize];
    if subject.silenced.contains(&keyword.brand) {
        return None;
    }
    let hit = KeywordHit {
        keyword,
        pattern,
        raw: subject.unicode[place.label],
        whole: place.start == 0 && place.end == folded.text.len(),
        left: folded.is_boundary(place.start),
        right: folded.is_boundary(place.end),
        in_registrable: place.label == subject.registrable,
        risk: risks
            .iter()
            .find(|r| r.label != place.label || r.end <= place.start || r.start >= place.end)
            .map(|r| m.risk_words[r.word].as_str()),
        target: match keyword.legit {
            Some(l) => m.brands[keyword.brand as usize].legit[l as usize]
                .ascii
                .clone(),
            None => format!("brand '{}'", keyword.text),
        },
    };
    let signal = Signal {
        brand: keyword.brand,
        score: 0,
        kind: MatchKind::Combosquat,
        reason: String::new(),
        legit: keyword.legit,
        fuzzer: None,
    };

    let exact = pattern.edit == Edit::Exact;
    let plain_keyword = keyword.text.chars().all(|c| c.is_ascii_alphabetic());
    if !(exact && hit.whole)
        && dictionary().explains(folded, (place.start, place.end), exact, plain_keyword)
    {
        return None;
    }

    let scored = if pattern.edit == Edit::Exact && hit.whole && hit.in_registrable {
        Scored::Complete(whole_label_signal(m, subject, &hit, signal)?)
    } else if pattern.edit != Edit::Exact {
        variant_signal(m, subject, &hit, signal)?
    } else {
        exact_inside_signal(subject, &hit, signal)
    };
    match scored {
        Scored::Complete(signal) => Some(signal),
        Scored::Adjust(signal) => Some(adjust(subject, &hit, signal)),
    }
}

/// The exact keyword as the whole registrable label: the brand name itself, a repeated
/// letter, or a homoglyph.
fn whole_label_signal(
    m: &Matcher,
    subject: &Subject,
    hit: &KeywordHit,
    mut signal: Signal,
) -> Option<Signal> {
    let (raw, keyword, target) = (hit.raw, hit.keyword, &hit.target);
    let plain = raw.replace('-', "");
    if plain == keyword.text {
        // The TLD-swap check already covers a label equal to a legitimate one.
        if m.legit_labels.contains_key(raw) && keyword.legit.is_some() {
            return None;
        }
        signal.kind = MatchKind::BrandAsDomain;
        signal.score = BRAND_AS_DOMAIN;
        signal.reason = format!(
            "brand '{}' as the name of unrelated domain {}",
            keyword.text, subject.registrable_domain
        );
        add_whole_label_bonus(m, subject, keyword.brand, hit.risk, &mut signal);
    } else if raw.is_ascii() && collapse_repeats(&plain) == collapse_repeats(&keyword.text) {
        signal.kind = MatchKind::Typo;
        signal.score = TYPO_WHOLE_LABEL;
        signal.reason = format!("typo of {target}: '{raw}', repeated or dropped letter");
        add_whole_label_bonus(m, subject, keyword.brand, hit.risk, &mut signal);
    } else {
        let substitutions = describe_substitutions(raw, &keyword.text);
        signal.kind = MatchKind::Homoglyph;
        signal.score = if raw.is_ascii() {
            HOMOGLYPH_ASCII
        } else {
            HOMOGLYPH_UNICODE
        };
        signal.reason = if substitutions.is_empty() {
            format!("homoglyph of {target}: spelled '{raw}'")
        } else {
            format!("homoglyph of {target}: {}", substitutions.join(", "))
        };
    }
    Some(signal)
}

/// A one-edit variant of the keyword. It counts only as a whole word, or at one end of a
/// word for a long keyword; otherwise it is far too often an ordinary word close to the
/// brand (`cloud` in `soundcloud` for `icloud`).
fn variant_signal(
    m: &Matcher,
    subject: &Subject,
    hit: &KeywordHit,
    mut signal: Signal,
) -> Option<Scored> {
    let (raw, keyword, target) = (hit.raw, hit.keyword, &hit.target);
    let letters = keyword.folded.chars().count();
    let long = letters >= LONG_KEYWORD_LEN;
    let weak_first_letter = hit.pattern.first_letter && !long;
    let edit = hit.pattern.edit.describe();
    let whole_registrable = hit.whole && hit.in_registrable;

    if whole_registrable && weak_first_letter && raw.is_ascii() {
        // A changed first letter is the most visible change of all, and most names that
        // differ from a shorter brand there are other words (`finance` for `binance`).
        signal.kind = MatchKind::Typo;
        signal.score = TYPO_FIRST_LETTER;
        signal.reason = format!("typo of {target}: '{raw}', {edit}, first letter");
        return Some(Scored::Complete(signal));
    }
    let bounded = (hit.left && hit.right) || (long && (hit.left || hit.right));
    if keyword.whole_word || weak_first_letter || !bounded {
        return None;
    }
    if whole_registrable && !raw.is_ascii() {
        // A non-ASCII letter that the skeleton does not map (`є` for `e`) folds to a
        // left-out letter: this is a homoglyph, not a typo.
        let substitutions = describe_substitutions(raw, &keyword.text);
        signal.kind = MatchKind::Homoglyph;
        signal.score = HOMOGLYPH_ASCII;
        signal.reason = format!("homoglyph of {target}: {}", substitutions.join(", "));
        return Some(Scored::Complete(signal));
    }
    if whole_registrable {
        signal.kind = MatchKind::Typo;
        signal.score = TYPO_WHOLE_LABEL;
        signal.reason = format!("typo of {target}: '{raw}', {edit}");
        add_whole_label_bonus(m, subject, keyword.brand, hit.risk, &mut signal);
        return Some(Scored::Complete(signal));
    }

    (signal.kind, signal.score) = if hit.whole {
        (
            MatchKind::SubdomainBrand,
            SUBDOMAIN_BRAND - SUBDOMAIN_PENALTY,
        )
    } else if hit.left && hit.right {
        (MatchKind::Combosquat, TYPO_COMBOSQUAT)
    } else if letters >= VERY_LONG_KEYWORD_LEN {
        (MatchKind::Combosquat, TYPO_INSIDE_WORD_VERY_LONG)
    } else {
        (MatchKind::Combosquat, TYPO_INSIDE_WORD)
    };
    signal.reason = format!("typo of brand '{}' ({edit}) in '{raw}'", keyword.text);
    Some(Scored::Adjust(signal))
}

/// The exact keyword in a subdomain label or inside a longer registrable label.
fn exact_inside_signal(subject: &Subject, hit: &KeywordHit, mut signal: Signal) -> Scored {
    let (raw, keyword) = (hit.raw, hit.keyword);
    if hit.whole {
        signal.kind = MatchKind::SubdomainBrand;
        signal.score = SUBDOMAIN_BRAND;
        signal.reason = format!(
            "brand '{}' as subdomain '{raw}' of unrelated domain {}",
            keyword.text, subject.registrable_domain
        );
    } else if keyword.whole_word && !(hit.left && hit.right) {
        signal.kind = MatchKind::EmbeddedBrand;
        signal.score = EMBEDDED_SHORT;
        signal.reason = format!(
            "short brand '{}' inside the longer word '{raw}'",
            keyword.text
        );
        return Scored::Complete(signal);
    } else if hit.left || hit.right {
        signal.score = COMBOSQUAT;
        signal.reason = if raw.contains(keyword.text.as_str()) {
            format!("brand '{}' plus other words in '{raw}'", keyword.text)
        } else {
            format!(
                "look-alike spelling of brand '{}' plus other words in '{raw}'",
                keyword.text
            )
        };
    } else {
        signal.kind = MatchKind::EmbeddedBrand;
        signal.score = EMBEDDED;
        signal.reason = format!("brand '{}' embedded in '{raw}'", keyword.text);
    }
    Scored::Adjust(signal)
}

/// Adds the risk-word bonus, and the penalty of a signal found only in a subdomain label.
fn adjust(subject: &Subject, hit: &KeywordHit, mut signal: Signal) -> Signal {
    if let Some(word) = hit.risk {
        signal.score += RISK_WORD_BONUS;
        signal.reason.push_str(&format!(" with the word '{word}'"));
    }
    if !hit.in_registrable && signal.kind != MatchKind::SubdomainBrand {
        signal.score -= SUBDOMAIN_PENALTY;
        signal.reason.push_str(&format!(
            " (subdomain of unrelated domain {})",
            subject.registrable_domain
        ));
    }
    signal
}

/// Adds to a whole-label signal the risk-word bonus, and notes a public suffix shared with one
/// of the brand's legitimate domains.
fn add_whole_label_bonus(
    m: &Matcher,
    subject: &Subject,
    brand: u32,
    risk: Option<&str>,
    signal: &mut Signal,
) {
    let legit = &m.brands[brand as usize].legit;
    if legit.iter().any(|l| l.suffix == subject.suffix) {
        // Named but not scored: benign companies own one-edit names on a brand's own TLD
        // (`metatask.io` beside `metamask.io`), so the same suffix alone is no sign.
        signal
            .reason
            .push_str(&format!(" on the same suffix .{}", subject.suffix));
    }
    if let Some(word) = risk {
        signal.score += RISK_WORD_BONUS;
        signal.reason.push_str(&format!(" with the word '{word}'"));
    }
}

/// Collapses each run of one repeated character to one (`paypall` to `paypal`).
fn collapse_repeats(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// Keeps the brand with the strongest signal and turns its signals into one match.
fn combine(
    m: &Matcher,
    input: &str,
    ascii: &str,
    unicode: &str,
    signals: Vec<Signal>,
) -> Option<Match> {
    let top_brand = signals
        .iter()
        .max_by_key(|s| (s.score, std::cmp::Reverse(s.brand)))?
        .brand;
    let mut mine: Vec<Signal> = signals
        .into_iter()
        .filter(|s| s.brand == top_brand)
        .collect();
    mine.sort_by_key(|s| std::cmp::Reverse(s.score));

    let brand = &m.brands[top_brand as usize];
    let matched = mine
        .iter()
        .find_map(|s| s.legit)
        .map(|l| brand.legit[l as usize].ascii.clone())
        .unwrap_or_else(|| brand.brand.clone());
    let score = mine[0].score;
    let mut kinds = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut fuzzers = Vec::new();
    for signal in &mine {
        if !kinds.contains(&signal.kind) {
            kinds.push(signal.kind);
        }
        if let Some(fuzzer) = signal.fuzzer
            && !fuzzers.iter().any(|f| f == fuzzer)
        {
            fuzzers.push(fuzzer.to_string());
        }
        if reasons.len() < MAX_REASONS && !reasons.contains(&signal.reason) {
            reasons.push(signal.reason.clone());
        }
    }

    Some(Match {
        watchlist: brand.id.clone(),
        matched,
        input: input.to_string(),
        host: ascii.to_string(),
        unicode: unicode.to_string(),
        kinds,
        fuzzers,
        score,
        severity: severity_for(score),
        reasons,
    })
}
