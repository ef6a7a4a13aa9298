//! What analysis knows beyond the mail itself: the company's own mail servers, the free-mail
//! providers and the size limits.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::Config;

/// Free-mail providers known without configuration. `label.*` stands for the label under
/// every public suffix (`gmx.de`, `gmx.net`, ...).
pub const BUILTIN_FREE_MAIL: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "aol.*",
    "free.fr",
    "gmail.com",
    "gmx.*",
    "googlemail.com",
    "hotmail.*",
    "icloud.com",
    "inbox.lv",
    "laposte.net",
    "libero.it",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "orange.fr",
    "outlook.*",
    "pm.me",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "seznam.cz",
    "t-online.de",
    "tuta.io",
    "tutanota.com",
    "web.de",
    "ya.ru",
    "yahoo.*",
    "yandex.*",
    "ymail.com",
    "zoho.com",
];

/// Limits on what one analysis reads and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest mail analysed, in bytes. Default: 25 MiB.
    pub max_bytes: usize,
    /// Largest header section, in bytes. Default: 1 MiB.
    pub max_header_bytes: usize,
    /// Longest physical line in the header section, in bytes. Default: 64 KiB; RFC 5322 allows
    /// 998 characters, and real mails go over that only by a few kilobytes.
    pub max_header_line: usize,
    /// Largest number of MIME parts. Default: 1000.
    pub max_parts: usize,
    /// Largest number of URLs listed; the rest are counted in a problem. Default: 1000.
    pub max_urls: usize,
    /// Largest number of mail addresses listed. Default: 1000.
    pub max_addresses: usize,
    /// Largest number of `Received` headers read. Default: 100.
    pub max_hops: usize,
    /// Longest URL kept, in bytes; longer ones are cut. Default: 4096.
    pub max_url_len: usize,
    /// Largest amount of text (all parts together) scanned for URLs and addresses, in bytes.
    /// Default: 4 MiB.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25 << 20,
            max_header_bytes: 1 << 20,
            max_header_line: 64 << 10,
            max_parts: 1000,
            max_urls: 1000,
            max_addresses: 1000,
            max_hops: 100,
            max_url_len: 4096,
            max_text_bytes: 4 << 20,
        }
    }
}

/// The company's own mail servers, the free-mail providers and the limits of analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Networks of the company's own mail servers and relays.
    pub own_networks: Vec<IpNet>,
    /// Host names of the company's own mail servers (ASCII, lower case); each covers its
    /// subdomains.
    pub own_hosts: Vec<String>,
    /// Free-mail providers: full domains.
    free_mail_domains: HashSet<String>,
    /// Free-mail providers given as `label.*`: the registrable labels.
    free_mail_labels: HashSet<String>,
    pub limits: Limits,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings::new(Vec::new(), Vec::new(), BUILTIN_FREE_MAIL.iter().copied())
    }
}

impl MailSettings {
    /// Builds settings from own networks, own host names and a free-mail list whose entries
    /// are domains or `label.*`. Names are lower-cased; limits are the defaults.
    pub fn new<'a>(
        own_networks: Vec<IpNet>,
        own_hosts: Vec<String>,
        free_mail: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut free_mail_domains = HashSet::new();
        let mut free_mail_labels = HashSet::new();
        for entry in free_mail {
            let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
            match entry.strip_suffix(".*") {
                Some(label) => free_mail_labels.insert(label.to_string()),
                None => free_mail_domains.insert(entry),
            };
        }
        MailSettings {
            own_networks,
            own_hosts: own_hosts
                .into_iter()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            free_mail_domains,
            free_mail_labels,
            limits: Limits::default(),
        }
    }

    /// Reads the `[mail]` section of the configuration.
    pub fn from_config(cfg: &Config) -> Self {
        let mail = &cfg.mail;
        let mut settings = match &mail.free_mail_domains {
            Some(list) => MailSettings::new(
                mail.own_networks.clone(),
                mail.own_hosts.clone(),
                list.iter().map(String::as_str),
            ),
            None => MailSettings::new(
                mail.own_networks.clone(),
                mail.own_hosts.clone(),
                BUILTIN_FREE_MAIL.iter().copied(),
            ),
        };
        settings.limits.max_bytes = usize::try_from(mail.max_message_bytes).unwrap_or(usize::MAX);
        settings
    }

    /// Tells whether the settings name any own mail server.
    pub fn has_own_mtas(&self) -> bool {
        !self.own_networks.is_empty() || !self.own_hosts.is_empty()
    }

    /// Tells whether `ip` is in one of the own networks.
    pub fn is_own_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.own_networks.iter().any(|net| net.contains(&ip))
    }

    /// Tells whether `host` is one of the own host names or under one.
    pub fn is_own_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.own_hosts
            .iter()
            .any(|own| is_same_or_subdomain(host, own))
    }

    /// Tells whether `domain` (ASCII, lower case) belongs to a free-mail provider.
    pub fn is_free_mail(&self, domain: &str) -> bool {
        if self.free_mail_domains.contains(domain) {
            return true;
        }
        let Ok(parts) = crate::domain::split(domain) else {
            return false;
        };
        let registrable = format!("{}.{}", parts.label, parts.suffix);
        self.free_mail_domains.contains(&registrable)
            || self.free_mail_labels.contains(&parts.label)
    }
}

/// Returns the IPv4 address inside an IPv4-mapped IPv6 address, or `ip` unchanged.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Tells whether `name` equals `parent` or is under it, ignoring ASCII case.
pub(crate) fn is_same_or_subdomain(name: &str, parent: &str) -> bool {
    if name.eq_ignore_ascii_case(parent) {
        return true;
    }
    name.len() > parent.len()
        && name.is_char_boundary(name.len() - parent.len())
        && name[name.len() - parent.len()..].eq_ignore_ascii_case(parent)
        && name.as_bytes()[name.len() - parent.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_mail_by_domain_and_label() {
        let settings = MailSettings::default();
        assert!(settings.is_free_mail("gmail.com"));
        assert!(settings.is_free_mail("gmx.de"));
        assert!(settings.is_free_mail("yandex.ru"));
        assert!(!settings.is_free_mail("example.com"));
        assert!(!settings.is_free_mail("gmail.com.evil.example"));
    }

    #[test]
    fn own_hosts_cover_subdomains() {
        let settings = MailSettings::new(Vec::new(), vec!["Example.COM".into()], []);
        assert!(settings.is_own_host("mx1.example.com"));
        assert!(settings.is_own_host("example.com."));
        assert!(!settings.is_own_host("myexample.com"));
    }

    #[test]
    fn own_networks_match_mapped_ipv4() {
        let settings = MailSettings::new(vec!["192.0.2.0/24".parse().unwrap()], Vec::new(), []);
        assert!(settings.is_own_ip("192.0.2.7".parse().unwrap()));
        assert!(settings.is_own_ip("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!settings.is_own_ip("198.51.100.7".parse().unwrap()));
    }
}
