//! Mail providers of MX hosts: tells the analyst whom to ask to stop a lookalike's mail.
//!
//! The table maps the host-name suffixes of the large mail providers to their names. A host
//! under none of them is reported with its registrable domain (public suffix list), which is
//! usually the operator's.

use serde::{Deserialize, Serialize};

/// Suffixes of MX host names and the provider they belong to.
const PROVIDERS: &[(&str, &str)] = &[
    ("google.com", "Google Workspace"),
    ("googlemail.com", "Google Workspace"),
    ("protection.outlook.com", "Microsoft 365"),
    ("outlook.com", "Microsoft Outlook.com"),
    ("hotmail.com", "Microsoft Outlook.com"),
    ("pphosted.com", "Proofpoint"),
    ("ppe-hosted.com", "Proofpoint Essentials"),
    ("mimecast.com", "Mimecast"),
    ("barracudanetworks.com", "Barracuda"),
    ("messagelabs.com", "Broadcom Email Security.cloud"),
    ("zoho.com", "Zoho Mail"),
    ("zoho.eu", "Zoho Mail"),
    ("yandex.net", "Yandex Mail"),
    ("yandex.ru", "Yandex Mail"),
    ("mail.ru", "Mail.ru"),
    ("icloud.com", "Apple iCloud Mail"),
    ("yahoodns.net", "Yahoo Mail"),
    ("secureserver.net", "GoDaddy"),
    ("emailsrvr.com", "Rackspace Email"),
    ("messagingengine.com", "Fastmail"),
    ("protonmail.ch", "Proton Mail"),
    ("mailgun.org", "Mailgun"),
    ("sendgrid.net", "Twilio SendGrid"),
    ("amazonaws.com", "Amazon SES / AWS"),
    ("registrar-servers.com", "Namecheap"),
    ("privateemail.com", "Namecheap Private Email"),
    ("ovh.net", "OVHcloud"),
    ("kundenserver.de", "IONOS"),
    ("ionos.com", "IONOS"),
    ("gandi.net", "Gandi"),
    ("hostinger.com", "Hostinger"),
    ("titan.email", "Titan Mail"),
    ("migadu.com", "Migadu"),
    ("tutanota.de", "Tuta"),
    ("qq.com", "Tencent QQ Mail"),
    ("163.com", "NetEase Mail"),
    ("hostgator.com", "HostGator"),
    ("bluehost.com", "Bluehost"),
    ("one.com", "one.com"),
    ("beget.com", "Beget"),
    ("timeweb.ru", "Timeweb"),
];

/// One MX host and its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxProvider {
    pub host: String,
    /// Known provider name, or `None` when the host is under no known suffix.
    pub provider: Option<String>,
    /// Registrable domain of the host (`mail.evil.example` gives `evil.example`).
    pub domain: Option<String>,
}

/// Names the provider of each MX host.
pub fn providers<'a>(hosts: impl IntoIterator<Item = &'a String>) -> Vec<MxProvider> {
    hosts.into_iter().map(|host| provider(host)).collect()
}

/// Names the provider of one MX host.
pub fn provider(host: &str) -> MxProvider {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let known = PROVIDERS
        .iter()
        .find(|(suffix, _)| {
            host == *suffix
                || host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
        .map(|(_, name)| (*name).to_owned());
    let domain = psl::domain_str(&host).map(str::to_owned);
    MxProvider {
        host,
        provider: known,
        domain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_providers() {
        let google = provider("ASPMX.L.GOOGLE.COM.");
        assert_eq!(google.provider.as_deref(), Some("Google Workspace"));
        assert_eq!(google.domain.as_deref(), Some("google.com"));
        let m365 = provider("examp1e-com.mail.protection.outlook.com");
        assert_eq!(m365.provider.as_deref(), Some("Microsoft 365"));
        let own = provider("mail.examp1e.co.uk");
        assert_eq!(own.provider, None);
        assert_eq!(own.domain.as_deref(), Some("examp1e.co.uk"));
        assert_eq!(provider("notgoogle.com").provider, None);
    }
}
