//! The fuzzers: each turns the registrable label of a domain (in Unicode, `paypal` for
//! `paypal.com`) into candidate labels or names and hands them to a [`Sink`], which
//! assembles, validates and deduplicates them.
//!
//! The edits follow what dnstwist 20250130 generates with its default fuzzers, so our output
//! contains all of its names. Where noted, a fuzzer makes a few more.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use super::data::tables;
use super::permute::Sink;

/// Characters a bit flip may produce and still leave a host-name character.
fn is_host_char(c: u32) -> bool {
    matches!(c, 0x61..=0x7a | 0x30..=0x39 | 0x2d)
}

/// Letters and digits appended by the addition fuzzer.
const ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

const VOWELS: &[char] = &['a', 'e', 'i', 'o', 'u'];

/// A label split into characters, with the byte offset of each character.
pub struct Label<'a> {
    text: &'a str,
    chars: Vec<char>,
    /// Byte offset of every character, then `text.len()`.
    bounds: Vec<usize>,
}

impl<'a> Label<'a> {
    pub fn new(text: &'a str) -> Label<'a> {
        let chars = text.chars().collect();
        let mut bounds: Vec<usize> = text.char_indices().map(|(offset, _)| offset).collect();
        bounds.push(text.len());
        Label {
            text,
            chars,
            bounds,
        }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    /// Text before character `i`.
    fn before(&self, i: usize) -> &'a str {
        &self.text[..self.bounds[i]]
    }

    /// Text from character `i` on.
    fn from(&self, i: usize) -> &'a str {
        &self.text[self.bounds[i]..]
    }
}

/// Neighbouring keys on QWERTY, QWERTZ and AZERTY keyboards together, by ASCII code.
fn keyboard_neighbours() -> &'static [Vec<char>; 128] {
    static NEIGHBOURS: OnceLock<[Vec<char>; 128]> = OnceLock::new();
    NEIGHBOURS.get_or_init(|| {
        let mut neighbours: [Vec<char>; 128] = std::array::from_fn(|_| Vec::new());
        for layout in [tables::QWERTY, tables::QWERTZ, tables::AZERTY] {
            for &(key, around) in layout {
                let list = &mut neighbours[usize::from(key)];
                for c in around.chars() {
                    if !list.contains(&c) {
                        list.push(c);
                    }
                }
            }
        }
        neighbours
    })
}

fn neighbours_of(c: char) -> &'static [char] {
    if c.is_ascii() {
        &keyboard_neighbours()[c as usize]
    } else {
        &[]
    }
}

pub fn addition(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 1);
    for &c in ALPHANUMERIC {
        buf.clear();
        buf.push_str(label.text);
        buf.push(char::from(c));
        sink.label(&buf);
    }

    // In hyphenated labels, also add before each hyphen: credit1-agricole.
    for (offset, _) in label.text.match_indices('-') {
        for &c in ALPHANUMERIC {
            buf.clear();
            buf.push_str(&label.text[..offset]);
            buf.push(char::from(c));
            buf.push_str(&label.text[offset..]);
            sink.label(&buf);
        }
    }
}

pub fn bitsquatting(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len());
    for (i, &c) in label.chars.iter().enumerate() {
        for bit in 0..8 {
            let flipped = c as u32 ^ (1 << bit);
            if is_host_char(flipped) {
                buf.clear();
                buf.push_str(label.before(i));
                buf.push(char::from_u32(flipped).unwrap_or(c));
                buf.push_str(label.from(i + 1));
                sink.label(&buf);
            }
        }
    }
}

/// Writes the whole label in Cyrillic look-alikes, only when every character has one
/// (a registry refuses labels that mix scripts).
pub fn cyrillic(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() * 2);
    for &c in &label.chars {
        match tables::LATIN_TO_CYRILLIC
            .iter()
            .find(|(latin, _)| *latin == c)
        {
            Some(&(_, cyrillic)) => buf.push(cyrillic),
            None => return,
        }
    }
    sink.label(&buf);
}

