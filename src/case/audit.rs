//! `vigie audit mail-auth`: the SPF, DMARC and DKIM records of every legitimate domain,
//! read through the project resolver, and their weaknesses with the fix.
//!
//! A scammer who can send mail as the company's own domain needs no lookalike, so this is
//! part of the preparation step. The checks follow three standards:
//!
//! - RFC 7208 for SPF: one record, an `-all` or `~all` ending, at most 10 DNS-querying terms
//!   and 2 void lookups;
//! - RFC 7489 for DMARC: a policy that rejects or quarantines all mail, on subdomains too,
//!   with aggregate reports;
//! - RFC 6376 and RFC 8301 for DKIM: published selectors, RSA keys of 2048 bits or more.
//!
//! The records are parsed here, because the checks need only their terms, not an evaluator.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::config::{Config, DomainStatus};
use crate::net::dns::{Resolver, TxtResolution};

/// Severity of a weakness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

/// One weakness of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weakness {
    /// `spf`, `dmarc` or `dkim`.
    pub check: &'static str,
    pub level: Level,
    pub problem: String,
    pub fix: String,
}

/// The audit of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainAudit {
    pub domain: String,
    /// Whether the domain is in use (`active`); others should send no mail at all.
    pub sends_mail: bool,
    pub spf: Option<String>,
    /// DNS-querying terms of the SPF record, includes and redirects followed.
    pub spf_lookups: Option<u32>,
    pub dmarc: Option<String>,
    /// `(selector, record)` for every selector checked.
    pub dkim: Vec<(String, Option<String>)>,
    pub weaknesses: Vec<Weakness>,
}

impl DomainAudit {
    pub fn worst(&self) -> Option<Level> {
        self.weaknesses.iter().map(|w| w.level).max()
    }
}

