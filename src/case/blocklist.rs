//! Blocklists for containment, built from confirmed findings only.
//!
//! One list of indicators (domains, IP addresses, mail addresses, URLs) is rendered in the
//! format each blocking device reads: a DNS response-policy zone, a hosts file, dnsmasq,
//! Unbound, a Squid `dstdomain` ACL, a Postfix access map, a firewall list of addresses, CSV
//! or plain lines. A domain under
//! another listed domain is left out (the parent already blocks it), and so is anything
//! under a legitimate domain of a watchlist: a blocklist never blocks the company itself.
//! These formats are simple line formats, written here rather than through a crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;

use time::OffsetDateTime;

use super::{finding_domains, rfc3339};
use crate::config::Config;
use crate::model::IndicatorKind;
use crate::pipeline::is_legitimate;
use crate::store::StoredFinding;

/// Output formats of `vigie export blocklist`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// DNS response-policy zone (BIND, Unbound, Knot, PowerDNS): NXDOMAIN for each domain and
    /// its subdomains, and for answers holding a listed address.
    Rpz,
    /// `0.0.0.0 domain` lines for a hosts file.
    Hosts,
    /// `address=/domain/` lines: NXDOMAIN for the domain and its subdomains.
    Dnsmasq,
    /// `local-zone: "domain." always_nxdomain` in a `server:` clause, for `include:`.
    Unbound,
    /// Squid `dstdomain` ACL file: `.domain` lines.
    Squid,
    /// Postfix access map (check_sender_access, check_recipient_access, check_client_access):
    /// `domain REJECT`, `address REJECT`, `ip REJECT`.
    Postfix,
    /// IP addresses only, one a line, IPv4 then IPv6, without comments: for ipset or an
    /// nftables set. Loopback, private, link-local, shared and multicast addresses are left out.
    Ips,
    /// `kind,value,finding,severity,imitates,first_seen,cases` with a header line.
    Csv,
    /// One indicator a line.
    Plain,
}

/// The indicators to block, deduplicated, with the findings they come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blocklist {
    pub entries: Vec<Entry>,
    /// Names left out because they are (under) a legitimate domain of a watchlist.
    pub skipped_legitimate: Vec<String>,
}

/// One indicator of a blocklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: IndicatorKind,
    pub value: String,
    pub finding_id: i64,
    pub severity: String,
    pub imitates: String,
    pub first_seen: OffsetDateTime,
    pub cases: Vec<i64>,
}

/// Builds the blocklist from `findings` (which must be the confirmed ones); `cases` gives the
/// cases of each finding id.
pub fn build(
    config: &Config,
    findings: &[StoredFinding],
    cases: &BTreeMap<i64, Vec<i64>>,
) -> Blocklist {
    let mut list = Blocklist::default();
    let mut seen: BTreeSet<(IndicatorKind, String)> = BTreeSet::new();
    for finding in findings {
        let mut values: Vec<(IndicatorKind, String)> = finding_domains(finding)
            .into_iter()
            .map(|domain| (IndicatorKind::Domain, domain))
            .collect();
        for indicator in &finding.indicators {
            let value = match indicator.kind {
                IndicatorKind::Domain => continue,
                IndicatorKind::Account => indicator.value.trim().to_owned(),
                IndicatorKind::Ip => match indicator.value.trim().parse::<IpAddr>() {
                    Ok(ip) => ip.to_string(),
                    Err(_) => continue,
                },
                IndicatorKind::Email => indicator.value.trim().to_ascii_lowercase(),
                IndicatorKind::Url => indicator.value.trim().to_owned(),
            };
            values.push((indicator.kind, value));
        }
        for (kind, value) in values {
            if is_company_owned(config, kind, &value) {
                if !list.skipped_legitimate.contains(&value) {
                    list.skipped_legitimate.push(value);
                }
                continue;
            }
            if !seen.insert((kind, value.clone())) {
                continue;
            }
            list.entries.push(Entry {
                kind,
                value,
                finding_id: finding.id,
                severity: finding.severity.to_string(),
                imitates: finding.imitates.clone(),
                first_seen: finding.first_seen,
                cases: cases.get(&finding.id).cloned().unwrap_or_default(),
            });
        }
    }
    drop_covered_subdomains(&mut list.entries);
    list
}

