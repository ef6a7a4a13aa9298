//! The `Received` chain: one [`Hop`] per header, and the walk that names the real sender IP.
//!
//! Each MTA that relays a mail adds a `Received` header on top, so the chain reads from the
//! newest hop (the company's own servers) down to the oldest. Only the hops written by
//! servers one trusts are true: everything below the first hop from an outside address was
//! written by the sender or by servers the sender chose, and may be forged. The walk goes
//! down from the top, passes over hops from the company's own networks and host names, from
//! private, loopback and reserved addresses, and mailbox retrievals (POP3, IMAP), and names
//! the first outside address as the origin.
//!
//! How sure the origin is comes from two checks. Each hop's receiving host (`by`) should be
//! the host that the hop above received the mail from: hops that agree so form a chain, and
//! a break above the origin means the walk may have gone wrong. Below the origin, a hop whose
//! `by` does not follow, whose date is invalid or later than the hop above it, or that names
//! no receiving host looks forged.
//!
//! mail-parser reads each header's clauses (`from`, `by`, `with`, the address in brackets,
//! the date); the walk and the checks are ours, because no crate does them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mail_parser::{Header, HeaderName, HeaderValue, Host, Message, Protocol, Received};
use serde::Serialize;

use super::settings::{MailSettings, canonical_ip};

/// A hop may be dated this many seconds after the hop above it (clock skew) before it looks
/// forged.
const CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Longest host name kept from a header; longer text is cut.
const MAX_HOST_LEN: usize = 255;

/// What the walk made of one hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HopRole {
    /// Received from one of the company's own networks or host names.
    Own,
    /// Received from a private, loopback or reserved address, or handed on inside the
    /// receiving system (no `from` clause).
    Internal,
    /// A mailbox retrieval (POP3, IMAP) by the recipient, not a relay.
    Retrieval,
    /// A hop above the origin that records no address (local submission, unparsed address).
    NoAddress,
    /// The first hop from an outside address: the real sender as far as the chain tells.
    Origin,
    /// A hop below the origin: written by the sender's side, not verified.
    Claimed,
    /// No hop above it named an origin and it records no address.
    Unknown,
}

/// One `Received` header, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Position from the top: 0 is the newest hop.
    pub index: usize,
    /// Name the sending host gave (`from` clause, often its HELO).
    pub from_host: Option<String>,
    /// Reverse DNS name of the sending address, as the receiving host recorded it.
    pub from_rdns: Option<String>,
    /// Address the receiving host saw the connection come from.
    pub from_ip: Option<IpAddr>,
    /// The receiving host (`by` clause).
    pub by_host: Option<String>,
    /// Protocol (`with` clause), e.g. `ESMTPS`.
    pub protocol: Option<String>,
    /// Date of the hop in RFC 3339 form; `None` when missing or invalid.
    pub date: Option<String>,
    pub role: HopRole,
    /// Whether the hop's `by` names the host that the hop above received the mail from;
    /// `None` for the top hop.
    pub follows_above: Option<bool>,
    /// Why the hop looks forged; empty when it does not.
    pub forged: Vec<String>,
    /// Whether mail-parser could read the header's clauses.
    pub parsed: bool,
}

/// How sure the walk is of the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// The real sender IP: the first outside hop of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub ip: IpAddr,
    /// Index of the origin hop in `received`; `None` when the address comes from elsewhere
    /// (the `Source-IP` of an abuse report).
    pub hop: Option<usize>,
    /// Name the sender gave for itself.
    pub host: Option<String>,
    /// Reverse DNS name recorded by the receiving host.
    pub rdns: Option<String>,
    /// The host that received the mail from it.
    pub received_by: Option<String>,
    pub confidence: Confidence,
    /// Links of the chain from the top down to the origin whose `by` follows the hop above.
    pub agreeing_hops: usize,
    /// Links from the top down to the origin that do not follow.
    pub broken_hops: usize,
    /// Hops below the origin that look forged.
    pub forged_hops: usize,
    /// Why the confidence is what it is, in words.
    pub reasons: Vec<String>,
}

/// Reads the `Received` headers of `message`, newest first, at most `max_hops` of them.
pub fn hops(message: &Message<'_>, max_hops: usize) -> Vec<Hop> {
    message
        .headers()
        .iter()
        .filter(|header| header.name == HeaderName::Received)
        .take(max_hops)
        .enumerate()
        .map(|(index, header)| hop_from_header(index, header, message.raw_message.as_ref()))
        .collect()
}