/// Lists the legitimate domains of every watchlist with whether they send mail, and the
/// DKIM selectors of each (from `[response] dkim_selectors` and `extra`).
pub fn targets(config: &Config, extra: &[String]) -> Vec<(String, bool, Vec<String>)> {
    let selectors: Vec<&String> = config
        .response
        .dkim_selectors
        .iter()
        .chain(extra.iter())
        .collect();
    let mut targets = Vec::new();
    for watchlist in &config.watchlists {
        for domain in &watchlist.domains {
            let mine: Vec<String> = selectors
                .iter()
                .filter_map(|entry| match entry.rsplit_once(':') {
                    Some((for_domain, selector)) => {
                        (for_domain.eq_ignore_ascii_case(&domain.name)).then(|| selector.to_owned())
                    }
                    None => Some((*entry).clone()),
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            targets.push((
                domain.name.clone(),
                domain.status == DomainStatus::Active,
                mine,
            ));
        }
    }
    targets
}

/// Audits one domain.
pub async fn audit_domain(
    resolver: &Resolver,
    domain: &str,
    sends_mail: bool,
    selectors: &[String],
) -> DomainAudit {
    let mut audit = DomainAudit {
        domain: domain.to_owned(),
        sends_mail,
        spf: None,
        spf_lookups: None,
        dmarc: None,
        dkim: Vec::new(),
        weaknesses: Vec::new(),
    };
    check_spf(resolver, &mut audit).await;
    check_dmarc(resolver, &mut audit).await;
    for selector in selectors {
        check_dkim(resolver, &mut audit, selector).await;
    }
    audit
}

fn weakness(
    audit: &mut DomainAudit,
    check: &'static str,
    level: Level,
    problem: String,
    fix: String,
) {
    audit.weaknesses.push(Weakness {
        check,
        level,
        problem,
        fix,
    });
}

/// Records of `name` that start with `tag` (`v=spf1`, `v=DMARC1`, ...), or why there are none.
async fn tagged(resolver: &Resolver, name: &str, tag: &str) -> Result<Vec<String>, String> {
    match resolver.txt(name).await {
        TxtResolution::Found(records) => Ok(records
            .into_iter()
            .filter(|record| {
                let lower = record.trim_start().to_ascii_lowercase();
                lower == tag
                    || lower.starts_with(&format!("{tag} "))
                    || lower.starts_with(&format!("{tag};"))
            })
            .collect()),
        TxtResolution::NoName => Ok(Vec::new()),
        TxtResolution::Unknown(reason) => Err(reason),
    }
}

async fn check_spf(resolver: &Resolver, audit: &mut DomainAudit) {
    let domain = audit.domain.clone();
    let fix_none = if audit.sends_mail {
        format!(
            "publish one TXT record at {domain} listing the servers that send its mail and ending in -all, such as \"v=spf1 include:_spf.mail-provider.example -all\""
        )
    } else {
        format!(
            "publish \"v=spf1 -all\" at {domain}: it sends no mail, so no server may send as it"
        )
    };
    let records = match tagged(resolver, &domain, "v=spf1").await {
        Ok(records) => records,
        Err(reason) => {
            weakness(
                audit,
                "spf",
                Level::Medium,
                format!("SPF of {domain} could not be read: {reason}"),
                "check that the domain's name servers answer, then run the audit again".to_owned(),
            );
            return;
        }
    };
    match records.len() {
        0 => {
            weakness(
                audit,
                "spf",
                Level::High,
                format!("{domain} has no SPF record: anyone can send mail as it"),
                fix_none,
            );
            return;
        }
        1 => {}
        n => {
            weakness(
                audit,
                "spf",
                Level::High,
                format!(
                    "{domain} has {n} SPF records, which is an error (permerror): receivers ignore them all"
                ),
                "merge them into one record".to_owned(),
            );
        }
    }
    let record = records[0].clone();
    audit.spf = Some(record.clone());
    let terms = spf_terms(&record);

    let all = terms.iter().find(|t| t.mechanism == "all");
    let redirect = terms.iter().any(|t| t.mechanism == "redirect");
    match all.map(|t| t.qualifier) {
        Some('+') => weakness(
            audit,
            "spf",
            Level::High,
            format!(
                "the SPF record of {domain} ends in +all: every server on the Internet may send as it"
            ),
            "end the record with -all".to_owned(),
        ),
        Some('?') => weakness(
            audit,
            "spf",
            Level::Medium,
            format!("the SPF record of {domain} ends in ?all (neutral): it protects nothing"),
            "end the record with -all (or ~all while DMARC is not yet enforcing)".to_owned(),
        ),
        Some('~') => weakness(
            audit,
            "spf",
            Level::Low,
            format!(
                "the SPF record of {domain} ends in ~all (softfail): receivers still accept forged mail unless DMARC rejects it"
            ),
            "end the record with -all once every sending server is listed".to_owned(),
        ),
        Some(_) => {}
        None if redirect => {}
        None => weakness(
            audit,
            "spf",
            Level::Medium,
            format!(
                "the SPF record of {domain} has no all term: mail from unlisted servers is neutral"
            ),
            "end the record with -all".to_owned(),
        ),
    }
    if !audit.sends_mail && terms.iter().any(|t| t.mechanism != "all") {
        weakness(
            audit,
            "spf",
            Level::Low,
            format!(
                "{domain} is not an active domain but its SPF record allows servers to send as it"
            ),
            format!("if it sends no mail, publish \"v=spf1 -all\" at {domain}"),
        );
    }
    for term in &terms {
        match term.mechanism.as_str() {
            "ptr" => weakness(
                audit,
                "spf",
                Level::Low,
                format!(
                    "the SPF record of {domain} uses ptr, which RFC 7208 says not to use (slow, unreliable)"
                ),
                "replace ptr with ip4/ip6 ranges or includes".to_owned(),
            ),
            "include" | "a" | "mx" | "exists" | "redirect" | "all" | "ip4" | "ip6" | "exp" => {}
            other if other.contains('=') => {}
            other => weakness(
                audit,
                "spf",
                Level::Medium,
                format!("the SPF record of {domain} has an unknown term {other:?} (permerror)"),
                "correct or remove the term".to_owned(),
            ),
        }
    }

    let mut count = Count::default();
    let mut visited = BTreeSet::from([domain.clone()]);
    count_lookups(resolver, &terms, &mut count, &mut visited, 0).await;
    audit.spf_lookups = Some(count.lookups);
    if count.lookups > 10 {
        weakness(audit, "spf", Level::High, format!("the SPF record of {domain} needs {} DNS lookups, over the limit of 10 (permerror): receivers treat it as broken", count.lookups), "flatten includes into ip4/ip6 ranges, or drop the services that no longer send for the domain".to_owned());
    }
    if count.void > 2 {
        weakness(
            audit,
            "spf",
            Level::Medium,
            format!(
                "the SPF record of {domain} has {} lookups that find nothing, over the limit of 2",
                count.void
            ),
            "remove the includes and names that no longer exist".to_owned(),
        );
    }
    for missing in count.broken {
        weakness(
            audit,
            "spf",
            Level::High,
            format!(
                "the SPF record of {domain} includes {missing}, which has no SPF record (permerror)"
            ),
            format!("remove include:{missing} or ask its owner to publish a record"),
        );
    }
}

/// One term of an SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    qualifier: char,
    /// Lower-case mechanism or modifier name (`include`, `all`, `redirect`, ...).
    mechanism: String,
    value: String,
}

fn spf_terms(record: &str) -> Vec<Term> {
    record
        .split_whitespace()
        .skip(1)
        .map(|raw| {
            let (qualifier, rest) = match raw.chars().next() {
                Some(q @ ('+' | '-' | '~' | '?')) => (q, &raw[1..]),
                _ => ('+', raw),
            };
            let (mechanism, value) = match rest.find([':', '=', '/']) {
                Some(at) if rest.as_bytes()[at] == b'=' => {
                    (rest[..at].to_ascii_lowercase(), rest[at + 1..].to_owned())
                }
                Some(at) => (
                    rest[..at].to_ascii_lowercase(),
                    rest[at..].trim_start_matches(':').to_owned(),
                ),
                None => (rest.to_ascii_lowercase(), String::new()),
            };
            Term {
                qualifier,
                mechanism,
                value,
            }
        })
        .collect()
}

#[derive(Debug, Default)]
struct Count {
    lookups: u32,
    void: u32,
    broken: Vec<String>,
}

/// Counts the DNS-querying terms (RFC 7208, 4.6.4), following include and redirect.
async fn count_lookups(
    resolver: &Resolver,
    terms: &[Term],
    count: &mut Count,
    visited: &mut BTreeSet<String>,
    depth: u32,
) {
    for term in terms {
        if !matches!(
            term.mechanism.as_str(),
            "include" | "a" | "mx" | "ptr" | "exists" | "redirect"
        ) {
            continue;
        }
        count.lookups += 1;
        if !matches!(term.mechanism.as_str(), "include" | "redirect") || depth >= 10 {
            continue;
        }
        let target = term.value.trim_end_matches('.').to_ascii_lowercase();
        // A loop is counted once; the limit of 10 stops it anyway.
        if target.is_empty() || !visited.insert(target.clone()) || count.lookups > 10 {
            continue;
        }
        match tagged(resolver, &target, "v=spf1").await {
            Ok(records) if records.len() == 1 => {
                let inner = spf_terms(&records[0]);
                Box::pin(count_lookups(resolver, &inner, count, visited, depth + 1)).await;
            }
            Ok(records) if records.is_empty() => {
                count.void += 1;
                count.broken.push(target);
            }
            Ok(_) => count.broken.push(target),
            Err(_) => {}
        }
    }
}

/// Parses `k=v; k=v` tags (DMARC, DKIM), lower-case keys.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (key, value) = part.split_once('=')?;
            Some((key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn check_dmarc(resolver: &Resolver, audit: &mut DomainAudit) {
    let domain = audit.domain.clone();
    let name = format!("_dmarc.{domain}");
    let records = match tagged(resolver, &name, "v=dmarc1").await {
        Ok(records) => records,
        Err(reason) => {
            weakness(
                audit,
                "dmarc",
                Level::Medium,
                format!("DMARC of {domain} could not be read: {reason}"),
                "check that the domain's name servers answer, then run the audit again".to_owned(),
            );
            return;
        }
    };
    let report_fix =
        format!("add rua=mailto:dmarc-reports@{domain} (or the address of a DMARC report service)");
    match records.len() {
        0 => {
            weakness(
                audit,
                "dmarc",
                Level::High,
                format!(
                    "{domain} has no DMARC record at {name}: receivers apply no policy to mail forged in its name"
                ),
                format!(
                    "publish \"v=DMARC1; p=reject; rua=mailto:dmarc-reports@{domain}\" at {name}, or p=quarantine while you check the reports"
                ),
            );
            return;
        }
        1 => {}
        n => {
            weakness(
                audit,
                "dmarc",
                Level::High,
                format!("{domain} has {n} DMARC records at {name}; receivers ignore them all"),
                "keep one record".to_owned(),
            );
            return;
        }
    }
    let record = records[0].clone();
    audit.dmarc = Some(record.clone());
    let tags = tags(&record);
    match tag(&tags, "p").map(str::to_ascii_lowercase).as_deref() {
        None => weakness(audit, "dmarc", Level::High, format!("the DMARC record of {domain} has no p= policy, so it is invalid"), "add p=reject (or p=quarantine)".to_owned()),
        Some("none") => weakness(audit, "dmarc", Level::High, format!("the DMARC policy of {domain} is p=none: forged mail is reported but still delivered"), "move to p=quarantine, then p=reject, once the aggregate reports show every legitimate sender passing".to_owned()),
        Some("quarantine") => weakness(audit, "dmarc", Level::Low, format!("the DMARC policy of {domain} is p=quarantine: forged mail goes to spam folders rather than being refused"), "move to p=reject".to_owned()),
        Some("reject") => {}
        Some(other) => weakness(audit, "dmarc", Level::High, format!("the DMARC record of {domain} has an unknown policy p={other}"), "use p=reject, p=quarantine or p=none".to_owned()),
    }
    if tag(&tags, "sp").is_some_and(|sp| sp.eq_ignore_ascii_case("none"))
        && !tag(&tags, "p").is_some_and(|p| p.eq_ignore_ascii_case("none"))
    {
        weakness(
            audit,
            "dmarc",
            Level::Medium,
            format!(
                "the DMARC record of {domain} has sp=none: its subdomains can be forged freely"
            ),
            "remove sp=none, or set sp=reject".to_owned(),
        );
    }
    if let Some(pct) = tag(&tags, "pct")
        .and_then(|pct| pct.parse::<u32>().ok())
        .filter(|pct| *pct < 100)
    {
        weakness(
            audit,
            "dmarc",
            Level::Medium,
            format!(
                "the DMARC record of {domain} applies its policy to {pct}% of the forged mail only"
            ),
            "remove pct or set pct=100".to_owned(),
        );
    }
    if tag(&tags, "rua").is_none() {
        weakness(
            audit,
            "dmarc",
            Level::Medium,
            format!(
                "the DMARC record of {domain} has no rua: nobody receives the aggregate reports that show forged mail"
            ),
            report_fix,
        );
    }
}

async fn check_dkim(resolver: &Resolver, audit: &mut DomainAudit, selector: &str) {
    let domain = audit.domain.clone();
    let name = format!("{selector}._domainkey.{domain}");
    let record = match resolver.txt(&name).await {
        TxtResolution::Found(records) => records.into_iter().find(|r| r.contains("p=")),
        TxtResolution::NoName => None,
        TxtResolution::Unknown(reason) => {
            weakness(
                audit,
                "dkim",
                Level::Medium,
                format!("DKIM selector {selector} of {domain} could not be read: {reason}"),
                "check that the domain's name servers answer, then run the audit again".to_owned(),
            );
            return;
        }
    };
    audit.dkim.push((selector.to_owned(), record.clone()));
    let Some(record) = record else {
        weakness(
            audit,
            "dkim",
            Level::High,
            format!(
                "DKIM selector {selector} of {domain} is not published at {name}: mail signed with it fails DKIM"
            ),
            format!(
                "publish the selector's public key at {name}, or remove {selector} from the list if it is no longer used"
            ),
        );
        return;
    };
    let tags = tags(&record);
    let key = tag(&tags, "p")
        .unwrap_or_default()
        .replace(char::is_whitespace, "");
    if key.is_empty() {
        weakness(
            audit,
            "dkim",
            Level::Info,
            format!("DKIM selector {selector} of {domain} is revoked (empty p=)"),
            "nothing to do if the selector is retired; otherwise publish its key".to_owned(),
        );
        return;
    }
    if tag(&tags, "t").is_some_and(|flags| flags.split(':').any(|f| f.trim() == "y")) {
        weakness(
            audit,
            "dkim",
            Level::Low,
            format!(
                "DKIM selector {selector} of {domain} is in testing mode (t=y): receivers may ignore its signatures"
            ),
            "remove t=y once signing works".to_owned(),
        );
    }
    let algorithm = tag(&tags, "k").unwrap_or("rsa").to_ascii_lowercase();
    if algorithm != "rsa" {
        return;
    }
    use base64::Engine as _;
    let Some(bits) = base64::engine::general_purpose::STANDARD
        .decode(key.as_bytes())
        .ok()
        .and_then(|der| rsa_modulus_bits(&der))
    else {
        weakness(
            audit,
            "dkim",
            Level::High,
            format!(
                "the key of DKIM selector {selector} of {domain} is not a valid RSA public key"
            ),
            "publish the selector's key again, base64 of its DER form".to_owned(),
        );
        return;
    };
    if bits < 1024 {
        weakness(
            audit,
            "dkim",
            Level::High,
            format!(
                "DKIM selector {selector} of {domain} has a {bits}-bit RSA key, which RFC 8301 forbids"
            ),
            "generate a 2048-bit key and publish it under a new selector".to_owned(),
        );
    } else if bits < 2048 {
        weakness(
            audit,
            "dkim",
            Level::Medium,
            format!(
                "DKIM selector {selector} of {domain} has a {bits}-bit RSA key, too short today"
            ),
            "generate a 2048-bit key and publish it under a new selector".to_owned(),
        );
    }
}

/// Reads one DER element: (tag, content, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// Returns the size in bits of the modulus of an RSA public key, given as
/// SubjectPublicKeyInfo or as a bare PKCS #1 RSAPublicKey (DKIM records use both).
fn rsa_modulus_bits(der: &[u8]) -> Option<u32> {
    let (tag, body, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (first_tag, first, rest) = der_element(body)?;
    let modulus = match first_tag {
        0x02 => first,
        0x30 => {
            let (bit_tag, bits, _) = der_element(rest)?;
            if bit_tag != 0x03 || bits.is_empty() {
                return None;
            }
            let (inner_tag, inner, _) = der_element(&bits[1..])?;
            if inner_tag != 0x30 {
                return None;
            }
            let (int_tag, modulus, _) = der_element(inner)?;
            (int_tag == 0x02).then_some(modulus)?
        }
        _ => return None,
    };
    let significant: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
    let first = *significant.first()?;
    Some(significant.len() as u32 * 8 - first.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_terms_keep_qualifier_mechanism_and_value() {
        let terms =
            spf_terms("v=spf1 ip4:192.0.2.0/24 -include:_spf.example ~all redirect=x.example");
        let parsed: Vec<(char, &str, &str)> = terms
            .iter()
            .map(|t| (t.qualifier, t.mechanism.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            parsed,
            [
                ('+', "ip4", "192.0.2.0/24"),
                ('-', "include", "_spf.example"),
                ('~', "all", ""),
                ('+', "redirect", "x.example"),
            ]
        );
    }

    #[test]
    fn dmarc_tags_are_split() {
        let parsed = tags("v=DMARC1; p=quarantine; fo=1; aspf=s; adkim=s;");
        assert_eq!(tag(&parsed, "p"), Some("quarantine"));
        assert_eq!(tag(&parsed, "rua"), None);
    }
}
