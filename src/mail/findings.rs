//! Findings of one mail: every domain it names goes through the matcher, and the From display
//! name is checked against the brands.
//!
//! A domain is judged once and yields one finding per role it plays in the mail (sender,
//! reply address, link, address or host name in the text). Sender roles score 10 points
//! more than the matcher gives, because a lookalike that sends mail is in active use.
//!
//! The display-name rule has no domain to match: it folds the display name and each brand
//! keyword the same way (lower case, UTS #39 skeleton, the phishers' digits read as letters,
//! separators removed) and looks for the keyword in the name. The name naming a brand is a
//! finding when the address is on a free-mail provider, and a weaker one when it is on a
//! domain that is neither the brand's nor free mail.

use std::collections::HashSet;

use serde::Serialize;

use crate::detect::{Match, Matcher, severity_for};
use crate::model::Severity;

use super::settings::{MailSettings, is_same_or_subdomain};

/// Score of a From display name that names a brand from a free-mail address.
const FREE_MAIL_DISPLAY_NAME_SCORE: u8 = 80;

/// Score of a From display name that names a brand from a domain that is not the brand's.
const FOREIGN_DISPLAY_NAME_SCORE: u8 = 55;

/// Points added to the matcher's score when a lookalike domain sends the mail.
const SENDER_BONUS: u8 = 10;

/// What the mail does with a domain or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    From,
    ReplyTo,
    ReturnPath,
    Url,
    BodyAddress,
    BodyDomain,
    DisplayName,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::From => "from",
            Role::ReplyTo => "reply-to",
            Role::ReturnPath => "return-path",
            Role::Url => "url",
            Role::BodyAddress => "body-address",
            Role::BodyDomain => "body-domain",
            Role::DisplayName => "display-name",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Role::From => "sender address on",
            Role::ReplyTo => "reply address on",
            Role::ReturnPath => "bounce address (Return-Path) on",
            Role::Url => "link to",
            Role::BodyAddress => "address in the text on",
            Role::BodyDomain => "host name in the text:",
            Role::DisplayName => "domain in the sender's display name:",
        }
    }

    fn bonus(self) -> u8 {
        match self {
            Role::From | Role::ReplyTo | Role::ReturnPath => SENDER_BONUS,
            _ => 0,
        }
    }
}

/// A domain or address of the mail that imitates a watchlist's brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailFinding {
    /// Identifier of the watchlist matched.
    pub watchlist: String,
    /// The domain, or for the display-name rule the sender's address.
    pub subject: String,
    /// `from`, `reply-to`, `return-path`, `url`, `body-address`, `body-domain` or
    /// `display-name`.
    pub role: String,
    /// What the matcher returned; for the display-name rule, a match built by that rule.
    pub matched: Match,
    /// Reasons in words, strongest first.
    pub reasons: Vec<String>,
    /// Score from 0 to 100.
    pub score: u8,
    pub severity: Severity,
}

/// The From header as the display-name rule needs it.
pub struct Sender<'a> {
    pub name: Option<&'a str>,
    pub address: &'a str,
    pub domain: &'a str,
}

/// Runs the matcher on every `(domain, role)` and the display-name rule on the sender.
pub fn find(
    matcher: &Matcher,
    settings: &MailSettings,
    domains: &[(String, Role)],
    sender: Option<Sender<'_>>,
) -> Vec<MailFinding> {
    let mut findings = Vec::new();
    let mut seen = HashSet::new();
    let mut judged: Vec<(String, Option<Match>)> = Vec::new();
    for (domain, role) in domains {
        if !seen.insert((domain.as_str(), *role)) {
            continue;
        }
        let hit = match judged.iter().find(|(known, _)| known == domain) {
            Some((_, hit)) => hit.clone(),
            None => {
                let hit = matcher.check(domain);
                judged.push((domain.clone(), hit.clone()));
                hit
            }
        };
        if let Some(hit) = hit {
            findings.push(domain_finding(hit, domain, *role));
        }
    }
    if let Some(sender) = sender {
        findings.extend(display_name_findings(matcher, settings, &sender));
    }
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.score));
    findings
}

fn domain_finding(hit: Match, domain: &str, role: Role) -> MailFinding {
    let score = hit.score.saturating_add(role.bonus()).min(100);
    let mut reasons = vec![format!(
        "{} {domain}, which imitates {}",
        role.describe(),
        hit.matched
    )];
    reasons.extend(hit.reasons.iter().cloned());
    MailFinding {
        watchlist: hit.watchlist.clone(),
        subject: domain.to_string(),
        role: role.as_str().to_string(),
        score,
        severity: severity_for(score),
        reasons,
        matched: hit,
    }
}

