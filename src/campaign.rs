//! Mail campaigns: which keys group mails together, and the finding that stands for a campaign.
//!
//! URL domains and reply-to addresses on the watchlist's legitimate or allow-listed domains
//! are no keys: phishing mails copy them from the brand's real mails. For the same reason a
//! URL domain that the matcher flags counts as strong only at high severity or above.
//!
//! A mail's grouping keys are its origin IP, the network of that IP (/24 for IPv4, /48 for
//! IPv6), the domains of its URLs, its reply-to addresses, the digest of its body and the
//! eight bands of its body's SimHash. The origin IP, the reply-to addresses, the body digest
//! and a URL domain that the matcher flags as imitating the brand are strong: one of them
//! shared puts two mails in one campaign. The network and the other URL domains
//! (mailing-list footers, link shorteners, common sites) are weak: weak keys of two kinds
//! must be shared, such as the network and a URL domain. A body whose SimHash is at most 4
//! bits from that of a campaign's mail counts as near-identical; the SimHash is split into
//! eight bands so that the store finds such campaigns by index. The store applies these
//! rules ([`crate::store`]).
//!
//! The 4-bit bound comes from the SpamAssassin advance-fee mails of the test fixtures: copies
//! of one letter land 0 to 1 bit apart, while different letters land 9 bits or more apart,
//! because their shared vocabulary makes their SimHashes far closer than random ones.
//!
//! Each campaign is one finding of kind `mail-campaign`, whose fingerprint hashes the
//! watchlist and the campaign's key (the SHA-256 of its first mail), so every later mail
//! updates the same finding. What alerts again is decided by the finding's facts:
//!
//! - `url-domain`: a URL domain never seen in the campaign (a new landing page to block);
//! - `reply-to`: a reply-to address never seen in the campaign (a new mailbox to report);
//! - `origin`: the campaign's origin class changing (`one-machine`, `one-network`,
//!   `many-machines`), so a campaign that turns out to come from a botnet alerts once more;
//! - a severity above every earlier one, which the store alerts on for every finding (a later
//!   mail that links to a critical lookalike, say).
//!
//! A new mail that brings none of these updates the finding's evidence (mail count, origin IPs
//! and networks with their counts, latest mail) without an alert.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::json;
use time::OffsetDateTime;

use crate::config::Watchlist;
use crate::model::{Finding, Indicator, IndicatorKind, Severity};
use crate::store::{CampaignInput, CampaignKey, CampaignState};

/// Kind of the findings that stand for campaigns.
pub const KIND: &str = "mail-campaign";

/// Origin IPs and networks listed by value in a finding's evidence and indicators; the
/// counts cover all of them.
const LISTED_ORIGINS: usize = 50;

/// What the campaign logic needs to know about one analysed mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailFacts {
    /// SHA-256 of the raw mail, hex.
    pub sha256: String,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    /// Reply-to addresses, lower-case.
    pub reply_to: Vec<String>,
    /// IP address of the machine that sent the mail, from the `Received` chain.
    pub origin_ip: Option<IpAddr>,
    /// Host names of the mail's URLs, lower-case, without duplicates.
    pub url_domains: Vec<String>,
    /// Digest of the normalised body: equal for copies of one text.
    pub body_digest: Option<String>,
    /// 64-bit SimHash of the normalised body in 16 hex digits: close for near-identical texts.
    pub body_simhash: Option<String>,
    /// Watchlist matches found in the mail.
    pub matches: Vec<MailMatch>,
}

/// One watchlist match found in a mail (a lookalike domain in a URL, the brand in the
/// sender's display name, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct MailMatch {
    pub watchlist: String,
    /// What matched: a domain, an address, a display name.
    pub subject: String,
    /// Where it was found in the mail: `url`, `from`, `reply-to`, ...
    pub role: String,
    pub score: u8,
    pub severity: Severity,
    pub reasons: Vec<String>,
}

/// Where a campaign's mails come from, by their origin IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginClass {
    /// No mail had an origin IP that could be read.
    Unknown,
    /// Every mail came from one IP address.
    OneMachine,
    /// Several IP addresses, all in one /24 (IPv4) or /48 (IPv6).
    OneNetwork,
    /// IP addresses in several networks: a botnet or a spread of relays.
    ManyMachines,
}

