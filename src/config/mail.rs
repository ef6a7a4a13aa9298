//! The `[mail]` section of `vigie.toml`: what mail analysis needs to know about the company's
//! own mail servers, and which providers count as free mail.

use ipnet::IpNet;

use super::MailConfig;
use super::tree::{Reader, Table};

const MAIL_KEYS: &[&str] = &[
    "own_networks",
    "own_hosts",
    "free_mail_domains",
    "max_message_bytes",
];

/// Default largest mail accepted for analysis, in bytes (25 MiB).
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: u64 = 25 << 20;

pub(crate) fn mail(reader: &mut Reader<'_>, table: Option<&Table<'_, '_>>) -> MailConfig {
    let mut config = MailConfig::default();
    let Some(table) = table else {
        return config;
    };
    reader.check_keys(table, MAIL_KEYS);

    for (text, span) in reader.strings(table, "own_networks") {
        match parse_network(&text) {
            Some(network) => config.own_networks.push(network),
            None => reader.error(
                &span,
                format!("invalid network \"{text}\" in mail.own_networks"),
                "write an IP address or a CIDR block: \"192.0.2.25\", \"192.0.2.0/24\" or \"2001:db8::/32\"".to_string(),
            ),
        }
    }
    for (text, span) in reader.strings(table, "own_hosts") {
        match host_name(&text) {
            Some(name) => config.own_hosts.push(name),
            None => reader.error(
                &span,
                format!("invalid host name \"{text}\" in mail.own_hosts"),
                "write a host or domain name such as \"mx1.example.com\" or \"example.com\" (it covers its subdomains)".to_string(),
            ),
        }
    }
    if table.has("free_mail_domains") {
        let mut domains = Vec::new();
        for (text, span) in reader.strings(table, "free_mail_domains") {
            match free_mail_entry(&text) {
                Some(entry) => domains.push(entry),
                None => reader.error(
                    &span,
                    format!("invalid domain \"{text}\" in mail.free_mail_domains"),
                    "write a domain such as \"gmail.com\", or a label with `.*` for every suffix, such as \"gmx.*\"".to_string(),
                ),
            }
        }
        config.free_mail_domains = Some(domains);
    }
    config.max_message_bytes = reader.integer(
        table,
        "max_message_bytes",
        DEFAULT_MAX_MESSAGE_BYTES,
        (1024, 1 << 30),
        "bytes",
    );
    config
}

/// Parses `ip` or `ip/prefix`; a bare address is a network of one address.
fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(network) = text.parse::<IpNet>() {
        return Some(network.trunc());
    }
    text.parse::<std::net::IpAddr>().ok().map(IpNet::from)
}

/// Returns the ASCII lower-case form of a host name, without the root dot.
fn host_name(text: &str) -> Option<String> {
    let ascii = crate::domain::to_ascii(text.trim()).ok()?;
    crate::domain::name::is_valid_ascii_name(&ascii).then_some(ascii)
}

/// Accepts a domain (`gmail.com`) or a registrable label followed by `.*` (`gmx.*`).
fn free_mail_entry(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(label) = text.strip_suffix(".*") {
        let label = host_name(label)?;
        return (!label.contains('.')).then(|| format!("{label}.*"));
    }
    let name = host_name(text)?;
    name.contains('.').then_some(name)
}
