//! Fast IDNA encoding for permutation candidates.
//!
//! Full UTS #46 processing (mapping, NFC, validity, bidi and context rules) took most of
//! the generation time for homoglyph-heavy domains in `benches/permute.rs`. Almost every
//! candidate is an already valid label in which a few characters were swapped for
//! look-alike letters. For those, only Punycode is left to do when every non-ASCII character
//! is "plain". A plain character is a Latin or Cyrillic letter that UTS #46 keeps as it is.
//! It is a starter, so swapping it in cannot break NFC. Its bidi class is L, so no bidi rule
//! applies, and no context rule applies to it either. [`PlainChars`] holds the characters
//! checked to be so; a candidate with any other character goes through full UTS #46. Since
//! a right-to-left letter is never plain, a name with one always takes the full path, where
//! the bidi rule is checked across all its labels.
//!
//! Punycode (RFC 3492) is written here rather than taken from `idna::punycode`, whose
//! public encoder returns a new `String` per label; this one appends to a reused buffer.

use std::sync::OnceLock;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use super::data::tables;
use super::name::{MAX_LABEL_LEN, MAX_NAME_LEN};

/// Returns the plain characters of every look-alike table, built on first use.
pub fn table_chars() -> &'static PlainChars {
    static PLAIN: OnceLock<PlainChars> = OnceLock::new();
    PLAIN.get_or_init(|| {
        let mut plain = PlainChars::default();
        let idn_tables = tables::GLYPHS_IDN_BY_TLD.iter().map(|(_, glyphs)| *glyphs);
        for glyphs in std::iter::once(tables::GLYPHS_UNICODE).chain(idn_tables) {
            for (_, replacements) in glyphs {
                for replacement in *replacements {
                    plain.add_from(replacement);
                }
            }
        }
        for (_, cyrillic) in tables::LATIN_TO_CYRILLIC {
            plain.add_from(cyrillic.encode_utf8(&mut [0u8; 4]));
        }
        plain
    })
}

/// Code points from here on are never plain (the last plain block ends at U+A7FF).
const PLAIN_LIMIT: usize = 0xA800;

/// Non-ASCII characters known to need only Punycode encoding.
#[derive(Debug, Default)]
pub struct PlainChars {
    /// One bit a code point below [`PLAIN_LIMIT`]; plain letters all lie below it.
    bits: Vec<u64>,
    len: usize,
}

/// Result of the fast path.
#[derive(Debug, PartialEq, Eq)]
pub enum FastEncoding {
    /// The name is valid; its ASCII form was written to the output buffer.
    Valid,
    /// The name breaks a DNS or IDNA rule and must be dropped.
    Invalid,
    /// The name has a character the fast path cannot judge; use full UTS #46 processing.
    Unknown,
}

impl PlainChars {
    /// Adds every character of `text` that passes the checks in the module documentation;
    /// others are left out and send their candidates to the slow path.
    pub fn add_from(&mut self, text: &str) {
        for c in text.chars() {
            if !c.is_ascii() && !self.contains(c) && is_plain(c) {
                if self.bits.is_empty() {
                    self.bits = vec![0; PLAIN_LIMIT / 64];
                }
                self.bits[c as usize / 64] |= 1 << (c as usize % 64);
                self.len += 1;
            }
        }
    }

    /// Returns whether `c` is in the set.
    pub fn contains(&self, c: char) -> bool {
        let index = c as usize;
        index < PLAIN_LIMIT
            && !self.bits.is_empty()
            && self.bits[index / 64] & (1 << (index % 64)) != 0
    }
}

/// Fast encoder for the candidates of one domain: shared plain characters plus the plain
/// characters of the input domain.
#[derive(Debug)]
pub struct Encoder<'a> {
    shared: &'a PlainChars,
    own: PlainChars,
}