impl OriginClass {
    /// Classifies a campaign by its number of distinct origin IPs and networks.
    pub fn from_counts(ips: usize, networks: usize) -> OriginClass {
        match (ips, networks) {
            (0, _) => OriginClass::Unknown,
            (1, _) => OriginClass::OneMachine,
            (_, 0 | 1) => OriginClass::OneNetwork,
            _ => OriginClass::ManyMachines,
        }
    }

    /// Returns the name used in facts and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginClass::Unknown => "unknown",
            OriginClass::OneMachine => "one-machine",
            OriginClass::OneNetwork => "one-network",
            OriginClass::ManyMachines => "many-machines",
        }
    }
}

/// Returns the network an address is grouped by: its /24 for IPv4, its /48 for IPv6.
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let network = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{network}/48")
        }
    }
}

/// Where a mail without a watchlist match is filed, and how severe its campaign is.
#[derive(Debug, Clone, Copy)]
pub struct Fallback<'a> {
    pub watchlist: &'a str,
    pub severity: Severity,
}

/// Decides the campaign part of a mail: its watchlist (the watchlist of its strongest match,
/// else the fallback), its keys, score and label. Returns `None` when the mail matches no
/// watchlist and there is no fallback, or when the watchlist is not configured.
pub fn campaign_input(
    facts: &MailFacts,
    watchlists: &[Watchlist],
    fallback: Option<Fallback<'_>>,
) -> Option<CampaignInput> {
    let strongest = facts
        .matches
        .iter()
        .max_by_key(|found| (found.score, found.severity));
    let (watchlist_id, score, severity) = match (strongest, fallback) {
        (Some(found), _) => (found.watchlist.as_str(), found.score, found.severity),
        (None, Some(fallback)) => (
            fallback.watchlist,
            score_of(fallback.severity),
            fallback.severity,
        ),
        (None, None) => return None,
    };
    let watchlist = watchlists.iter().find(|list| list.id == watchlist_id)?;

    let keys = keys_for(facts, watchlist);
    Some(CampaignInput {
        watchlist: watchlist.id.clone(),
        label: label_for(facts, &keys),
        imitates: watchlist.brand.clone(),
        keys,
        score,
        severity,
    })
}

/// Returns a score that sits in the middle of a severity's band.
fn score_of(severity: Severity) -> u8 {
    match severity {
        Severity::Low => 20,
        Severity::Medium => 55,
        Severity::High => 80,
        Severity::Critical => 95,
    }
}

/// Lists a mail's grouping keys for a watchlist. URL domains that the watchlist owns or
/// allows are left out, because a scam mail that links to the real site tells nothing about
/// its campaign.
pub fn keys_for(facts: &MailFacts, watchlist: &Watchlist) -> Vec<CampaignKey> {
    let key = |kind: &str, value: String, strong: bool| CampaignKey {
        kind: kind.to_string(),
        value,
        strong,
    };
    let mut keys = Vec::new();
    if let Some(ip) = facts.origin_ip {
        keys.push(key("ip", ip.to_string(), true));
        keys.push(key("network", network_of(ip), false));
    }
    // A host flagged at medium severity or below is often one the real brand's mails use
    // (a tracking or image host the watchlist does not list), which phishing kits copy.
    let flagged: BTreeSet<&str> = facts
        .matches
        .iter()
        .filter(|found| found.watchlist == watchlist.id && found.severity >= Severity::High)
        .map(|found| found.subject.as_str())
        .collect();
    for domain in &facts.url_domains {
        if crate::pipeline::is_legitimate(watchlist, domain)
            || crate::pipeline::is_allow_listed(watchlist, domain)
        {
            continue;
        }
        let strong = flagged.contains(domain.as_str());
        keys.push(key("url-domain", domain.clone(), strong));
    }
    for address in &facts.reply_to {
        // A reply-to on the brand's own domain is copied from its real mails. Spoofed, it
        // tells nothing about who sent this one.
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        if crate::pipeline::is_legitimate(watchlist, domain)
            || crate::pipeline::is_allow_listed(watchlist, domain)
        {
            continue;
        }
        keys.push(key("reply-to", address.clone(), true));
    }
    if let Some(digest) = &facts.body_digest {
        keys.push(key("body", digest.clone(), true));
    }
    if let Some(simhash) = &facts.body_simhash {
        keys.push(key(BODY_SIMHASH, simhash.clone(), false));
        keys.extend(
            simhash_bands(simhash)
                .into_iter()
                .map(|band| key(BODY_BAND, band, false)),
        );
    }
    keys
}