/// Look-alike strings of one or two ASCII characters for one suffix.
pub struct GlyphTable {
    single: [Vec<&'static str>; 128],
    pairs: Vec<([u8; 2], Vec<&'static str>)>,
}

impl GlyphTable {
    /// Builds the table for a suffix: the ASCII look-alikes plus the suffix's IDN table, or
    /// the general Unicode table when the suffix has none.
    pub fn for_suffix(suffix: &str) -> GlyphTable {
        let idn = tables::GLYPHS_IDN_BY_TLD
            .iter()
            .find(|(tlds, _)| tlds.contains(&suffix))
            .map_or(tables::GLYPHS_UNICODE, |&(_, glyphs)| glyphs);
        let mut table = GlyphTable {
            single: std::array::from_fn(|_| Vec::new()),
            pairs: Vec::new(),
        };
        for &(key, glyphs) in tables::GLYPHS_ASCII.iter().chain(idn) {
            table.add(key, glyphs);
        }
        table
    }

    fn add(&mut self, key: &str, glyphs: &[&'static str]) {
        let list = match *key.as_bytes() {
            [c] => &mut self.single[usize::from(c)],
            [a, b] => match self.pairs.iter().position(|(pair, _)| *pair == [a, b]) {
                Some(index) => &mut self.pairs[index].1,
                None => {
                    self.pairs.push(([a, b], Vec::new()));
                    &mut self.pairs.last_mut().expect("pair just pushed").1
                }
            },
            _ => return,
        };
        for glyph in glyphs {
            if !list.contains(glyph) {
                list.push(glyph);
            }
        }
    }

    fn single(&self, c: char) -> &[&'static str] {
        if c.is_ascii() {
            &self.single[c as usize]
        } else {
            &[]
        }
    }

    fn pair(&self, a: char, b: char) -> &[&'static str] {
        if !(a.is_ascii() && b.is_ascii()) {
            return &[];
        }
        let key = [a as u8, b as u8];
        self.pairs
            .iter()
            .find(|(pair, _)| *pair == key)
            .map_or(&[], |(_, glyphs)| glyphs)
    }

    /// Calls `emit` with every string made by one substitution in `text`: one character, a
    /// doubled character (both replaced by the same glyph), or a two-character key (`rn`).
    fn substitute(&self, text: &str, buf: &mut String, emit: &mut impl FnMut(&str)) {
        let label = Label::new(text);
        for (i, &c) in label.chars.iter().enumerate() {
            for glyph in self.single(c) {
                splice(buf, label.before(i), &[glyph], label.from(i + 1));
                emit(buf);
            }
        }
        for i in 1..label.len() {
            let (a, b) = (label.chars[i - 1], label.chars[i]);
            if a == b {
                for glyph in self.single(a) {
                    splice(buf, label.before(i - 1), &[glyph, glyph], label.from(i + 1));
                    emit(buf);
                }
            }
            for glyph in self.pair(a, b) {
                splice(buf, label.before(i - 1), &[glyph], label.from(i + 1));
                emit(buf);
            }
        }
    }
}

fn splice(buf: &mut String, before: &str, middle: &[&str], after: &str) {
    buf.clear();
    buf.push_str(before);
    for part in middle {
        buf.push_str(part);
    }
    buf.push_str(after);
}

/// Applies one substitution, then a second one on each result.
///
/// Half of the second-round strings are repeats (two substitutions in either order), so
/// they are filtered here, before the sink spends an IDNA encoding on each.
pub fn homoglyph(label: &Label, glyphs: &GlyphTable, sink: &mut Sink) {
    let mut seen = StringSet::default();
    seen.insert(label.text);

    let mut buf = String::with_capacity(label.text.len() * 2);
    let mut first: Vec<String> = Vec::new();
    glyphs.substitute(label.text, &mut buf, &mut |candidate| {
        if seen.insert(candidate) {
            first.push(candidate.to_owned());
        }
    });
    for candidate in &first {
        sink.label(candidate);
    }

    let mut second = String::with_capacity(label.text.len() * 3);
    for candidate in &first {
        glyphs.substitute(candidate, &mut second, &mut |twice| {
            if seen.insert(twice) {
                sink.label(twice);
            }
        });
    }
}

/// Set of strings stored end to end in one buffer, so that inserting costs no allocation
/// of its own.
#[derive(Default)]
struct StringSet {
    text: String,
    /// Start and length in `text` of each string, by hash.
    spans: HashTable<(usize, usize)>,
    hasher: FixedState,
}

impl StringSet {
    /// Inserts `value`; returns false when it was already there.
    fn insert(&mut self, value: &str) -> bool {
        let StringSet {
            text,
            spans,
            hasher,
        } = self;
        let hash = hasher.hash_one(value);
        if spans
            .find(hash, |&(start, len)| &text[start..start + len] == value)
            .is_some()
        {
            return false;
        }
        let span = (text.len(), value.len());
        text.push_str(value);
        spans.insert_unique(hash, span, |&(start, len)| {
            hasher.hash_one(&text[start..start + len])
        });
        true
    }
}

pub fn hyphenation(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 1);
    for i in 1..label.len() {
        splice(&mut buf, label.before(i), &["-"], label.from(i));
        sink.label(&buf);
    }
}

/// Inserts each keyboard neighbour before and after each character, the last one included.
pub fn insertion(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 1);
    let mut key = [0u8; 4];
    for (i, &c) in label.chars.iter().enumerate() {
        for &neighbour in neighbours_of(c) {
            let neighbour: &str = neighbour.encode_utf8(&mut key);
            splice(&mut buf, label.before(i), &[neighbour], label.from(i));
            sink.label(&buf);
            splice(
                &mut buf,
                label.before(i + 1),
                &[neighbour],
                label.from(i + 1),
            );
            sink.label(&buf);
        }
    }
}

pub fn omission(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len());
    for i in 0..label.len() {
        splice(&mut buf, label.before(i), &[], label.from(i + 1));
        sink.label(&buf);
    }
}