/// Tells whether a value is, or is under, a legitimate domain of any watchlist.
fn is_company_owned(config: &Config, kind: IndicatorKind, value: &str) -> bool {
    let host = match kind {
        IndicatorKind::Domain => value.to_owned(),
        IndicatorKind::Email => value.rsplit('@').next().unwrap_or_default().to_owned(),
        IndicatorKind::Url => reqwest::Url::parse(value)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default(),
        IndicatorKind::Ip | IndicatorKind::Account => return false,
    };
    !host.is_empty()
        && config
            .watchlists
            .iter()
            .any(|watchlist| is_legitimate(watchlist, &host))
}

/// Removes domains under another listed domain, which already covers them.
fn drop_covered_subdomains(entries: &mut Vec<Entry>) {
    let domains: BTreeSet<String> = entries
        .iter()
        .filter(|entry| entry.kind == IndicatorKind::Domain)
        .map(|entry| entry.value.clone())
        .collect();
    entries.retain(|entry| {
        entry.kind != IndicatorKind::Domain
            || !parents(&entry.value).any(|parent| domains.contains(parent))
    });
}

/// Every proper parent of a name (`a.b.c` gives `b.c`, `c`).
fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.').map(move |(at, _)| &name[at + 1..])
}

/// Renders the list. `zone` is the RPZ zone name (for its comment); `serial` is the SOA
/// serial of an RPZ zone, which must grow with each export.
pub fn render(list: &Blocklist, format: Format, serial: u32, generated: OffsetDateTime) -> String {
    let mut out = String::new();
    let of = |kind: IndicatorKind| list.entries.iter().filter(move |e| e.kind == kind);
    let header = format!(
        "vigie blocklist, {}: {} domains, {} addresses, {} mail addresses, {} URLs, from confirmed findings",
        rfc3339(generated),
        of(IndicatorKind::Domain).count(),
        of(IndicatorKind::Ip).count(),
        of(IndicatorKind::Email).count(),
        of(IndicatorKind::Url).count(),
    );
    match format {
        Format::Rpz => {
            let _ = writeln!(out, "; {header}");
            let _ = writeln!(out, "$TTL 300");
            let _ = writeln!(
                out,
                "@ IN SOA localhost. hostmaster.localhost. {serial} 3600 600 604800 300"
            );
            let _ = writeln!(out, "@ IN NS localhost.");
            for entry in of(IndicatorKind::Domain) {
                let _ = writeln!(out, "{} CNAME .", entry.value);
                let _ = writeln!(out, "*.{} CNAME .", entry.value);
            }
            for entry in of(IndicatorKind::Ip) {
                if let Ok(ip) = entry.value.parse::<IpAddr>() {
                    let _ = writeln!(out, "{}.rpz-ip CNAME .", rpz_ip(ip));
                }
            }
        }
        Format::Hosts => {
            let _ = writeln!(out, "# {header}");
            for entry in of(IndicatorKind::Domain) {
                let _ = writeln!(out, "0.0.0.0 {}", entry.value);
            }
        }
        Format::Dnsmasq => {
            let _ = writeln!(out, "# {header}");
            for entry in of(IndicatorKind::Domain) {
                let _ = writeln!(out, "address=/{}/", entry.value);
            }
        }
        Format::Unbound => {
            let _ = writeln!(out, "# {header}");
            let _ = writeln!(out, "server:");
            for entry in of(IndicatorKind::Domain) {
                let _ = writeln!(out, "    local-zone: \"{}.\" always_nxdomain", entry.value);
            }
        }
        Format::Squid => {
            let _ = writeln!(out, "# {header}");
            for entry in of(IndicatorKind::Domain) {
                let _ = writeln!(out, ".{}", entry.value);
            }
        }
        Format::Postfix => {
            let _ = writeln!(out, "# {header}");
            let blockable =
                |e: &&Entry| !matches!(e.kind, IndicatorKind::Url | IndicatorKind::Account);
            for entry in list.entries.iter().filter(blockable) {
                let _ = writeln!(
                    out,
                    "{} REJECT blocked: imitates {} (vigie finding {})",
                    entry.value, entry.imitates, entry.finding_id
                );
            }
        }
        Format::Ips => {
            let (addresses, _) = firewall_addresses(list);
            for address in addresses {
                let _ = writeln!(out, "{address}");
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let _ = writer.write_record([
                "kind",
                "value",
                "finding",
                "severity",
                "imitates",
                "first_seen",
                "cases",
            ]);
            for entry in &list.entries {
                let cases: Vec<String> = entry.cases.iter().map(i64::to_string).collect();
                let _ = writer.write_record([
                    kind_name(entry.kind),
                    &entry.value,
                    &entry.finding_id.to_string(),
                    &entry.severity,
                    &entry.imitates,
                    &rfc3339(entry.first_seen),
                    &cases.join(" "),
                ]);
            }
            out = String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
        }
        Format::Plain => {
            for entry in list
                .entries
                .iter()
                .filter(|e| e.kind != IndicatorKind::Account)
            {
                let _ = writeln!(out, "{}", entry.value);
            }
        }
    }
    out
}

/// Splits the list's IP addresses into those a firewall list may hold, sorted with IPv4
/// first, and the internal ones left out with the class of each.
///
/// A lookalike can resolve to 127.0.0.1 or 10.0.0.5; a firewall rule against such an address
/// would cut the company's own hosts, and blocks nothing on the Internet.
pub fn firewall_addresses(list: &Blocklist) -> (Vec<IpAddr>, Vec<(IpAddr, &'static str)>) {
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for entry in list.entries.iter().filter(|e| e.kind == IndicatorKind::Ip) {
        let Ok(address) = entry.value.parse::<IpAddr>() else {
            continue;
        };
        match internal_class(address) {
            Some(class) => skipped.push((address, class)),
            None => kept.push(address),
        }
    }
    kept.sort_by_key(|address| (address.is_ipv6(), *address));
    kept.dedup();
    (kept, skipped)
}

/// Names the class of an address that belongs to an internal network, or returns `None`.
/// Documentation and other reserved ranges are kept: blocking them harms no host.
fn internal_class(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (CGNAT)")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("multicast or broadcast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_class(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique local (private)")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast or broadcast")
            } else {
                None
            }
        }
    }
}

