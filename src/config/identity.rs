//! The identity keys of a watchlist's `[brand]` table: executives, products, phone numbers,
//! IBANs, postal addresses, official social accounts and the scam-word override.
//!
//! Each value is checked here so that the text matcher and the social source get only
//! usable entries: a phone number must carry its country code, an IBAN must pass the
//! ISO 13616 mod-97 check, an official account must name its network.

use super::names::normalize_domain;
use super::tree::{Reader, Table, closest};
use super::{Identity, OfficialAccount, PhoneNumber};

/// Keys of `[brand]` read by [`identity`].
pub(crate) const IDENTITY_KEYS: &[&str] = &[
    "executives",
    "products",
    "phones",
    "ibans",
    "addresses",
    "official_accounts",
    "scam_words",
];

/// Networks accepted as the prefix of an official account.
const NETWORKS: &[&str] = &["mastodon", "bluesky"];

/// A value that failed its check: what is wrong and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub fix: String,
}

fn problem(message: String, fix: impl Into<String>) -> Problem {
    Problem {
        message,
        fix: fix.into(),
    }
}

/// Reads the identity keys of `[brand]`; every bad value is reported on `reader`.
pub(crate) fn identity(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Identity {
    let executives = names(reader, table, "executives", 2);
    let products = names(reader, table, "products", 2);
    let addresses = names(reader, table, "addresses", 4);
    let phones = checked(reader, table, "phones", parse_phone, |a, b| {
        a.country_code == b.country_code && a.national == b.national
    });
    let ibans = checked(reader, table, "ibans", parse_iban, |a, b| a == b);
    let official_accounts = checked(
        reader,
        table,
        "official_accounts",
        parse_official_account,
        |a, b| a == b,
    );
    let scam_words = table.has("scam_words").then(|| {
        let mut words: Vec<String> = Vec::new();
        for (word, span) in reader.strings(table, "scam_words") {
            let word = word.trim().to_lowercase();
            if !word.chars().any(char::is_alphanumeric) {
                reader.error(
                    &span,
                    format!("empty word in {}", table.key_path("scam_words")),
                    "remove the empty string".to_string(),
                );
            } else if !words.contains(&word) {
                words.push(word);
            }
        }
        words
    });
    Identity {
        executives,
        products,
        phones,
        ibans,
        addresses,
        official_accounts,
        scam_words,
    }
}

/// Reads a list of names (executives, products, addresses): trimmed, without duplicates, each
/// with at least `min_chars` letters or digits.
fn names(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    min_chars: usize,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, span) in reader.strings(table, key) {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let letters = name.chars().filter(|c| c.is_alphanumeric()).count();
        if letters < min_chars {
            reader.error(
                &span,
                format!(
                    "\"{name}\" in {} has fewer than {min_chars} letters or digits",
                    table.key_path(key)
                ),
                "write the whole name, or remove the entry".to_string(),
            );
        } else if !out.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    out
}

/// Reads a list of strings through `parse`, dropping duplicates by `same`.
fn checked<T>(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    parse: fn(&str) -> Result<T, Problem>,
    same: fn(&T, &T) -> bool,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for (written, span) in reader.strings(table, key) {
        match parse(&written) {
            Ok(value) if !out.iter().any(|known| same(known, &value)) => out.push(value),
            Ok(_) => {}
            Err(problem) => reader.error(
                &span,
                format!("{}: {}", table.key_path(key), problem.message),
                problem.fix,
            ),
        }
    }
    out
}

/// Reads a phone number in international form: `+`, the country code, a separator, then the
/// number. A trunk `0`, alone or in brackets after the country code, is dropped.
pub(crate) fn parse_phone(written: &str) -> Result<PhoneNumber, Problem> {
    const FIX: &str = "write it in international form with a space after the country code, such as \"+33 1 23 45 67 89\"";
    let text = written.trim();
    let Some(rest) = text.strip_prefix('+') else {
        return Err(problem(
            format!("phone number \"{written}\" does not start with + and a country code"),
            FIX,
        ));
    };
    if let Some(bad) = rest
        .chars()
        .find(|c| !(c.is_ascii_digit() || " .-()/".contains(*c)))
    {
        return Err(problem(
            format!("phone number \"{written}\" contains {bad:?}"),
            "keep only digits, spaces, dots, hyphens and brackets",
        ));
    }
    let country_code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if country_code.is_empty() || country_code.len() > 3 || country_code.len() == rest.len() {
        return Err(problem(
            format!("phone number \"{written}\": the country code is not followed by a separator"),
            FIX,
        ));
    }
    let remainder = rest[country_code.len()..].replacen("(0)", "", 1);
    let digits: String = remainder.chars().filter(char::is_ascii_digit).collect();
    let national = digits.strip_prefix('0').unwrap_or(&digits).to_string();
    let total = country_code.len() + national.len();
    if national.len() < 4 || total > 15 {
        return Err(problem(
            format!(
                "phone number \"{written}\" has {total} digits; an international number has 6 to 15"
            ),
            FIX,
        ));
    }
    Ok(PhoneNumber {
        written: text.to_string(),
        country_code,
        national,
    })
}

/// Reads an IBAN, with or without spaces, and checks its length and mod-97 check digits.
pub(crate) fn parse_iban(written: &str) -> Result<String, Problem> {
    let compact: String = written
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let shape_ok = (15..=34).contains(&compact.len())
        && compact.chars().all(|c| c.is_ascii_alphanumeric())
        && compact[..2].chars().all(|c| c.is_ascii_alphabetic())
        && compact[2..4].chars().all(|c| c.is_ascii_digit());
    if !shape_ok {
        return Err(problem(
            format!("\"{written}\" is not an IBAN"),
            "write a country code, two check digits and the account number, such as \"FR76 3000 6000 0112 3456 7890 189\"",
        ));
    }
    if iban_remainder(&compact) != 1 {
        return Err(problem(
            format!("IBAN \"{written}\" fails its check digits (mod 97)"),
            "copy the IBAN again from a bank document; a digit is wrong or two are swapped",
        ));
    }
    Ok(compact)
}

/// Computes the ISO 13616 remainder: the first four characters moved to the end, letters
/// read as 10 to 35, the whole number taken mod 97. A valid IBAN gives 1.
fn iban_remainder(compact: &str) -> u32 {
    let rotated = compact[4..].chars().chain(compact[..4].chars());
    let mut remainder = 0u32;
    for c in rotated {
        let value = c.to_digit(36).unwrap_or(0);
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder
}

/// Reads `mastodon:USER@INSTANCE`, `bluesky:HANDLE` or `bluesky:did:...`.
pub(crate) fn parse_official_account(written: &str) -> Result<OfficialAccount, Problem> {
    let text = written.trim();
    let Some((network, account)) = text.split_once(':') else {
        return Err(problem(
            format!("\"{written}\" does not name its network"),
            "write \"mastodon:user@instance.example\" or \"bluesky:handle.example\"",
        ));
    };
    let account = account.trim().trim_start_matches('@').to_lowercase();
    match network.trim().to_lowercase().as_str() {
        "mastodon" => {
            let Some((username, instance)) = account.split_once('@') else {
                return Err(problem(
                    format!("Mastodon account \"{written}\" has no instance"),
                    "write \"mastodon:user@instance.example\"",
                ));
            };
            let valid_user = !username.is_empty()
                && username
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_user {
                return Err(problem(
                    format!("Mastodon user name \"{username}\" in \"{written}\" is invalid"),
                    "use the letters, digits and '_' of the user name, without the instance's URL",
                ));
            }
            let instance = normalize_domain(instance)
                .map_err(|p| problem(format!("\"{written}\": {}", p.message), p.fix))?;
            Ok(OfficialAccount::Mastodon {
                username: username.to_string(),
                instance,
            })
        }
        "bluesky" => {
            if account.starts_with("did:") {
                return Ok(OfficialAccount::Bluesky { id: account });
            }
            let handle = normalize_domain(&account)
                .map_err(|p| problem(format!("\"{written}\": {}", p.message), p.fix))?;
            Ok(OfficialAccount::Bluesky { id: handle })
        }
        other => {
            let fix = match closest(other, NETWORKS) {
                Some(near) => format!("did you mean \"{near}:\"?"),
                None => format!("use one of: {}", NETWORKS.join(", ")),
            };
            Err(problem(
                format!("unknown network \"{other}\" in \"{written}\""),
                fix,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_forms() {
        let phone = parse_phone("+33 (0)1 23 45 67 89").unwrap();
        assert_eq!(phone.country_code, "33");
        assert_eq!(phone.national, "123456789");
        let phone = parse_phone("+1 212-555-0100").unwrap();
        assert_eq!(phone.country_code, "1");
        assert_eq!(phone.national, "2125550100");
    }

    #[test]
    fn phone_without_country_code_rejected() {
        let error = parse_phone("01 23 45 67 89").unwrap_err();
        assert!(error.message.contains("country code"), "{error:?}");
        assert!(parse_phone("+33123456789").is_err());
        assert!(parse_phone("+33 1 23 45 67 89 ext 2").is_err());
        assert!(parse_phone("+33 12").is_err());
    }

    #[test]
    fn iban_check_digits() {
        assert_eq!(
            parse_iban("fr76 3000 6000 0112 3456 7890 189").unwrap(),
            "FR7630006000011234567890189"
        );
        assert_eq!(
            parse_iban("GB82 WEST 1234 5698 7654 32").unwrap(),
            "GB82WEST12345698765432"
        );
        let error = parse_iban("FR76 3000 6000 0112 3456 7890 198").unwrap_err();
        assert!(error.message.contains("mod 97"), "{error:?}");
        assert!(parse_iban("not an iban").is_err());
    }

    #[test]
    fn official_account_forms() {
        assert_eq!(
            parse_official_account("mastodon:@Example@Mastodon.Social").unwrap(),
            OfficialAccount::Mastodon {
                username: "example".to_string(),
                instance: "mastodon.social".to_string()
            }
        );
        assert_eq!(
            parse_official_account("bluesky:example.com").unwrap(),
            OfficialAccount::Bluesky {
                id: "example.com".to_string()
            }
        );
        let error = parse_official_account("mastodn:example@mastodon.social").unwrap_err();
        assert!(error.fix.contains("mastodon:"), "{error:?}");
        assert!(parse_official_account("mastodon:example").is_err());
        assert!(parse_official_account("@example").is_err());
    }

    #[test]
    fn bad_identity_values_reported_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("watchlists")).unwrap();
        std::fs::write(
            dir.path().join("vigie.toml"),
            "[daemon]\nstate_dir = \"state\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("watchlists/acme.toml"),
            "[brand]\n\
             name = \"Acme\"\n\
             executives = [\"Jane Doe\", \"J\"]\n\
             phones = [\"01 23 45 67 89\"]\n\
             ibans = [\"FR76 3000 6000 0112 3456 7890 198\"]\n\
             official_accounts = [\"mastodn:acme@mastodon.social\"]\n\
             scam_words = [\" \"]\n\
             executive = [\"typo\"]\n\
             \n[[domains]]\nname = \"acme.com\"\n",
        )
        .unwrap();
        let lookup = |_: &str| None;
        let errors =
            crate::config::load_with_env(&dir.path().join("vigie.toml"), &lookup).unwrap_err();
        let lines: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        let expect = [
            (3, "fewer than 2 letters"),
            (4, "does not start with + and a country code"),
            (5, "fails its check digits"),
            (6, "unknown network \"mastodn\""),
            (7, "empty word in brand.scam_words"),
            (8, "unknown key `executive`"),
        ];
        for (line, text) in expect {
            assert!(
                lines.iter().any(|(l, m)| *l == line && m.contains(text)),
                "no error {text:?} on line {line}: {lines:?}"
            );
        }
        assert_eq!(errors.len(), expect.len(), "{errors}");
    }
}