fn display_name_findings(
    matcher: &Matcher,
    settings: &MailSettings,
    sender: &Sender<'_>,
) -> Vec<MailFinding> {
    let Some(name) = sender.name.filter(|n| !n.trim().is_empty()) else {
        return Vec::new();
    };
    let folded_name = FoldedName::new(name);
    let free_mail = settings.is_free_mail(sender.domain);
    let mut findings = Vec::new();
    let mut brands_done = HashSet::new();
    for keyword in &matcher.keywords {
        let brand = &matcher.brands[keyword.brand as usize];
        if brands_done.contains(&keyword.brand) {
            continue;
        }
        let folded_keyword = fold(&keyword.text);
        let whole_word = keyword.whole_word || folded_keyword.chars().count() <= 4;
        if !folded_name.contains(&folded_keyword, whole_word) {
            continue;
        }
        if owns_domain(matcher, keyword.brand, sender.domain) {
            continue;
        }
        brands_done.insert(keyword.brand);
        let (score, reason) = if free_mail {
            (
                FREE_MAIL_DISPLAY_NAME_SCORE,
                format!(
                    "display name {name:?} names the brand {} while the address {} is on the free-mail provider {}",
                    brand.brand, sender.address, sender.domain
                ),
            )
        } else {
            (
                FOREIGN_DISPLAY_NAME_SCORE,
                format!(
                    "display name {name:?} names the brand {} while the address {} is on {}, which is not a domain of the brand",
                    brand.brand, sender.address, sender.domain
                ),
            )
        };
        let matched = Match {
            watchlist: brand.id.clone(),
            matched: brand.brand.clone(),
            input: name.to_string(),
            host: sender.domain.to_string(),
            unicode: sender.domain.to_string(),
            kinds: Vec::new(),
            fuzzers: Vec::new(),
            score,
            severity: severity_for(score),
            reasons: vec![reason.clone()],
        };
        findings.push(MailFinding {
            watchlist: brand.id.clone(),
            subject: sender.address.to_string(),
            role: Role::DisplayName.as_str().to_string(),
            matched,
            reasons: vec![reason],
            score,
            severity: severity_for(score),
        });
    }
    findings
}

/// Tells whether `domain` is a legitimate or allow-listed name of brand `brand`, or under one.
fn owns_domain(matcher: &Matcher, brand: u32, domain: &str) -> bool {
    let owned = |map: &std::collections::HashMap<String, Vec<u32>>| {
        map.iter()
            .any(|(name, brands)| brands.contains(&brand) && is_same_or_subdomain(domain, name))
    };
    owned(&matcher.legit_hosts) || owned(&matcher.allow_hosts)
}

/// A display name folded for keyword search: the folded words and where each starts in
/// their concatenation.
struct FoldedName {
    joined: String,
    /// Byte offsets in `joined` where a word starts, and the end of `joined`.
    boundaries: Vec<usize>,
}

impl FoldedName {
    fn new(name: &str) -> Self {
        let mut joined = String::new();
        let mut boundaries = Vec::new();
        for word in name.split(|c: char| !c.is_alphanumeric() && !matches!(c, '$' | '@')) {
            let folded = fold(word);
            if folded.is_empty() {
                continue;
            }
            boundaries.push(joined.len());
            joined.push_str(&folded);
        }
        boundaries.push(joined.len());
        FoldedName { joined, boundaries }
    }

    /// Tells whether `keyword` (folded) appears, and for `whole_word`, starts and ends at
    /// word boundaries (`Pay Pal` contains `paypal` as whole words).
    fn contains(&self, keyword: &str, whole_word: bool) -> bool {
        if keyword.is_empty() {
            return false;
        }
        self.joined.match_indices(keyword).any(|(start, found)| {
            !whole_word
                || (self.boundaries.contains(&start)
                    && self.boundaries.contains(&(start + found.len())))
        })
    }
}

/// Folds text for comparison: lower case, UTS #39 skeleton, digits and symbols that phishers
/// use for letters, everything else but letters removed.
pub(crate) fn fold(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for c in unicode_security::confusable_detection::skeleton(&lower) {
        for c in c.to_lowercase() {
            let c = match c {
                '0' => 'o',
                '1' | '|' => 'l',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                '8' => 'b',
                other => other,
            };
            if c.is_alphabetic() {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_name_finds_split_and_disguised_brands() {
        let name = FoldedName::new("Pay Pal Service");
        assert!(name.contains(&fold("paypal"), true));
        let name = FoldedName::new("PAYPA1 Support");
        assert!(name.contains(&fold("paypal"), false));
        let name = FoldedName::new("Bankingsolutions");
        assert!(!name.contains(&fold("bank"), true));
        assert!(name.contains(&fold("bank"), false));
    }
}