/// Adds `s` (or `es` after s, x and z) after each inner character, and at the end.
pub fn plural(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 2);
    let ending = |c: char| {
        if matches!(c, 's' | 'x' | 'z') {
            "es"
        } else {
            "s"
        }
    };
    for i in 2..label.len().saturating_sub(2) {
        splice(
            &mut buf,
            label.before(i + 1),
            &[ending(label.chars[i])],
            label.from(i + 1),
        );
        sink.label(&buf);
    }
    if let Some(&last) = label.chars.last() {
        splice(&mut buf, label.text, &[ending(last)], "");
        sink.label(&buf);
    }
}

pub fn repetition(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 4);
    for i in 0..label.len() {
        let c = &label.text[label.bounds[i]..label.bounds[i + 1]];
        splice(&mut buf, label.before(i), &[c], label.from(i));
        sink.label(&buf);
    }
}

pub fn replacement(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len());
    let mut key = [0u8; 4];
    for (i, &c) in label.chars.iter().enumerate() {
        for &neighbour in neighbours_of(c) {
            let neighbour: &str = neighbour.encode_utf8(&mut key);
            splice(&mut buf, label.before(i), &[neighbour], label.from(i + 1));
            sink.label(&buf);
        }
    }
}

/// Splits the label in two with a dot: `pay.pal.com`.
pub fn subdomain(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len() + 1);
    for i in 1..label.len().saturating_sub(1) {
        if label.chars[i] != '-' && label.chars[i - 1] != '-' {
            splice(&mut buf, label.before(i), &["."], label.from(i));
            sink.label(&buf);
        }
    }
}

