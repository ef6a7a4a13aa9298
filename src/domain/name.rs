//! Domain-name parsing shared by the whole of vigie: IDNA conversion (UTS #46 through the
//! `idna` crate), DNS validity checks and the public-suffix split (the `psl` crate, which
//! compiles the Public Suffix List in).
//!
//! Every function here takes a name as a user or a feed writes it (Unicode or punycode, any
//! case, with or without the root dot) and returns ASCII lower-case forms without the dot.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Maximum length of a domain name in presentation form without the root dot (RFC 1035).
pub const MAX_NAME_LEN: usize = 253;

/// Maximum length of one label in octets (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Error for a domain name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain {domain:?}: {reason}")]
pub struct DomainError {
    /// The name as it was given.
    pub domain: String,
    /// Reason the name is invalid, and the fix.
    pub reason: String,
}

impl DomainError {
    fn new(domain: &str, reason: impl Into<String>) -> DomainError {
        DomainError {
            domain: domain.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A registrable domain split at its public suffix, every part in ASCII lower case.
///
/// For `www.example.co.uk`: subdomain `www`, label `example`, suffix `co.uk`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainParts {
    /// Labels left of the registrable label, joined by dots; empty when there are none.
    pub subdomain: String,
    /// The label just left of the public suffix (`example`).
    pub label: String,
    /// The public suffix (`com`, `co.uk`); the last label when the list does not know it.
    pub suffix: String,
}

impl DomainParts {
    /// Joins the parts back into a full ASCII name.
    pub fn to_name(&self) -> String {
        if self.subdomain.is_empty() {
            format!("{}.{}", self.label, self.suffix)
        } else {
            format!("{}.{}.{}", self.subdomain, self.label, self.suffix)
        }
    }
}

/// Converts a domain name to its ASCII form (punycode for IDN labels), lower case, without
/// the root dot.
///
/// Rejects URL-like input (scheme, path, port, user) and empty labels. Rejects characters
/// other than letters, digits and hyphens, and hyphens first or last in a label. Rejects
/// `--` in the third and fourth position (other than `xn--`) and names or labels that are
/// too long.
pub fn to_ascii(domain: &str) -> Result<String, DomainError> {
    reject_url_like(domain)?;
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() {
        return Err(DomainError::new(
            domain,
            "empty name; give a domain such as example.com",
        ));
    }
    if trimmed.split('.').any(str::is_empty) {
        return Err(DomainError::new(
            domain,
            "empty label (two dots in a row or a leading dot); remove the extra dot",
        ));
    }

    let ascii = Uts46::new()
        .to_ascii(
            trimmed.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        )
        .map_err(|_| DomainError::new(domain, invalid_reason(trimmed)))?;
    Ok(ascii.into_owned())
}

/// Converts a domain name to its Unicode form (punycode labels decoded), lower case, without
/// the root dot. Fails on the same input as [`to_ascii`].
pub fn to_unicode(domain: &str) -> Result<String, DomainError> {
    let ascii = to_ascii(domain)?;
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.map_err(|_| {
        DomainError::new(
            domain,
            "a punycode label does not decode; check the xn-- labels",
        )
    })?;
    Ok(unicode)
}

/// Splits a domain name at its public suffix.
///
/// The name must have at least one label left of its public suffix: `co.uk` alone is
/// rejected. Suffixes the Public Suffix List does not know are taken to be the last label.
pub fn split(domain: &str) -> Result<DomainParts, DomainError> {
    let ascii = to_ascii(domain)?;
    if !ascii.contains('.') {
        return Err(DomainError::new(
            domain,
            "no public suffix; give a full domain such as example.com",
        ));
    }
    let suffix = psl::suffix_str(&ascii).unwrap_or_else(|| ascii.rsplit('.').next().unwrap_or(""));
    if suffix.len() >= ascii.len() {
        return Err(DomainError::new(
            domain,
            "this is a public suffix, not a registrable domain; add the label in front of it (e.g. example.co.uk)",
        ));
    }

    // `suffix` is a tail of `ascii` and a dot separates it from the rest.
    let rest = &ascii[..ascii.len() - suffix.len() - 1];
    let (subdomain, label) = match rest.rsplit_once('.') {
        Some((subdomain, label)) => (subdomain, label),
        None => ("", rest),
    };
    Ok(DomainParts {
        subdomain: subdomain.to_owned(),
        label: label.to_owned(),
        suffix: suffix.to_owned(),
    })
}

/// Checks that an ASCII name is a usable host name. Each label has 1 to 63 letters, digits
/// and hyphens, with no hyphen first or last and no `--` in the third and fourth position
/// except in `xn--` labels. The name has at most 253 octets and its last label is not all
/// digits.
///
/// Expects lower case. It does not check that `xn--` labels decode.
pub fn is_valid_ascii_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    let mut last = "";
    for label in name.split('.') {
        if !is_valid_ascii_label(label) {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

fn is_valid_ascii_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_LABEL_LEN {
        return false;
    }
    if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
        return false;
    }
    // RFC 5891 section 4.2.3.1 reserves "??--" labels for IDNA prefixes such as xn--.
    if bytes.len() >= 4 && &bytes[2..4] == b"--" && !label.starts_with("xn--") {
        return false;
    }
    bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Rejects input that is a URL, an e-mail address or a host with a port rather than a name.
fn reject_url_like(domain: &str) -> Result<(), DomainError> {
    if domain.contains("://") {
        return Err(DomainError::new(
            domain,
            "this is a URL; give the host name only (example.com)",
        ));
    }
    if let Some(c) = domain
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@' | ':' | '[' | ']'))
    {
        return Err(DomainError::new(
            domain,
            format!(
                "unexpected {c:?}: give the host name only, without scheme, user, port or path"
            ),
        ));
    }
    if domain.chars().any(char::is_whitespace) {
        return Err(DomainError::new(domain, "contains white space; remove it"));
    }
    if domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .parse::<std::net::Ipv4Addr>()
        .is_ok()
    {
        return Err(DomainError::new(
            domain,
            "this is an IP address, not a domain; give a domain such as example.com",
        ));
    }
    Ok(())
}

/// Finds the first reason a name fails IDNA processing, for the error message.
fn invalid_reason(name: &str) -> String {
    if name.len() > MAX_NAME_LEN && name.is_ascii() {
        return format!(
            "name is {} octets long, more than {MAX_NAME_LEN}",
            name.len()
        );
    }
    for label in name.split('.') {
        if label.is_ascii() && label.len() > MAX_LABEL_LEN {
            return format!(
                "label {label:?} is {} octets long, more than {MAX_LABEL_LEN}",
                label.len()
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return format!("label {label:?} starts or ends with a hyphen; remove it");
        }
        if label.is_ascii()
            && label.len() >= 4
            && &label[2..4] == "--"
            && !label.to_ascii_lowercase().starts_with("xn--")
        {
            return format!(
                "label {label:?} has \"--\" in the third and fourth position, reserved for IDNA; remove a hyphen"
            );
        }
        if let Some(c) = label
            .chars()
            .find(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return format!(
                "label {label:?} contains {c:?}; only letters, digits and hyphens are allowed"
            );
        }
    }
    "not a valid internationalized domain name (UTS #46): a character is disallowed, the name is too long \
     or a punycode label is malformed"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_ascii_lowercases_and_strips_root_dot() {
        assert_eq!(to_ascii("Example.COM.").unwrap(), "example.com");
    }

    #[test]
    fn to_ascii_encodes_idn() {
        assert_eq!(to_ascii("Bücher.de").unwrap(), "xn--bcher-kva.de");
    }

    #[test]
    fn to_unicode_decodes_punycode() {
        assert_eq!(to_unicode("XN--BCHER-KVA.de").unwrap(), "bücher.de");
    }

    #[test]
    fn split_uses_public_suffix() {
        let parts = split("www.Example.co.uk.").unwrap();
        assert_eq!(parts.subdomain, "www");
        assert_eq!(parts.label, "example");
        assert_eq!(parts.suffix, "co.uk");
        assert_eq!(parts.to_name(), "www.example.co.uk");
    }

    #[test]
    fn split_simple_and_deep_names() {
        let parts = split("paypal.com").unwrap();
        assert_eq!(
            (
                parts.subdomain.as_str(),
                parts.label.as_str(),
                parts.suffix.as_str()
            ),
            ("", "paypal", "com")
        );
        let parts = split("a.b.credit-agricole.fr").unwrap();
        assert_eq!(
            (
                parts.subdomain.as_str(),
                parts.label.as_str(),
                parts.suffix.as_str()
            ),
            ("a.b", "credit-agricole", "fr")
        );
    }

    #[test]
    fn split_rejects_bare_suffix() {
        let error = split("co.uk").unwrap_err();
        assert!(error.reason.contains("public suffix"), "{error}");
        let error = split("com").unwrap_err();
        assert!(error.reason.contains("no public suffix"), "{error}");
    }

    #[test]
    fn rejections_name_the_problem() {
        let cases = [
            ("https://example.com/login", "URL"),
            ("example.com/login", "'/'"),
            ("user@example.com", "'@'"),
            ("example.com:443", "':'"),
            ("exa mple.com", "white space"),
            ("", "empty name"),
            (".", "empty name"),
            ("example..com", "empty label"),
            ("-example.com", "hyphen"),
            ("ex--ample.com", "third and fourth"),
            ("exa_mple.com", "'_'"),
        ];
        for (input, expected) in cases {
            let error = to_ascii(input).unwrap_err();
            assert_eq!(error.domain, input);
            assert!(error.to_string().contains(expected), "{input:?}: {error}");
        }
    }

    #[test]
    fn rejects_too_long_label_and_name() {
        let label = "a".repeat(64);
        let error = to_ascii(&format!("{label}.com")).unwrap_err();
        assert!(error.reason.contains("64 octets"), "{error}");

        let name = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        let error = to_ascii(&name).unwrap_err();
        assert!(error.reason.contains("more than 253"), "{error}");
    }

    #[test]
    fn ascii_name_validity() {
        assert!(is_valid_ascii_name("pay.pal.com"));
        assert!(is_valid_ascii_name("xn--bcher-kva.de"));
        assert!(!is_valid_ascii_name("pa--ypal.com"));
        assert!(!is_valid_ascii_name("paypal-.com"));
        assert!(!is_valid_ascii_name("paypal.123"));
        assert!(!is_valid_ascii_name("pay..pal.com"));
        assert!(!is_valid_ascii_name("PayPal.com"));
        assert!(!is_valid_ascii_name(&format!("{}.com", "a".repeat(64))));
    }
}