/// Key kind of the bands of a body's SimHash, by which the store finds candidate campaigns.
pub const BODY_BAND: &str = "body-band";

/// Key kind of a body's whole SimHash, against which the store checks a candidate.
pub const BODY_SIMHASH: &str = "body-simhash";

/// Splits a 16-hex-digit SimHash into its eight 8-bit bands, each tagged with its position
/// (`3:af`). Two SimHashes at a distance of 4 bits or less share at least four bands.
pub fn simhash_bands(simhash: &str) -> Vec<String> {
    if simhash.len() != 16 || !simhash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Vec::new();
    }
    (0..8)
        .map(|band| format!("{band}:{}", &simhash[band * 2..band * 2 + 2]))
        .collect()
}

/// Picks the subject of a new campaign's finding: its most telling indicator.
fn label_for(facts: &MailFacts, keys: &[CampaignKey]) -> String {
    let first = |kind: &str, strong: bool| {
        keys.iter()
            .find(|key| key.kind == kind && (key.strong || !strong))
            .map(|key| key.value.clone())
    };
    // A weak URL domain comes last: it is often a footer or an advertisement of a webmail.
    first("url-domain", true)
        .or_else(|| first("reply-to", true))
        .or_else(|| facts.from.clone().filter(|from| from.contains('@')))
        .or_else(|| facts.origin_ip.map(|ip| ip.to_string()))
        .or_else(|| first("url-domain", false))
        .unwrap_or_else(|| match &facts.subject {
            Some(subject) => format!("mail \"{}\"", truncate(subject, 80)),
            None => format!("mail {}", &facts.sha256[..facts.sha256.len().min(16)]),
        })
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Builds the finding that stands for a campaign after `latest` was filed into it.
pub fn finding(
    state: &CampaignState,
    latest: &MailFacts,
    source: &str,
    observed_at: OffsetDateTime,
) -> Finding {
    let ips = state.keys.get("ip").cloned().unwrap_or_default();
    let networks = state.keys.get("network").cloned().unwrap_or_default();
    let origin = OriginClass::from_counts(ips.len(), networks.len());
    let url_domains = state.values("url-domain");
    let reply_to = state.values("reply-to");

    let mut facts = BTreeMap::new();
    facts.insert(
        "origin".to_string(),
        BTreeSet::from([origin.as_str().to_string()]),
    );
    if !url_domains.is_empty() {
        facts.insert("url-domain".to_string(), url_domains.clone());
    }
    if !reply_to.is_empty() {
        facts.insert("reply-to".to_string(), reply_to.clone());
    }

    Finding {
        fingerprint: Finding::fingerprint_for(&state.watchlist, KIND, &state.key),
        kind: KIND.to_string(),
        source: source.to_string(),
        watchlist: state.watchlist.clone(),
        subject: state.label.clone(),
        imitates: state.imitates.clone(),
        techniques: techniques(state),
        reasons: reasons(state, latest, origin),
        severity: state.severity,
        score: state.score,
        indicators: indicators(&ips, &url_domains, &reply_to),
        facts,
        evidence: evidence(state, latest, origin, &ips, &networks),
        observed_at,
    }
}

/// Names the keys that hold the campaign together, such as `reply-to` and `body`.
fn techniques(state: &CampaignState) -> Vec<String> {
    ["reply-to", "body", "url-domain", "ip", "network"]
        .into_iter()
        .filter(|kind| {
            state
                .keys
                .get(*kind)
                .is_some_and(|values| values.values().any(|mails| *mails >= 2))
        })
        .map(|kind| format!("shared-{kind}"))
        .collect()
}

fn reasons(state: &CampaignState, latest: &MailFacts, origin: OriginClass) -> Vec<String> {
    let ips = state.keys.get("ip").map_or(0, BTreeMap::len);
    let networks = state.keys.get("network").map_or(0, BTreeMap::len);
    let mails = state.mail_count;
    let mut reasons = vec![match origin {
        OriginClass::Unknown => format!("{mails} mail(s); no origin IP could be read"),
        OriginClass::OneMachine => format!("{mails} mail(s) from one machine"),
        OriginClass::OneNetwork => {
            format!("{mails} mail(s) from {ips} machines in one network")
        }
        OriginClass::ManyMachines => format!(
            "{mails} mail(s) from {ips} machines in {networks} networks (botnet or spread of relays)"
        ),
    }];
    for (kind, what) in [
        ("reply-to", "reply-to address"),
        ("body", "body"),
        ("url-domain", "URL domain"),
    ] {
        for (value, count) in state.keys.get(kind).into_iter().flatten() {
            if *count < 2 {
                continue;
            }
            let shown = if kind == "body" {
                String::new()
            } else {
                format!(" {value}")
            };
            reasons.push(format!("same {what}{shown} in {count} mails"));
        }
    }
    for found in latest
        .matches
        .iter()
        .filter(|found| found.watchlist == state.watchlist)
    {
        for reason in &found.reasons {
            let line = format!("{} ({}): {reason}", found.subject, found.role);
            if !reasons.contains(&line) {
                reasons.push(line);
            }
        }
    }
    reasons
}

fn indicators(
    ips: &BTreeMap<String, u64>,
    url_domains: &BTreeSet<String>,
    reply_to: &BTreeSet<String>,
) -> Vec<Indicator> {
    let mut indicators: Vec<Indicator> = url_domains
        .iter()
        .map(|domain| Indicator::new(IndicatorKind::Domain, domain.clone()))
        .collect();
    indicators.extend(
        reply_to
            .iter()
            .map(|address| Indicator::new(IndicatorKind::Email, address.clone())),
    );
    indicators.extend(
        ips.keys()
            .take(LISTED_ORIGINS)
            .map(|ip| Indicator::new(IndicatorKind::Ip, ip.clone())),
    );
    indicators
}

fn evidence(
    state: &CampaignState,
    latest: &MailFacts,
    origin: OriginClass,
    ips: &BTreeMap<String, u64>,
    networks: &BTreeMap<String, u64>,
) -> serde_json::Value {
    let listed = |values: &BTreeMap<String, u64>| {
        let mut sorted: Vec<(&String, &u64)> = values.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        sorted
            .into_iter()
            .take(LISTED_ORIGINS)
            .map(|(value, mails)| json!({ "value": value, "mails": mails }))
            .collect::<Vec<_>>()
    };
    json!({
        "campaign_id": state.id,
        "mails": state.mail_count,
        "origin": {
            "class": origin.as_str(),
            "machines": ips.len(),
            "networks": networks.len(),
        },
        "origin_ips": listed(ips),
        "networks": listed(networks),
        "url_domains": state.values("url-domain"),
        "reply_to": state.values("reply-to"),
        "first_mail_at": state.first_seen.unix_timestamp(),
        "last_mail_at": state.last_seen.unix_timestamp(),
        "absorbed_campaigns": state.absorbed,
        "latest_mail": {
            "sha256": latest.sha256,
            "message_id": latest.message_id,
            "subject": latest.subject,
            "from": latest.from,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert_eq!(
            network_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            network_of("2001:db8:aa:bb::1".parse().unwrap()),
            "2001:db8:aa::/48"
        );
    }

    #[test]
    fn origin_class_by_counts() {
        assert_eq!(OriginClass::from_counts(0, 0), OriginClass::Unknown);
        assert_eq!(OriginClass::from_counts(1, 1), OriginClass::OneMachine);
        assert_eq!(OriginClass::from_counts(3, 1), OriginClass::OneNetwork);
        assert_eq!(OriginClass::from_counts(3, 2), OriginClass::ManyMachines);
    }

    #[test]
    fn simhash_splits_into_eight_bands() {
        let bands = simhash_bands("0123456789abcdef");
        assert_eq!(bands.len(), 8);
        assert_eq!(bands[0], "0:01");
        assert_eq!(bands[7], "7:ef");
        assert!(simhash_bands("xyz").is_empty());
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("ééééé", 3), "ééé...");
        assert_eq!(truncate("short", 10), "short");
    }
}