/// Name of an indicator kind in exports.
pub fn kind_name(kind: IndicatorKind) -> &'static str {
    match kind {
        IndicatorKind::Domain => "domain",
        IndicatorKind::Ip => "ip",
        IndicatorKind::Url => "url",
        IndicatorKind::Email => "email",
        IndicatorKind::Account => "account",
    }
}

/// The owner name of an RPZ IP trigger, without the `.rpz-ip` suffix: the prefix length,
/// then the address's parts in reverse order (RPZ draft, section 4.1.1).
fn rpz_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("32.{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => {
            let groups: Vec<String> = v6
                .segments()
                .iter()
                .rev()
                .map(|group| format!("{group:x}"))
                .collect();
            format!("128.{}", groups.join("."))
        }
    }
}

/// SOA serial for an export at `now`: seconds since the epoch, which grows between exports.
pub fn serial(now: OffsetDateTime) -> u32 {
    u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpz_ip_reverses_the_address() {
        assert_eq!(rpz_ip("198.51.100.10".parse().unwrap()), "32.10.100.51.198");
        assert_eq!(
            rpz_ip("2001:db8::30".parse().unwrap()),
            "128.30.0.0.0.0.0.db8.2001"
        );
    }

    #[test]
    fn internal_addresses_are_named() {
        for (address, class) in [
            ("127.0.0.1", "loopback"),
            ("10.0.0.5", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("fd00::1", "unique local (private)"),
            ("fe80::1", "link-local"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            assert_eq!(
                internal_class(address.parse().unwrap()),
                Some(class),
                "{address}"
            );
        }
        for address in [
            "198.51.100.10",
            "93.184.216.34",
            "2001:db8::30",
            "2a00:1450::1",
        ] {
            assert_eq!(internal_class(address.parse().unwrap()), None, "{address}");
        }
    }

    #[test]
    fn parents_walk_up() {
        let found: Vec<&str> = parents("a.b.example").collect();
        assert_eq!(found, ["b.example", "example"]);
    }
}