impl<'a> Encoder<'a> {
    /// Builds an encoder that also accepts the plain characters of `domain`.
    pub fn new(shared: &'a PlainChars, domain: &str) -> Encoder<'a> {
        let mut own = PlainChars::default();
        own.add_from(domain);
        Encoder { shared, own }
    }

    /// Encodes `name` into `out` when all its non-ASCII characters are plain.
    ///
    /// Checks what UTS #46 would check for such a name: letters, digits and hyphens only,
    /// no hyphen first or last, no `--` in the third and fourth position, label and name
    /// lengths after encoding.
    pub fn encode(&self, name: &str, out: &mut String) -> FastEncoding {
        out.clear();
        for (index, label) in name.split('.').enumerate() {
            if index > 0 {
                out.push('.');
            }
            match self.encode_label(label, out) {
                FastEncoding::Valid => {}
                other => return other,
            }
        }
        if out.len() > MAX_NAME_LEN {
            return FastEncoding::Invalid;
        }
        FastEncoding::Valid
    }

    fn encode_label(&self, label: &str, out: &mut String) -> FastEncoding {
        let bytes = label.as_bytes();
        if bytes.is_empty() || bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return FastEncoding::Invalid;
        }
        if label.starts_with("xn--") {
            // An existing A-label: UTS #46 checks that it decodes.
            return FastEncoding::Unknown;
        }

        let mut ascii = true;
        for (position, c) in label.chars().enumerate() {
            if c.is_ascii() {
                if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                    return FastEncoding::Invalid;
                }
                // RFC 5891 section 4.2.3.1: "--" in the third and fourth position is reserved.
                if c == '-'
                    && (position == 2 || position == 3)
                    && third_and_fourth_are_hyphens(label)
                {
                    return FastEncoding::Invalid;
                }
            } else if self.shared.contains(c) || self.own.contains(c) {
                ascii = false;
            } else {
                return FastEncoding::Unknown;
            }
        }

        let start = out.len();
        if ascii {
            out.push_str(label);
        } else {
            out.push_str("xn--");
            if !punycode_encode(label, out) {
                return FastEncoding::Invalid;
            }
        }
        if out.len() - start > MAX_LABEL_LEN {
            return FastEncoding::Invalid;
        }
        FastEncoding::Valid
    }
}

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 0x80;

