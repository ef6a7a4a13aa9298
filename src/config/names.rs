//! Checks of domain names and mail addresses written in the configuration.
//!
//! Domain names go through UTS #46 (the `idna` crate, with the STD3 ASCII rules and DNS
//! length limits), so that `exämple.com` and `xn--exmple-cua.com` compile to the same name.

use std::net::IpAddr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Reason a written name is not a domain name, with the fix to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameProblem {
    pub message: String,
    pub fix: String,
}

fn problem(message: String, fix: impl Into<String>) -> NameProblem {
    NameProblem {
        message,
        fix: fix.into(),
    }
}

/// Converts a written domain name to its lower-case ASCII (punycode) form.
///
/// Rejects URLs, mail addresses, IP addresses, single labels and names that break UTS #46 or
/// the DNS length rules (63 bytes a label, 253 in all), each with its own fix.
pub(crate) fn normalize_domain(written: &str) -> Result<String, NameProblem> {
    let name = written.trim();
    if name.is_empty() {
        return Err(problem(
            "empty domain name".to_string(),
            "write a domain name such as \"example.com\"",
        ));
    }
    if let Some((_, rest)) = name.split_once("://") {
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        return Err(problem(
            format!("\"{written}\" is a URL, not a domain name"),
            format!("write only the host name: \"{host}\""),
        ));
    }
    if let Some((_, domain)) = name.rsplit_once('@') {
        return Err(problem(
            format!("\"{written}\" is a mail address, not a domain name"),
            format!("write only the part after @: \"{domain}\""),
        ));
    }
    if name.contains('/') {
        let host = name.split('/').next().unwrap_or_default();
        return Err(problem(
            format!("\"{written}\" contains a path, not only a domain name"),
            format!("write only the host name: \"{host}\""),
        ));
    }
    if name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        return Err(problem(
            format!("\"{written}\" is an IP address, not a domain name"),
            "write the domain name that points to it",
        ));
    }

    // A fully qualified name may end with the root dot; it is the same name without it.
    let name = name.strip_suffix('.').unwrap_or(name);
    let ascii = Uts46::new()
        .to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| invalid_reason(written, name))?
        .into_owned();

    if !ascii.contains('.') {
        return Err(problem(
            format!("\"{written}\" has a single label, so it is not a registrable domain name"),
            format!("write the full name with its suffix, such as \"{ascii}.com\""),
        ));
    }
    Ok(ascii)
}

/// Explains why UTS #46 rejected a name, checking the common causes in turn.
fn invalid_reason(written: &str, name: &str) -> NameProblem {
    let fix =
        "write letters, digits and hyphens, in labels of 1 to 63 characters separated by dots";
    if name.chars().any(char::is_whitespace) {
        return problem(
            format!("invalid domain name \"{written}\": it contains a space"),
            fix,
        );
    }
    if name.split('.').any(str::is_empty) {
        return problem(
            format!("invalid domain name \"{written}\": it has an empty label"),
            fix,
        );
    }
    if name
        .split('.')
        .any(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return problem(
            format!("invalid domain name \"{written}\": a label starts or ends with a hyphen"),
            fix,
        );
    }
    if name.len() > 253 || name.split('.').any(|label| label.len() > 63) {
        return problem(
            format!(
                "invalid domain name \"{written}\": longer than 253 bytes or with a label over 63"
            ),
            "shorten the name; DNS allows 63 bytes a label and 253 in all",
        );
    }
    problem(
        format!("invalid domain name \"{written}\": it contains characters UTS #46 does not allow"),
        fix,
    )
}

/// Checks that `address` looks like `local@domain` with a valid domain.
pub(crate) fn check_mail_address(address: &str) -> Result<(), NameProblem> {
    // A display name such as `SOC <soc@example.com>` is allowed; only the address is checked.
    let bare = match (address.find('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    let Some((local, domain)) = bare.trim().rsplit_once('@') else {
        return Err(problem(
            format!("\"{address}\" is not a mail address"),
            "write an address such as \"soc@example.com\"",
        ));
    };
    if local.is_empty() || local.chars().any(char::is_whitespace) {
        return Err(problem(
            format!("\"{address}\" has an invalid local part"),
            "write an address such as \"soc@example.com\"",
        ));
    }
    // `localhost` is accepted so that a relay on the same host can deliver to local users.
    if domain == "localhost" {
        return Ok(());
    }
    normalize_domain(domain).map(drop).map_err(|inner| {
        problem(
            format!("\"{address}\" has an invalid domain: {}", inner.message),
            inner.fix,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_domain_cases() {
        let cases = [
            ("example.com", Ok("example.com")),
            ("Example.COM.", Ok("example.com")),
            ("exämple.com", Ok("xn--exmple-cua.com")),
            ("xn--exmple-cua.com", Ok("xn--exmple-cua.com")),
            ("https://example.com/login", Err("is a URL")),
            ("admin@example.com", Err("is a mail address")),
            ("example.com/login", Err("contains a path")),
            ("192.0.2.1", Err("is an IP address")),
            ("localhost", Err("single label")),
            ("exa mple.com", Err("contains a space")),
            ("example..com", Err("empty label")),
            ("-example.com", Err("hyphen")),
            ("ex_ample.com", Err("does not allow")),
        ];
        for (input, expected) in cases {
            let result = normalize_domain(input);
            match expected {
                Ok(ascii) => assert_eq!(result, Ok(ascii.to_string()), "input {input}"),
                Err(part) => {
                    let message = result.expect_err(input).message;
                    assert!(message.contains(part), "input {input}: {message}");
                }
            }
        }
    }

    #[test]
    fn normalize_domain_length_limits() {
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(normalize_domain(&long_label).is_err());
        let ok_label = format!("{}.com", "a".repeat(63));
        assert!(normalize_domain(&ok_label).is_ok());
        // 25 labels of 10 bytes with their dots plus "com" is exactly 253 bytes.
        let max_name = format!("{}com", "abcdefghi.".repeat(25));
        assert_eq!(max_name.len(), 253);
        assert!(normalize_domain(&max_name).is_ok());
        let long_name = format!("a{max_name}");
        assert!(normalize_domain(&long_name).is_err());
    }

    #[test]
    fn mail_address_cases() {
        assert!(check_mail_address("soc@example.com").is_ok());
        assert!(check_mail_address("SOC <soc@example.com>").is_ok());
        assert!(check_mail_address("root@localhost").is_ok());
        assert!(check_mail_address("soc.example.com").is_err());
        assert!(check_mail_address("@example.com").is_err());
        assert!(check_mail_address("soc@exa mple.com").is_err());
    }
}