fn hop_from_header(index: usize, header: &Header<'_>, raw: &[u8]) -> Hop {
    let mut hop = Hop {
        index,
        from_host: None,
        from_rdns: None,
        from_ip: None,
        by_host: None,
        protocol: None,
        date: None,
        role: HopRole::Unknown,
        follows_above: None,
        forged: Vec::new(),
        parsed: false,
    };
    match &header.value {
        HeaderValue::Received(received) => fill_from_parsed(&mut hop, received),
        _ => {
            // mail-parser gave up on the clauses; the bracketed address is still worth having.
            let text = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .unwrap_or_default();
            hop.from_ip = bracketed_ip(text);
            hop.forged
                .push("the header cannot be read as a Received header".to_string());
        }
    }
    hop
}

fn fill_from_parsed(hop: &mut Hop, received: &Received<'_>) {
    hop.parsed = received.from.is_some() || received.by.is_some();
    let from_literal = match &received.from {
        // qmail-scanner writes the envelope sender there (`from user@example.com by host`),
        // which names no host.
        Some(Host::Name(name)) if !name.contains('@') => {
            hop.from_host = Some(clean_host(name));
            None
        }
        Some(Host::Name(_)) => None,
        Some(Host::IpAddr(ip)) => {
            hop.from_host = Some(ip.to_string());
            Some(*ip)
        }
        None => None,
    };
    hop.from_rdns = received
        .from_iprev
        .as_deref()
        .map(clean_host)
        .filter(|name| !name.is_empty() && name != "unknown");
    hop.from_ip = received.from_ip.or(from_literal).map(canonical_ip);
    hop.by_host = received.by.as_ref().map(|by| match by {
        Host::Name(name) => clean_host(name),
        Host::IpAddr(ip) => ip.to_string(),
    });
    hop.protocol = received.with.map(protocol_name);
    if let Some(date) = received.date {
        if date.is_valid() {
            hop.date = Some(date.to_rfc3339());
        } else {
            hop.forged.push("its date is not a valid date".to_string());
        }
    }
}

fn clean_host(name: &str) -> String {
    let name = name.trim().trim_end_matches('.');
    let end = name
        .char_indices()
        .nth(MAX_HOST_LEN)
        .map_or(name.len(), |(at, _)| at);
    name[..end].to_lowercase()
}

fn protocol_name(protocol: Protocol) -> String {
    let name = match protocol {
        Protocol::SMTP => "SMTP",
        Protocol::ESMTP => "ESMTP",
        Protocol::ESMTPA => "ESMTPA",
        Protocol::ESMTPS => "ESMTPS",
        Protocol::ESMTPSA => "ESMTPSA",
        Protocol::LMTP => "LMTP",
        Protocol::LMTPA => "LMTPA",
        Protocol::LMTPS => "LMTPS",
        Protocol::LMTPSA => "LMTPSA",
        Protocol::MMS => "MMS",
        Protocol::UTF8SMTP => "UTF8SMTP",
        Protocol::UTF8SMTPA => "UTF8SMTPA",
        Protocol::UTF8SMTPS => "UTF8SMTPS",
        Protocol::UTF8SMTPSA => "UTF8SMTPSA",
        Protocol::UTF8LMTP => "UTF8LMTP",
        Protocol::UTF8LMTPA => "UTF8LMTPA",
        Protocol::UTF8LMTPS => "UTF8LMTPS",
        Protocol::UTF8LMTPSA => "UTF8LMTPSA",
        Protocol::HTTP => "HTTP",
        Protocol::HTTPS => "HTTPS",
        Protocol::IMAP => "IMAP",
        Protocol::POP3 => "POP3",
        Protocol::Local => "local",
    };
    name.to_string()
}

/// Finds the first `[a.b.c.d]` or `[IPv6:...]` literal in raw header text.
fn bracketed_ip(text: &[u8]) -> Option<IpAddr> {
    let text = String::from_utf8_lossy(text);
    text.split('[').skip(1).find_map(|rest| {
        let inside = rest.split(']').next()?;
        let inside = inside
            .strip_prefix("IPv6:")
            .or_else(|| inside.strip_prefix("ipv6:"))
            .unwrap_or(inside);
        inside.parse::<IpAddr>().ok().map(canonical_ip)
    })
}

/// Walks the chain from the top, sets each hop's role and checks, and names the origin.
pub fn walk(hops: &mut [Hop], settings: &MailSettings) -> Option<Origin> {
    link_hops(hops);
    let origin_index = find_origin(hops, settings)?;
    for hop in hops.iter_mut().skip(origin_index + 1) {
        hop.role = HopRole::Claimed;
    }
    let ip = hops[origin_index].from_ip?;
    Some(judge_origin(hops, origin_index, ip, settings))
}

