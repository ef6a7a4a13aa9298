//! Word and TLD lists for the dictionary and TLD-swap fuzzers: the built-in lists compiled
//! into the binary and the parser for user lists (one entry a line, `#` comments).

use std::sync::OnceLock;

use super::name;

/// Error for one bad line of a user word or TLD list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: invalid {kind} {entry:?}: {reason}")]
pub struct ListError {
    /// The file or list the line comes from.
    pub source_name: String,
    /// Line number, from 1.
    pub line: usize,
    /// `word` or `TLD`.
    pub kind: &'static str,
    /// The entry as written.
    pub entry: String,
    /// Reason the entry is invalid, and the fix.
    pub reason: String,
}

/// Entries of a list, or every bad line of it.
pub type ListResult = Result<Vec<String>, Vec<ListError>>;

/// Returns the built-in dictionary: words phishing domains add before or after a brand.
pub fn builtin_words() -> &'static [String] {
    static WORDS: OnceLock<Vec<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        parse_words(include_str!("data/words.txt"), "built-in dictionary")
            .expect("the built-in dictionary is valid")
    })
}

/// Returns the built-in TLD list: common TLDs and TLDs much used for phishing.
pub fn builtin_tlds() -> &'static [String] {
    static TLDS: OnceLock<Vec<String>> = OnceLock::new();
    TLDS.get_or_init(|| {
        parse_tlds(include_str!("data/tlds.txt"), "built-in TLD list")
            .expect("the built-in TLD list is valid")
    })
}

/// Parses a word list: one word a line, blank lines and lines starting with `#` skipped.
///
/// Words are lower-cased (UTS #46 mapping) and kept in Unicode. A word must be one valid
/// label: letters, digits and inner hyphens. Every bad line is reported, not only the first.
pub fn parse_words(text: &str, source_name: &str) -> ListResult {
    parse_lines(text, source_name, "word", |entry| {
        if entry.contains('.') {
            return Err(
                "a word is one label and cannot contain a dot; use the TLD list for suffixes"
                    .to_owned(),
            );
        }
        let ascii = name::to_ascii(entry).map_err(|error| error.reason)?;
        name::to_unicode(&ascii).map_err(|error| error.reason)
    })
}

/// Parses a TLD list: one public suffix a line (`com`, `co.uk`, `рф` or `xn--p1ai`), blank
/// lines and lines starting with `#` skipped. Suffixes are returned in ASCII (punycode).
pub fn parse_tlds(text: &str, source_name: &str) -> ListResult {
    parse_lines(text, source_name, "TLD", |entry| {
        let entry = entry.strip_prefix('.').unwrap_or(entry);
        let ascii = name::to_ascii(entry).map_err(|error| error.reason)?;
        let last = ascii.rsplit('.').next().unwrap_or("");
        if last.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a TLD cannot be all digits".to_owned());
        }
        Ok(ascii)
    })
}

fn parse_lines(
    text: &str,
    source_name: &str,
    kind: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
) -> ListResult {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        match check(entry) {
            Ok(value) if !entries.contains(&value) => entries.push(value),
            Ok(_) => {}
            Err(reason) => errors.push(ListError {
                source_name: source_name.to_owned(),
                line: index + 1,
                kind,
                entry: entry.to_owned(),
                reason,
            }),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_load() {
        assert!(builtin_words().len() >= 200);
        assert!(builtin_words().iter().any(|word| word == "login"));
        assert!(builtin_tlds().len() >= 100);
        assert!(builtin_tlds().iter().any(|tld| tld == "co.uk"));
    }

    #[test]
    fn words_are_normalized_and_deduplicated() {
        let words = parse_words("# comment\n\nLogin\nlogin\n  Sécurité \n", "words.txt").unwrap();
        assert_eq!(words, ["login", "sécurité"]);
    }

    #[test]
    fn bad_words_report_every_line() {
        let errors = parse_words("good\nbad word\nok\n-dash\nco.uk\n", "words.txt").unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, [2, 4, 5]);
        assert!(
            errors[0]
                .to_string()
                .starts_with("words.txt:2: invalid word \"bad word\""),
            "{}",
            errors[0]
        );
        assert!(
            errors[2].reason.contains("cannot contain a dot"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn tlds_are_converted_to_ascii() {
        let tlds = parse_tlds("COM\n.co.uk\nрф\n", "tlds.txt").unwrap();
        assert_eq!(tlds, ["com", "co.uk", "xn--p1ai"]);
    }

    #[test]
    fn bad_tlds_are_reported() {
        let errors = parse_tlds("com\n123\nhttp://x\n", "tlds.txt").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].reason.contains("all digits"), "{}", errors[0]);
        assert_eq!(errors[1].line, 3);
        assert!(errors[1].reason.contains("URL"), "{}", errors[1]);
    }
}
