//! SPF, DKIM and DMARC results from `Authentication-Results` (RFC 8601), with `Received-SPF`
//! as a fallback for SPF.
//!
//! Any server on the way can add an `Authentication-Results` header, the sender too. The
//! header used is the topmost one whose authentication service is one of the company's own
//! hosts; without own hosts configured, or when none matches, the topmost one. mail-parser
//! keeps these headers as raw text, so the small grammar (`method=result` and `ptype.property
//! =value` pairs, `;`-separated, with comments in parentheses) is read here.

use mail_parser::{HeaderName, Message};
use serde::Serialize;

use super::settings::MailSettings;

/// One authentication result: `pass`, `fail`, `softfail`, `none`, ... and the domain it is
/// about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthResult {
    /// The result keyword in lower case.
    pub result: String,
    /// Domain checked: `smtp.mailfrom` for SPF, `header.d` for DKIM, `header.from` for DMARC.
    pub domain: Option<String>,
}

/// The SPF, DKIM and DMARC results of one `Authentication-Results` header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthResults {
    /// The authentication service that wrote the header (its first item), if it named one.
    pub authserv_id: Option<String>,
    pub spf: Option<AuthResult>,
    /// One result per DKIM signature checked.
    pub dkim: Vec<AuthResult>,
    pub dmarc: Option<AuthResult>,
    /// The header the results come from: `authentication-results` or `received-spf`.
    pub source: Option<String>,
}

/// Longest header value read, in bytes; the rest is ignored.
const MAX_VALUE_LEN: usize = 16 << 10;

/// Reads the authentication results of `message`.
pub fn read(message: &Message<'_>, settings: &MailSettings) -> AuthResults {
    let headers: Vec<&str> = message
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::AuthenticationResults)
        .filter_map(|h| {
            message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .and_then(|raw| std::str::from_utf8(raw).ok())
        })
        .collect();
    let parsed: Vec<AuthResults> = headers.iter().map(|value| parse(value)).collect();
    let chosen = parsed
        .iter()
        .position(|results| {
            results
                .authserv_id
                .as_deref()
                .is_some_and(|id| settings.is_own_host(id))
        })
        .or(if parsed.is_empty() { None } else { Some(0) });
    let mut results = chosen.map(|at| parsed[at].clone()).unwrap_or_default();
    if results.spf.is_none()
        && let Some(spf) = received_spf(message)
    {
        results.spf = Some(spf);
        if results.source.is_none() {
            results.source = Some("received-spf".to_string());
        }
    }
    results
}

/// Parses one `Authentication-Results` value.
pub fn parse(value: &str) -> AuthResults {
    let value = cut(value, MAX_VALUE_LEN);
    let plain = strip_comments(value);
    let mut results = AuthResults {
        source: Some("authentication-results".to_string()),
        ..AuthResults::default()
    };
    for (index, item) in plain.split(';').enumerate() {
        let mut words = item.split_whitespace();
        let Some(first) = words.next() else {
            continue;
        };
        if index == 0 && !first.contains('=') {
            results.authserv_id = Some(first.to_ascii_lowercase());
            // RFC 8601 allows a version number after the id; a result may follow on the line
            // in headers that omit the `;`.
            let rest: Vec<&str> = words.collect();
            take_result(&mut results, &rest);
            continue;
        }
        let mut all = vec![first];
        all.extend(words);
        take_result(&mut results, &all);
    }
    results
}

/// Reads one `method=result ptype.property=value ...` item.
fn take_result(results: &mut AuthResults, words: &[&str]) {
    let Some(position) = words.iter().position(|w| w.contains('=')) else {
        return;
    };
    let (method, result) = words[position].split_once('=').unwrap_or_default();
    let method = method.to_ascii_lowercase();
    let result = result.trim_matches('"').to_ascii_lowercase();
    let property = |names: &[&str]| {
        words[position + 1..].iter().find_map(|word| {
            let (key, value) = word.split_once('=')?;
            names
                .iter()
                .any(|name| key.eq_ignore_ascii_case(name))
                .then(|| clean_domain(value))
                .flatten()
        })
    };
    match method.as_str() {
        "spf" if results.spf.is_none() => {
            results.spf = Some(AuthResult {
                result,
                domain: property(&["smtp.mailfrom", "smtp.helo"]),
            });
        }
        "dkim" => results.dkim.push(AuthResult {
            result,
            domain: property(&["header.d", "header.i"]),
        }),
        "dmarc" if results.dmarc.is_none() => {
            results.dmarc = Some(AuthResult {
                result,
                domain: property(&["header.from"]),
            });
        }
        _ => {}
    }
}

/// Returns the domain of a property value: `user@domain` gives `domain`; `none` gives `None`.
fn clean_domain(value: &str) -> Option<String> {
    let value = value.trim_matches(['"', ';', ',']);
    let domain = value.rsplit('@').next().unwrap_or(value);
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty() && domain != "none").then_some(domain)
}

/// Reads SPF from the topmost `Received-SPF` header: its first word is the result.
fn received_spf(message: &Message<'_>) -> Option<AuthResult> {
    let header = message
        .headers()
        .iter()
        .find(|h| h.name == HeaderName::ReceivedSpf)?;
    let raw = message
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    let value = std::str::from_utf8(raw).ok()?;
    let value = cut(value, MAX_VALUE_LEN);
    let result = value.split_whitespace().next()?.to_ascii_lowercase();
    let plain = strip_comments(value);
    let domain = plain.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("envelope-from")
            .then(|| clean_domain(value.trim()))
            .flatten()
    });
    Some(AuthResult { result, domain })
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Removes RFC 5322 comments (nested parentheses) outside quoted strings.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_style_header_without_authserv_id() {
        let results = parse(
            " spf=softfail (sender IP is 80.96.157.91)\r\n smtp.mailfrom=winner-win.art; dkim=none (message not signed)\r\n header.d=none;dmarc=fail action=none header.from=newsletter.otto.de;",
        );
        assert_eq!(results.authserv_id, None);
        assert_eq!(
            results.spf,
            Some(AuthResult {
                result: "softfail".into(),
                domain: Some("winner-win.art".into())
            })
        );
        assert_eq!(
            results.dkim,
            vec![AuthResult {
                result: "none".into(),
                domain: None
            }]
        );
        assert_eq!(
            results.dmarc,
            Some(AuthResult {
                result: "fail".into(),
                domain: Some("newsletter.otto.de".into())
            })
        );
    }

    #[test]
    fn rfc8601_header_with_authserv_id_and_two_signatures() {
        let results = parse(
            " mx.example.com;\r\n spf=pass smtp.mailfrom=sender@example.net;\r\n dkim=pass header.d=example.net header.s=s1;\r\n dkim=fail (bad signature) header.i=@other.example;\r\n dmarc=pass (p=reject) header.from=example.net",
        );
        assert_eq!(results.authserv_id.as_deref(), Some("mx.example.com"));
        assert_eq!(results.spf.unwrap().domain.as_deref(), Some("example.net"));
        assert_eq!(results.dkim.len(), 2);
        assert_eq!(results.dkim[1].result, "fail");
        assert_eq!(results.dkim[1].domain.as_deref(), Some("other.example"));
        assert_eq!(results.dmarc.unwrap().result, "pass");
    }
}
