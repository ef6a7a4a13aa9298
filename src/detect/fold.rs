//! Folding of labels and keywords to one comparable form, and parsing of raw inputs to host
//! names.
//!
//! Folding applies, in order: lower-casing, the UTS #39 confusable skeleton to non-ASCII
//! characters (so `е` in Cyrillic and `e` in Latin fold alike, and what stays outside ASCII
//! is dropped), the digits that phishers use
//! for letters (`0 1 3 4 5 7` for `o l e a s t`), `rn` to `m` and `vv` to `w`, removal of
//! separators (`-`, `_`, other digits), and the collapse of repeated letters (`faceboook` and
//! `facebook` fold alike). The positions where a separator was removed are kept as word
//! boundaries.
//!
//! NOTE: `cl` is not folded to `d` (UTS #39 does so) because the pair is common in ordinary
//! words; `c1ick`-style look-alikes of a `d` are missed.

use std::net::IpAddr;
use std::sync::LazyLock;

use unicode_script::UnicodeScript;

use super::DetectError;

/// A folded label: the comparable text and the byte offsets in it where a separator was.
#[derive(Debug, Default, Clone)]
pub(crate) struct Folded {
    pub text: String,
    /// Offsets in `text` where a separator was removed; sorted, without duplicates.
    pub breaks: Vec<usize>,
}

impl Folded {
    /// Returns whether `offset` is a word boundary: an end of the text or a removed separator.
    pub fn is_boundary(&self, offset: usize) -> bool {
        offset == 0 || offset == self.text.len() || self.breaks.binary_search(&offset).is_ok()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.breaks.clear();
    }

    fn push_break(&mut self) {
        let at = self.text.len();
        if at > 0 && self.breaks.last() != Some(&at) {
            self.breaks.push(at);
        }
    }

    fn push_char(&mut self, c: char) {
        let at = self.text.len();
        let after_break = self.breaks.last() == Some(&at);
        if !after_break {
            // `rn` and `vv` read as `m` and `w`. UTS #39 folds the other way (`m` to `rn`),
            // but one letter for one keeps a transposed `m` at one edit from the keyword.
            let pair = match (self.text.chars().next_back(), c) {
                (Some('r'), 'n') => Some('m'),
                (Some('v'), 'v') => Some('w'),
                _ => None,
            };
            if let Some(single) = pair {
                self.text.pop();
                self.push_char(single);
                return;
            }
            // A repeated letter folds to one, unless a separator is between the two.
            if self.text.ends_with(c) {
                return;
            }
        }
        self.text.push(c);
    }
}

/// Folded form of each ASCII character, `None` for a separator.
static ASCII_FOLD: LazyLock<Vec<Option<String>>> = LazyLock::new(|| {
    // ASCII letters keep their own form; the skeleton would turn `m` into `rn`, see above.
    (0u8..128)
        .map(|b| {
            let c = b as char;
            match c {
                '0' => Some("o".to_string()),
                '1' => Some("l".to_string()),
                '3' => Some("e".to_string()),
                '4' => Some("a".to_string()),
                '5' => Some("s".to_string()),
                '7' => Some("t".to_string()),
                'a'..='z' | 'A'..='Z' => Some(c.to_ascii_lowercase().to_string()),
                _ => None,
            }
        })
        .collect()
});

/// Folds `label` into `out`, replacing what `out` held.
pub(crate) fn fold_into(label: &str, out: &mut Folded) {
    out.clear();
    // In a label of mostly digits (`902246081`) the digits are a number, not letters in
    // disguise: they only separate words.
    let digits = label.bytes().filter(u8::is_ascii_digit).count();
    let letters = label.chars().filter(|c| c.is_alphabetic()).count();
    let digits_are_letters = digits <= letters;
    let mut buffer = [0u8; 4];
    for c in label.chars() {
        if c.is_ascii_digit() && !digits_are_letters {
            out.push_break();
            continue;
        }
        if c.is_ascii() {
            push_ascii(c, out);
            continue;
        }
        let text: &str = c.encode_utf8(&mut buffer);
        for p in unicode_security::skeleton(text) {
            if p.is_ascii() {
                push_ascii(p, out);
            }
            // A letter the skeleton leaves outside ASCII (`є`, `ʀ`, `ε`) is dropped, so that a
            // Latin name with one such letter is one edit (a left-out letter) from the brand.
            // Combining marks left by the decomposition carry no letter either.
        }
    }
}

fn push_ascii(c: char, out: &mut Folded) {
    match &ASCII_FOLD[c as usize] {
        Some(folded) => folded.chars().for_each(|f| out.push_char(f)),
        None => out.push_break(),
    }
}

/// Folds `text` and returns the folded text alone.
pub(crate) fn fold(text: &str) -> String {
    let mut out = Folded::default();
    fold_into(text, &mut out);
    out.text
}

/// A host name taken from an input line, in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// ASCII (punycode) form, lower-case, without a final dot.
    pub ascii: String,
    /// Unicode form of the same name.
    pub unicode: String,
}