/// Sets `follows_above` on every hop but the top one, and notes forged-looking hops.
fn link_hops(hops: &mut [Hop]) {
    for index in 1..hops.len() {
        let (above, below) = hops.split_at_mut(index);
        let upper = &above[index - 1];
        let lower = &mut below[0];
        lower.follows_above = follows(upper, lower);
        if let (Some(upper_date), Some(lower_date)) = (timestamp(upper), timestamp(lower))
            && lower_date > upper_date + CLOCK_SKEW_SECS
        {
            lower.forged.push(format!(
                "it is dated {} minutes after the hop above it",
                (lower_date - upper_date) / 60
            ));
        }
    }
}

/// Tells whether `lower`'s receiving host is the host `upper` received the mail from;
/// `None` when the pair cannot be judged: `lower` names no receiving host, `upper` names no
/// sender (a local hand-off), or `upper` is a mailbox retrieval, after which the chain
/// starts again at the mailbox server.
fn follows(upper: &Hop, lower: &Hop) -> Option<bool> {
    let by = lower.by_host.as_deref()?;
    if is_retrieval(upper) || !names_sender(upper) {
        return None;
    }
    Some(names_same_host(upper, by))
}

fn is_retrieval(hop: &Hop) -> bool {
    matches!(hop.protocol.as_deref(), Some("POP3" | "IMAP"))
}

/// Tells whether the hop has a `from` clause: a name, a reverse name or an address.
fn names_sender(hop: &Hop) -> bool {
    hop.from_host.is_some() || hop.from_rdns.is_some() || hop.from_ip.is_some()
}

fn timestamp(hop: &Hop) -> Option<i64> {
    let date = hop.date.as_deref()?;
    time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|d| d.unix_timestamp())
}

/// Tells whether `by` (the receiving host of a lower hop) names the host that `upper`
/// received the mail from.
fn names_same_host(upper: &Hop, by: &str) -> bool {
    if let Ok(ip) = by.trim_matches(['[', ']']).parse::<IpAddr>() {
        return upper.from_ip == Some(canonical_ip(ip));
    }
    [upper.from_host.as_deref(), upper.from_rdns.as_deref()]
        .into_iter()
        .flatten()
        .any(|name| similar_names(name, by))
}

/// Names agree when equal, when one is under the other, or when their first labels are equal
/// and either their last two labels are too or the first label is a machine name (eight
/// characters or more, with a digit). Large providers name one machine differently on each
/// side: `a1.eop.example.com` and `a1.mail.example.com`, or
/// `am6p194ca0071.eurp194.prod.outlook.com` and `am6p194ca0071.outlook.office365.com`.
fn similar_names(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b)
        || super::settings::is_same_or_subdomain(a, b)
        || super::settings::is_same_or_subdomain(b, a)
    {
        return true;
    }
    let (Some((first_a, _)), Some((first_b, _))) = (a.split_once('.'), b.split_once('.')) else {
        return false;
    };
    if first_a.len() <= 2 || !first_a.eq_ignore_ascii_case(first_b) {
        return false;
    }
    let machine_name = first_a.len() >= 8 && first_a.bytes().any(|b| b.is_ascii_digit());
    machine_name || last_two_labels(a).eq_ignore_ascii_case(last_two_labels(b))
}

/// Returns the last two labels of a name (`example.com` of `a.b.example.com`).
fn last_two_labels(name: &str) -> &str {
    match name.rmatch_indices('.').nth(1) {
        Some((at, _)) => &name[at + 1..],
        None => name,
    }
}

/// Sets the role of every hop down to the origin and returns the origin's index.
fn find_origin(hops: &mut [Hop], settings: &MailSettings) -> Option<usize> {
    for (index, hop) in hops.iter_mut().enumerate() {
        hop.role = classify(hop, settings);
        if hop.role == HopRole::Origin {
            return Some(index);
        }
    }
    None
}