/// Appends the Punycode form of `input` (without the `xn--` prefix) to `out`, as RFC 3492
/// section 6.3 specifies. Returns false for input of more than 63 characters, whose output
/// could not be a DNS label anyway.
fn punycode_encode(input: &str, out: &mut String) -> bool {
    // Each character gives at least one output character, so a label of more than 63
    // characters cannot fit in DNS; that bound keeps the code points on the stack.
    let mut code_points = [0u32; MAX_LABEL_LEN];
    let mut total: u32 = 0;
    let mut basic: u32 = 0;
    for c in input.chars() {
        let Some(slot) = code_points.get_mut(total as usize) else {
            return false;
        };
        *slot = u32::from(c);
        total += 1;
        if c.is_ascii() {
            out.push(c);
            basic += 1;
        }
    }
    let code_points = &code_points[..total as usize];
    if basic > 0 {
        out.push('-');
    }

    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
    while handled < total {
        let Some(m) = code_points.iter().copied().filter(|&c| c >= n).min() else {
            return false;
        };
        let Some(next) = (m - n)
            .checked_mul(handled + 1)
            .and_then(|step| delta.checked_add(step))
        else {
            return false;
        };
        delta = next;
        n = m;
        for &c in code_points {
            if c < n {
                let Some(next) = delta.checked_add(1) else {
                    return false;
                };
                delta = next;
            } else if c == n {
                push_variable_integer(delta, bias, out);
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    true
}

fn push_variable_integer(value: u32, bias: u32, out: &mut String) {
    let mut q = value;
    let mut k = BASE;
    loop {
        let t = if k <= bias {
            T_MIN
        } else if k >= bias + T_MAX {
            T_MAX
        } else {
            k - bias
        };
        if q < t {
            break;
        }
        out.push(punycode_digit(t + (q - t) % (BASE - t)));
        q = (q - t) / (BASE - t);
        k += BASE;
    }
    out.push(punycode_digit(q));
}

fn punycode_digit(d: u32) -> char {
    // Digits 0..=25 are a..=z and 26..=35 are 0..=9; `d` is below 36 by construction.
    let byte = if d < 26 {
        b'a' + d as u8
    } else {
        b'0' + (d - 26) as u8
    };
    char::from(byte)
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn third_and_fourth_are_hyphens(label: &str) -> bool {
    let mut chars = label.chars().skip(2);
    chars.next() == Some('-') && chars.next() == Some('-')
}

/// Checks that a character is a plain letter, as defined in the module documentation.
fn is_plain(c: char) -> bool {
    if !in_plain_blocks(c) {
        return false;
    }
    // UTS #46 must keep the character unchanged and accept it in a label.
    let mut text = [0u8; 4];
    let text: &str = c.encode_utf8(&mut text);
    let Ok(ascii) = Uts46::new().to_ascii(
        text.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::Check,
        DnsLength::Verify,
    ) else {
        return false;
    };
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.is_ok() && unicode == text
}

/// Latin and Cyrillic letter blocks, without their combining marks (U+0483..=U+0489 and
/// U+1DC0..=U+1DFF) and without modifier letters (U+02B0..=U+02FF). Every letter here has
/// bidi class L and is a starter.
fn in_plain_blocks(c: char) -> bool {
    matches!(c as u32,
        0x00C0..=0x02AF          // Latin-1 Supplement letters, Latin Extended-A and -B, IPA
        | 0x0400..=0x0482        // Cyrillic letters before the combining marks
        | 0x048A..=0x052F        // rest of Cyrillic and Cyrillic Supplement
        | 0x1D00..=0x1DBF        // Phonetic Extensions
        | 0x1E00..=0x1EFF        // Latin Extended Additional
        | 0x2C60..=0x2C7F        // Latin Extended-C
        | 0xA720..=0xA7FF) // Latin Extended-D
        && !matches!(c, '\u{00D7}' | '\u{00F7}') // multiplication and division signs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(name: &str) -> Option<String> {
        Uts46::new()
            .to_ascii(
                name.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::Check,
                DnsLength::Verify,
            )
            .ok()
            .map(|ascii| ascii.into_owned())
    }

    fn encoder() -> Encoder<'static> {
        Encoder::new(table_chars(), "")
    }

    #[test]
    fn table_characters_are_mostly_plain() {
        let plain = table_chars();
        assert!(plain.contains('ạ'));
        assert!(plain.contains('ӏ'));
        assert!(plain.len > 200, "{}", plain.len);
    }

    #[test]
    fn fast_path_matches_uts46() {
        let plain = encoder();
        let names = [
            "pаypal.com",
            "раураӏ.com",
            "pąypął.com",
            "ǆxample.com",
            "e-ẋample.com",
            "ab--ẋample.com",
            "-ẋample.com",
            "ẋample-.com",
            "pay.ạl.com",
        ];
        let mut out = String::new();
        for name in names {
            match plain.encode(name, &mut out) {
                FastEncoding::Valid => assert_eq!(Some(out.clone()), full(name), "{name}"),
                FastEncoding::Invalid => assert_eq!(full(name), None, "{name}"),
                FastEncoding::Unknown => {}
            }
        }
    }

    #[test]
    fn unknown_characters_take_the_slow_path() {
        let plain = encoder();
        let mut out = String::new();
        // Hebrew (bidi rules), a combining mark, and an upper-case letter UTS #46 maps.
        for name in [
            "שלום.com",
            "e\u{0301}xample.com",
            "Ẋample.com",
            "xn--bcher-kva.de",
        ] {
            assert_eq!(
                plain.encode(name, &mut out),
                FastEncoding::Unknown,
                "{name}"
            );
        }
    }

    #[test]
    fn right_to_left_names_take_the_slow_path() {
        let encoder = Encoder::new(table_chars(), "bücher.مثال");
        let mut out = String::new();
        // A label starting with a digit breaks the bidi rule when another label is RTL.
        assert_eq!(
            encoder.encode("0ücher.مثال", &mut out),
            FastEncoding::Unknown
        );
        assert_eq!(full("0ücher.مثال"), None);
    }

    #[test]
    fn plain_check_rejects_mapped_and_foreign_characters() {
        assert!(is_plain('ä'));
        assert!(is_plain('ӏ'));
        assert!(!is_plain('Ä'), "upper case is mapped by UTS #46");
        assert!(!is_plain('\u{0301}'), "combining mark");
        assert!(!is_plain('ǆ'), "UTS #46 maps the dz digraph");
        assert!(!is_plain('א'), "right-to-left");
    }

    #[test]
    fn punycode_matches_idna_crate() {
        let labels = [
            "bücher",
            "раураӏ",
            "pаypal",
            "ạạạạ",
            "ẋ",
            "a-ü-b",
            "ǆ",
            "münchen-straße",
            "ü",
        ];
        for label in labels {
            let mut out = String::new();
            assert!(punycode_encode(label, &mut out), "{label}");
            assert_eq!(Some(out), idna::punycode::encode_str(label), "{label}");
        }
    }

    #[test]
    fn too_long_label_is_invalid() {
        let plain = encoder();
        let mut out = String::new();
        let label = format!("{}ạ", "a".repeat(60));
        assert_eq!(
            plain.encode(&format!("{label}.com"), &mut out),
            FastEncoding::Invalid
        );
        assert_eq!(full(&format!("{label}.com")), None);
    }
}