/// Takes the host name out of a domain, host name or URL.
///
/// Returns `Ok(None)` for an IP address, which is valid input but never a lookalike.
/// Defanged input (`hxxps://evil[.]example`) is read as the original.
pub(crate) fn parse_input(input: &str) -> Result<Option<Host>, DetectError> {
    let invalid = |reason: &str| DetectError::InvalidInput {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let text = input.trim().replace("[.]", ".").replace("(.)", ".");
    if text.is_empty() {
        return Err(invalid("empty line; give a domain, host name or URL"));
    }

    let authority = match text.find("://") {
        Some(at) => &text[at + 3..],
        None => text.as_str(),
    };
    let end = authority
        .find(['/', '?', '#', '\\'])
        .unwrap_or(authority.len());
    let authority = &authority[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(inner) = host_port.strip_prefix('[') {
        let inner = inner.split(']').next().unwrap_or_default();
        return match inner.parse::<IpAddr>() {
            Ok(_) => Ok(None),
            Err(_) => Err(invalid("bracketed host is not an IPv6 address")),
        };
    }
    let host = host_port.split(':').next().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(invalid("no host name; give a domain, host name or URL"));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }

    let ascii = idna::domain_to_ascii(host)
        .map_err(|_| invalid("not a valid IDNA host name; check for stray characters"))?;
    check_host_syntax(&ascii).map_err(|reason| invalid(&reason))?;
    Ok(Some(Host {
        unicode: to_unicode(&ascii),
        ascii,
    }))
}

/// Converts an ASCII host name to Unicode label by label. A label that breaks an IDNA rule
/// but is valid punycode is still decoded: a lookalike need not follow the rules to be read.
fn to_unicode(ascii: &str) -> String {
    let (unicode, result) = idna::domain_to_unicode(ascii);
    if result.is_ok() {
        return unicode;
    }
    let labels: Vec<String> = ascii
        .split('.')
        .map(|label| {
            label
                .strip_prefix("xn--")
                .and_then(idna::punycode::decode_to_string)
                .unwrap_or_else(|| label.to_string())
        })
        .collect();
    labels.join(".")
}

/// Checks the DNS limits on an ASCII host name: 253 bytes, labels of 1 to 63 letters, digits,
/// hyphens or underscores.
pub(crate) fn check_host_syntax(ascii: &str) -> Result<(), String> {
    if ascii.len() > 253 {
        return Err("host name longer than 253 bytes".to_string());
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err("empty label (two dots in a row)".to_string());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} longer than 63 bytes"));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("character {bad:?} is not allowed in a host name"));
        }
    }
    Ok(())
}

/// Describes how `label` differs from `keyword` character by character, e.g.
/// `е is Cyrillic` or `1 for l`, for a reason text.
pub(crate) fn describe_substitutions(label: &str, keyword: &str) -> Vec<String> {
    let label_chars: Vec<char> = label.chars().filter(|c| *c != '-').collect();
    let keyword_chars: Vec<char> = keyword.chars().collect();
    let mut out = Vec::new();
    if label_chars.len() == keyword_chars.len() {
        for (l, k) in label_chars.iter().zip(&keyword_chars) {
            if l == k {
                continue;
            }
            if l.is_ascii() {
                out.push(format!("{l} for {k}"));
            } else {
                out.push(format!("{l} is {}", l.script().full_name()));
            }
        }
    } else {
        for l in label_chars.iter().filter(|c| !c.is_ascii()) {
            out.push(format!("{l} is {}", l.script().full_name()));
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_maps_confusables_alike() {
        assert_eq!(fold("examp1e"), fold("example"));
        assert_eq!(fold("\u{0435}x\u{0430}mple"), fold("example"));
        assert_eq!(fold("faceboook"), fold("facebook"));
        assert_eq!(fold("rnicrosoft"), fold("microsoft"));
        assert_eq!(fold("amaz0n"), fold("amazon"));
        assert_ne!(fold("example"), fold("exempla"));
    }

    #[test]
    fn fold_reads_digits_of_a_number_as_separators() {
        assert_eq!(fold("902246081"), "");
        assert_eq!(fold("faceb00k"), fold("facebook"));
    }

    #[test]
    fn fold_keeps_word_boundaries() {
        let mut f = Folded::default();
        fold_into("pay-pal2login", &mut f);
        assert_eq!(f.text, "paypallogin");
        assert!(f.is_boundary(3));
        assert!(f.is_boundary(6));
        assert!(!f.is_boundary(4));
    }

    #[test]
    fn parse_input_takes_host_of_url() {
        let host = parse_input("https://user@PayPal.com.evil.net:8443/login?x=1")
            .unwrap()
            .unwrap();
        assert_eq!(host.ascii, "paypal.com.evil.net");
    }

    #[test]
    fn parse_input_reads_defanged_and_idn() {
        let host = parse_input("hxxps://ex\u{0430}mple[.]com/")
            .unwrap()
            .unwrap();
        assert_eq!(host.ascii, "xn--exmple-4nf.com");
        assert_eq!(host.unicode, "ex\u{0430}mple.com");
    }

    #[test]
    fn parse_input_skips_ip_addresses() {
        assert_eq!(parse_input("http://192.0.2.7/ap/signin").unwrap(), None);
        assert_eq!(parse_input("http://[2001:db8::1]/").unwrap(), None);
    }

    #[test]
    fn parse_input_rejects_bad_hosts() {
        for bad in ["", "   ", "exa mple.com", "a..b.com", "http:///path"] {
            assert!(parse_input(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn substitutions_name_script_and_digit() {
        assert_eq!(
            describe_substitutions("\u{0435}xample", "example"),
            vec!["\u{0435} is Cyrillic".to_string()]
        );
        assert_eq!(
            describe_substitutions("examp1e", "example"),
            vec!["1 for l".to_string()]
        );
    }
}