pub fn transposition(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len());
    let mut first = [0u8; 4];
    let mut second = [0u8; 4];
    for i in 1..label.len() {
        let a: &str = label.chars[i - 1].encode_utf8(&mut first);
        let b: &str = label.chars[i].encode_utf8(&mut second);
        splice(&mut buf, label.before(i - 1), &[b, a], label.from(i + 1));
        sink.label(&buf);
    }
}

pub fn vowel_swap(label: &Label, sink: &mut Sink) {
    let mut buf = String::with_capacity(label.text.len());
    let mut key = [0u8; 4];
    for (i, c) in label.chars.iter().enumerate() {
        if !VOWELS.contains(c) {
            continue;
        }
        for &vowel in VOWELS.iter().filter(|vowel| *vowel != c) {
            let vowel: &str = vowel.encode_utf8(&mut key);
            splice(&mut buf, label.before(i), &[vowel], label.from(i + 1));
            sink.label(&buf);
        }
    }
}

/// Suffix and subdomain games: `paypalcom.com`, `paypal-com.com`, `bank-fr.com`,
/// `exampleco.uk`, `example.uk`, and for `www.example.com` also `wwwexample.com` and
/// `www-example.com`. Every name here is whole, not a label.
pub fn various(subdomain: &str, label: &str, suffix: &str, sink: &mut Sink) {
    let with_sub = |name: &str| {
        if subdomain.is_empty() {
            name.to_owned()
        } else {
            format!("{subdomain}.{name}")
        }
    };

    if let Some((_, last)) = suffix.rsplit_once('.') {
        sink.name(&with_sub(&format!("{label}.{last}")));
        sink.name(&with_sub(&format!("{label}{suffix}")));
    } else {
        sink.name(&with_sub(&format!("{label}{suffix}.{suffix}")));
        // dnstwist skips this one for .com; `paypal-com.com` is still a plausible lure.
        sink.name(&with_sub(&format!("{label}-{suffix}.com")));
        if suffix != "com" {
            sink.name(&with_sub(&format!("{label}{suffix}.com")));
        }
    }

    if !subdomain.is_empty() {
        let joined = subdomain.replace('.', "");
        let hyphenated = subdomain.replace('.', "-");
        sink.name(&format!("{subdomain}{label}.{suffix}"));
        sink.name(&format!("{joined}{label}.{suffix}"));
        sink.name(&format!("{subdomain}-{label}.{suffix}"));
        sink.name(&format!("{hyphenated}-{label}.{suffix}"));
    }
}

/// Adds each word before and after the label, with and without a hyphen. In a hyphenated
/// label, it also replaces the first or last part with the word.
pub fn dictionary(label: &Label, words: &[&str], sink: &mut Sink) {
    let text = label.text;
    let mut buf = String::with_capacity(text.len() + 32);
    for word in words {
        if text.starts_with(word) && text.ends_with(word) {
            continue;
        }
        for parts in [
            [text, "-", word],
            [text, "", word],
            [word, "-", text],
            [word, "", text],
        ] {
            splice(&mut buf, parts[0], &[parts[1]], parts[2]);
            sink.label(&buf);
        }
    }

    if let (Some((head, _)), Some((_, tail))) = (text.rsplit_once('-'), text.split_once('-')) {
        for word in words {
            splice(&mut buf, head, &["-"], word);
            sink.label(&buf);
            splice(&mut buf, word, &["-"], tail);
            sink.label(&buf);
        }
    }
}

/// Puts the label under each other TLD.
pub fn tld_swap(subdomain: &str, label: &str, suffix: &str, tlds: &[&str], sink: &mut Sink) {
    let mut buf = String::with_capacity(subdomain.len() + label.len() + 16);
    for tld in tlds.iter().filter(|tld| **tld != suffix) {
        buf.clear();
        if !subdomain.is_empty() {
            buf.push_str(subdomain);
            buf.push('.');
        }
        buf.push_str(label);
        buf.push('.');
        buf.push_str(tld);
        sink.name(&buf);
    }
}