fn classify(hop: &Hop, settings: &MailSettings) -> HopRole {
    if !names_sender(hop) {
        // No `from` clause: a hand-off inside the receiving system (`by` only, or qmail's
        // `invoked by uid`), not a connection from another host.
        return if hop.parsed || hop.forged.is_empty() {
            HopRole::Internal
        } else {
            HopRole::NoAddress
        };
    }
    let Some(ip) = hop.from_ip else {
        let names = [hop.from_rdns.as_deref(), hop.from_host.as_deref()];
        let names = names.into_iter().flatten();
        return if hop.protocol.as_deref() == Some("local")
            || names.clone().any(|name| name == "localhost")
        {
            HopRole::Internal
        } else if names.into_iter().any(|name| settings.is_own_host(name)) {
            HopRole::Own
        } else {
            HopRole::NoAddress
        };
    };
    if settings.is_own_ip(ip) {
        return HopRole::Own;
    }
    if !is_public(ip) {
        return HopRole::Internal;
    }
    // The reverse DNS name is recorded by the receiving server. The HELO name is the
    // sender's word: it counts only when no reverse name was recorded and no own network is
    // configured, since with own networks an own server's address is in one of them.
    let own_by_name = match hop.from_rdns.as_deref() {
        Some(rdns) => settings.is_own_host(rdns),
        None => {
            settings.own_networks.is_empty()
                && hop
                    .from_host
                    .as_deref()
                    .is_some_and(|name| settings.is_own_host(name))
        }
    };
    if own_by_name {
        return HopRole::Own;
    }
    if is_retrieval(hop) {
        return HopRole::Retrieval;
    }
    HopRole::Origin
}

fn judge_origin(hops: &[Hop], origin: usize, ip: IpAddr, settings: &MailSettings) -> Origin {
    let hop = &hops[origin];
    let above = &hops[..=origin];
    let agreeing = above
        .iter()
        .filter(|h| h.follows_above == Some(true))
        .count();
    let broken = above
        .iter()
        .filter(|h| h.follows_above == Some(false))
        .count();
    let forged = hops[origin + 1..]
        .iter()
        .filter(|h| !h.forged.is_empty() || h.follows_above == Some(false))
        .count();

    let mut reasons = Vec::new();
    let received_by_own = hop
        .by_host
        .as_deref()
        .is_some_and(|by| settings.is_own_host(by))
        || (origin > 0 && hops[origin - 1].role == HopRole::Own);
    if received_by_own {
        reasons.push("received by one of the company's own mail servers".to_string());
    } else if settings.has_own_mtas() {
        reasons.push("not received by a configured own mail server".to_string());
    } else {
        reasons.push(
            "no own mail servers are configured: the first public address is taken".to_string(),
        );
    }
    if broken > 0 {
        reasons.push(format!(
            "{broken} hop(s) above the origin do not follow the hop above them"
        ));
    }
    let hidden = above
        .iter()
        .filter(|h| h.role == HopRole::NoAddress)
        .count();
    if hidden > 0 {
        reasons.push(format!(
            "{hidden} hop(s) above the origin record no address"
        ));
    }
    for note in &hop.forged {
        reasons.push(format!("the origin hop looks forged: {note}"));
    }
    if forged > 0 {
        reasons.push(format!("{forged} hop(s) below the origin look forged"));
    }

    let confidence = if broken > 0 || hidden > 0 || !hop.forged.is_empty() {
        Confidence::Low
    } else if received_by_own {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Origin {
        ip,
        hop: Some(origin),
        host: hop.from_host.clone(),
        rdns: hop.from_rdns.clone(),
        received_by: hop.by_host.clone(),
        confidence,
        agreeing_hops: agreeing,
        broken_hops: broken,
        forged_hops: forged,
        reasons,
    }
}

/// Tells whether `ip` is a public unicast address: not private, loopback, link-local,
/// shared (CGNAT), documentation, benchmark, multicast or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Global unicast is 2000::/3; everything else (loopback, ULA, link-local, multicast,
    // unspecified) is not public.
    if segments[0] & 0xe000 != 0x2000 {
        return false;
    }
    // 2001:db8::/32 is for documentation; 2001::/23 holds IETF protocol assignments (Teredo,
    // benchmarking, ORCHID).
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    let ietf = segments[0] == 0x2001 && segments[1] < 0x0200;
    !documentation && !ietf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_reserved_addresses() {
        for public in [
            "80.96.157.91",
            "2603:10a6:e10:39::20",
            "::ffff:80.96.157.91",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for reserved in [
            "10.1.2.3",
            "127.0.0.1",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "192.0.2.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(reserved.parse().unwrap()), "{reserved}");
        }
    }

    #[test]
    fn similar_names_across_provider_sides() {
        assert!(similar_names(
            "he1eur01ft016.eop-eur01.prod.protection.outlook.com",
            "he1eur01ft016.mail.protection.outlook.com"
        ));
        assert!(similar_names("mail.webnote.net", "webnote.net"));
        assert!(similar_names(
            "am6p194ca0071.eurp194.prod.outlook.com",
            "am6p194ca0071.outlook.office365.com"
        ));
        assert!(!similar_names("200.161.16.132", "rly-xl04.mx.aol.com"));
        assert!(!similar_names("mail.example.com", "mail.example.net"));
    }
}
