//! Ownership through RDAP (RFC 9082, RFC 9083): who registered a domain and when, and who
//! holds the network of an address.
//!
//! The server to ask comes from IANA's bootstrap files (RFC 9224): `dns.json` maps top-level
//! domains to their registry's RDAP server, `ipv4.json` and `ipv6.json` map address blocks to
//! their regional registry. [`Bootstrap::refresh`] downloads them from `[rdap] bootstrap_url`
//! into the state folder and reads them from there until they are `bootstrap_refresh_secs`
//! old; `[rdap] bootstrap_dir` names a folder of copies the operator keeps instead. Copies of
//! the three files are built into vigie ([`SHIPPED`]). One is used for a file that can be
//! neither read from `bootstrap_dir`, nor downloaded, nor found in the cache, so RDAP works
//! from the first start without network access to IANA. An address that no bootstrap file
//! covers is asked of `[rdap] ip_server`, a registry that redirects to the right one.
//!
//! The answers are fetched through the safe fetcher and read from their JSON by hand rather
//! than with icann-rdap-client, which brings its own HTTP client and so would bypass the
//! address checks. Only the fields the analyst needs are kept.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::net::fetch::{FetchError, Fetcher};

/// Names of IANA's bootstrap files that vigie reads.
pub const BOOTSTRAP_FILES: [&str; 3] = ["dns.json", "ipv4.json", "ipv6.json"];

/// IANA's bootstrap files as shipped in `data/rdap/`, in the order of [`BOOTSTRAP_FILES`].
/// IANA's protocol registries are dedicated to the public domain (CC0 1.0).
pub const SHIPPED: [(&str, &str); 3] = [
    ("dns.json", include_str!("../../data/rdap/dns.json")),
    ("ipv4.json", include_str!("../../data/rdap/ipv4.json")),
    ("ipv6.json", include_str!("../../data/rdap/ipv6.json")),
];

fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
}

/// Error of an RDAP lookup.
#[derive(Debug, thiserror::Error)]
pub enum RdapError {
    #[error("no RDAP server known for {0}; add its TLD to the dns.json of [rdap] bootstrap_dir")]
    NoServer(String),
    #[error("RDAP lookup of {query} at {url}: {source}")]
    Fetch {
        query: String,
        url: String,
        source: Box<FetchError>,
    },
    #[error("RDAP lookup of {query} at {url}: HTTP status {status}")]
    Status {
        query: String,
        url: String,
        status: u16,
    },
    #[error("RDAP lookup of {query} at {url}: the answer is not RDAP JSON ({reason})")]
    Invalid {
        query: String,
        url: String,
        reason: String,
    },
    #[error(
        "RDAP bootstrap file {file}: {reason}; download it again from https://data.iana.org/rdap/"
    )]
    Bootstrap { file: String, reason: String },
}

/// The bootstrap registries: which server answers for which TLD or address block.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// TLD (lower-case) and its servers.
    pub dns: Vec<(String, Vec<String>)>,
    /// Address blocks and their servers.
    pub ip: Vec<(IpNet, Vec<String>)>,
    /// `publication` of the DNS file.
    pub publication: Option<String>,
}

impl Bootstrap {
    /// Parses the bootstrap files built into vigie.
    pub fn shipped() -> Bootstrap {
        let mut bootstrap = Bootstrap::default();
        for (name, text) in SHIPPED {
            // Checked by the unit test `shipped_files_parse`.
            if let Err(error) = bootstrap.add(name, text, &format!("shipped {name}")) {
                tracing::error!(%error, "A shipped RDAP bootstrap file does not parse.");
            }
        }
        bootstrap
    }

    /// Loads the bootstrap files of `dir` (`dns.json`, `ipv4.json`, `ipv6.json`); the
    /// shipped copy replaces a missing one.
    pub fn load(dir: &Path) -> Result<Bootstrap, RdapError> {
        let mut bootstrap = Bootstrap::default();
        for name in BOOTSTRAP_FILES {
            let path = dir.join(name);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(text) = shipped(name) {
                        bootstrap.add(name, text, &format!("shipped {name}"))?;
                    }
                    continue;
                }
                Err(error) => {
                    return Err(RdapError::Bootstrap {
                        file: path.display().to_string(),
                        reason: error.to_string(),
                    });
                }
            };
            bootstrap.add(name, &text, &path.display().to_string())?;
        }
        Ok(bootstrap)
    }

    /// Reads the bootstrap files of `cache` when they are younger than `max_age`, else
    /// downloads them from `base_url` through the fetcher, checks them and writes them to
    /// `cache`. A file that cannot be downloaded, or whose download does not parse, is taken
    /// from the cache whatever its age, else from the shipped copies.
    pub async fn refresh(
        fetcher: &Fetcher,
        base_url: &str,
        cache: &Path,
        max_age: std::time::Duration,
    ) -> Result<Bootstrap, RdapError> {
        let mut bootstrap = Bootstrap::default();
        let cache_error = |file: &Path, error: std::io::Error| RdapError::Bootstrap {
            file: file.display().to_string(),
            reason: error.to_string(),
        };
        std::fs::create_dir_all(cache).map_err(|e| cache_error(cache, e))?;
        for name in BOOTSTRAP_FILES {
            let path = cache.join(name);
            let fresh = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age < max_age);
            let url = format!("{}/{name}", base_url.trim_end_matches('/'));
            let text = if fresh {
                None
            } else {
                match download(fetcher, &url).await {
                    Ok(text) => Some(text),
                    Err(error) => {
                        tracing::warn!(%url, %error, "Cannot download an RDAP bootstrap file, using the cached copy.");
                        None
                    }
                }
            };
            // Checked before it replaces a good copy.
            let text = text.filter(|text| match Bootstrap::default().add(name, text, &url) {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "Keeping the earlier RDAP bootstrap file.");
                    false
                }
            });
            if let Some(text) = &text {
                std::fs::write(&path, text).map_err(|e| cache_error(&path, e))?;
            }
            let cached = || std::fs::read_to_string(&path).ok();
            let read = match text.or_else(cached) {
                Some(text) => bootstrap.add(name, &text, &path.display().to_string()),
                None => Err(RdapError::Bootstrap {
                    file: path.display().to_string(),
                    reason: "neither downloaded nor cached".to_owned(),
                }),
            };
            if let Err(error) = read {
                tracing::warn!(%error, "Using the shipped RDAP bootstrap file.");
                if let Some(text) = shipped(name) {
                    bootstrap.add(name, text, &format!("shipped {name}"))?;
                }
            }
        }
        Ok(bootstrap)
    }

    fn add(&mut self, name: &str, text: &str, file: &str) -> Result<(), RdapError> {
        if name == "dns.json" {
            self.add_dns(text, file)
        } else {
            self.add_ip(text, file)
        }
    }

    fn add_dns(&mut self, text: &str, file: &str) -> Result<(), RdapError> {
        let (publication, services) = parse_services(text, file)?;
        self.publication = publication;
        for (keys, servers) in services {
            for tld in keys {
                self.dns.push((tld.to_ascii_lowercase(), servers.clone()));
            }
        }
        Ok(())
    }

    fn add_ip(&mut self, text: &str, file: &str) -> Result<(), RdapError> {
        let (_, services) = parse_services(text, file)?;
        for (keys, servers) in services {
            for block in keys {
                // IANA writes some IPv4 blocks as a bare first octet ("8" for 8.0.0.0/8).
                let parsed = block
                    .parse::<IpNet>()
                    .or_else(|_| format!("{block}.0.0.0/8").parse::<IpNet>());
                match parsed {
                    Ok(net) => self.ip.push((net, servers.clone())),
                    Err(_) => {
                        return Err(RdapError::Bootstrap {
                            file: file.to_owned(),
                            reason: format!("invalid address block {block:?}"),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The server for a domain: the entry of its longest matching suffix.
    pub fn domain_server(&self, domain: &str) -> Option<&str> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        (0..labels.len()).find_map(|start| {
            let suffix = labels[start..].join(".");
            self.dns
                .iter()
                .find(|(tld, _)| *tld == suffix)
                .and_then(|(_, servers)| preferred(servers))
        })
    }

    /// The server for an address: the entry of its longest matching block.
    pub fn ip_server(&self, ip: IpAddr) -> Option<&str> {
        self.ip
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .and_then(|(_, servers)| preferred(servers))
    }
}

/// Picks the https server of a list, else the first.
fn preferred(servers: &[String]) -> Option<&str> {
    servers
        .iter()
        .find(|s| s.starts_with("https://"))
        .or_else(|| servers.first())
        .map(String::as_str)
}

type Services = Vec<(Vec<String>, Vec<String>)>;

fn parse_services(text: &str, file: &str) -> Result<(Option<String>, Services), RdapError> {
    #[derive(Deserialize)]
    struct File {
        publication: Option<String>,
        services: Vec<Vec<Vec<String>>>,
    }
    let parsed: File = serde_json::from_str(text).map_err(|e| RdapError::Bootstrap {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    let services = parsed
        .services
        .into_iter()
        .filter_map(|mut entry| {
            // An entry is [keys, servers], optionally preceded by contacts in some registries.
            let servers = entry.pop()?;
            let keys = entry.pop()?;
            Some((keys, servers))
        })
        .collect();
    Ok((parsed.publication, services))
}

/// Registration data of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainOwnership {
    pub domain: String,
    /// RDAP server that answered.
    pub server: String,
    pub registrar: Option<String>,
    pub registrar_iana_id: Option<String>,
    /// Registrant name or organisation, when the registry shows it (mostly redacted).
    pub registrant: Option<String>,
    /// RFC 3339 dates as the registry gives them.
    pub created: Option<String>,
    pub expires: Option<String>,
    pub updated: Option<String>,
    pub status: Vec<String>,
    pub nameservers: Vec<String>,
    pub abuse_email: Option<String>,
    pub abuse_phone: Option<String>,
}

/// Registration data of the network holding an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpOwnership {
    pub address: String,
    pub server: String,
    /// Network handle and name (`NET-192-0-2-0-1`, `EXAMPLE-NET`).
    pub handle: Option<String>,
    pub name: Option<String>,
    /// First and last address, or the CIDR blocks when the answer lists them.
    pub range: Option<String>,
    pub cidrs: Vec<String>,
    pub country: Option<String>,
    /// Holder of the network (registrant organisation).
    pub holder: Option<String>,
    /// Origin AS numbers when the registry publishes them (ARIN's `originautnums`).
    pub asns: Vec<u32>,
    pub abuse_email: Option<String>,
    pub abuse_phone: Option<String>,
}

/// Asks RDAP servers through the safe fetcher.
#[derive(Debug, Clone)]
pub struct RdapClient {
    fetcher: Fetcher,
    bootstrap: std::sync::Arc<Bootstrap>,
    ip_fallback: String,
}

impl RdapClient {
    pub fn new(fetcher: Fetcher, bootstrap: Bootstrap, ip_fallback: String) -> RdapClient {
        RdapClient {
            fetcher,
            bootstrap: std::sync::Arc::new(bootstrap),
            ip_fallback,
        }
    }

    /// Looks up the registration of `domain` (its registrable name: ask for `examp1e.com`,
    /// not `www.examp1e.com`).
    pub async fn domain(&self, domain: &str) -> Result<DomainOwnership, RdapError> {
        let server = self
            .bootstrap
            .domain_server(domain)
            .ok_or_else(|| RdapError::NoServer(domain.to_owned()))?;
        let url = join(server, "domain", domain);
        let json = self.get(domain, &url).await?;
        Ok(read_domain(domain, &url, &json))
    }

    /// Looks up the network holding `ip`.
    pub async fn ip(&self, ip: IpAddr) -> Result<IpOwnership, RdapError> {
        let server = self.bootstrap.ip_server(ip).unwrap_or(&self.ip_fallback);
        let url = join(server, "ip", &ip.to_string());
        let json = self.get(&ip.to_string(), &url).await?;
        Ok(read_ip(ip, &url, &json))
    }

    async fn get(&self, query: &str, url: &str) -> Result<Value, RdapError> {
        let fetched = self
            .fetcher
            .get_accepting(url, Some("application/rdap+json, application/json;q=0.9"))
            .await
            .map_err(|source| RdapError::Fetch {
                query: query.to_owned(),
                url: url.to_owned(),
                source: Box::new(source),
            })?;
        if fetched.status != 200 {
            return Err(RdapError::Status {
                query: query.to_owned(),
                url: url.to_owned(),
                status: fetched.status,
            });
        }
        let invalid = |reason: String| RdapError::Invalid {
            query: query.to_owned(),
            url: url.to_owned(),
            reason,
        };
        if fetched.truncated {
            return Err(invalid("longer than fetch.max_body_bytes".to_owned()));
        }
        let json: Value =
            serde_json::from_slice(&fetched.body).map_err(|e| invalid(e.to_string()))?;
        if !json.is_object() {
            return Err(invalid("not a JSON object".to_owned()));
        }
        Ok(json)
    }
}

async fn download(fetcher: &Fetcher, url: &str) -> Result<String, String> {
    let fetched = fetcher.get(url).await.map_err(|e| e.to_string())?;
    if fetched.status != 200 || fetched.truncated {
        return Err(format!(
            "HTTP status {}{}",
            fetched.status,
            if fetched.truncated {
                ", longer than fetch.max_body_bytes"
            } else {
                ""
            }
        ));
    }
    String::from_utf8(fetched.body).map_err(|_| "not UTF-8".to_owned())
}

fn join(server: &str, kind: &str, query: &str) -> String {
    format!("{}/{kind}/{query}", server.trim_end_matches('/'))
}

/// Reads a domain answer.
pub fn read_domain(domain: &str, server: &str, json: &Value) -> DomainOwnership {
    let registrar = find_entity(json, "registrar", 0);
    let registrant = find_entity(json, "registrant", 0);
    let abuse = registrar
        .and_then(|r| find_entity(r, "abuse", 0))
        .or_else(|| find_entity(json, "abuse", 0));
    DomainOwnership {
        domain: domain.to_owned(),
        server: server.to_owned(),
        registrar: registrar.and_then(entity_name),
        registrar_iana_id: registrar.and_then(|r| {
            r.get("publicIds")?.as_array()?.iter().find_map(|id| {
                let kind = id.get("type")?.as_str()?;
                kind.to_ascii_lowercase()
                    .contains("iana")
                    .then(|| id.get("identifier")?.as_str().map(str::to_owned))
                    .flatten()
            })
        }),
        registrant: registrant.and_then(entity_name),
        created: event(json, "registration"),
        expires: event(json, "expiration"),
        updated: event(json, "last changed"),
        status: strings(json.get("status")),
        nameservers: json
            .get("nameservers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|ns| ns.get("ldhName")?.as_str())
                    .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
        abuse_email: abuse.and_then(|a| vcard(a, "email")),
        abuse_phone: abuse.and_then(|a| vcard(a, "tel")),
    }
}

/// Reads an IP network answer.
pub fn read_ip(ip: IpAddr, server: &str, json: &Value) -> IpOwnership {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let range = match (text("startAddress"), text("endAddress")) {
        (Some(start), Some(end)) => Some(format!("{start} - {end}")),
        _ => None,
    };
    let cidrs = json
        .get("cidr0_cidrs")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let prefix = c.get("v4prefix").or_else(|| c.get("v6prefix"))?.as_str()?;
                    let length = c.get("length")?.as_u64()?;
                    Some(format!("{prefix}/{length}"))
                })
                .collect()
        })
        .unwrap_or_default();
    let asns: BTreeSet<u32> = json
        .get("arin_originas0_originautnums")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect()
        })
        .unwrap_or_default();
    let abuse = find_entity(json, "abuse", 0);
    IpOwnership {
        address: ip.to_string(),
        server: server.to_owned(),
        handle: text("handle"),
        name: text("name"),
        range,
        cidrs,
        country: text("country"),
        holder: find_entity(json, "registrant", 0).and_then(entity_name),
        asns: asns.into_iter().collect(),
        abuse_email: abuse.and_then(|a| vcard(a, "email")),
        abuse_phone: abuse.and_then(|a| vcard(a, "tel")),
    }
}

/// Finds the first entity with `role`, searching nested entities breadth-first.
fn find_entity<'a>(json: &'a Value, role: &str, depth: usize) -> Option<&'a Value> {
    let entities = json.get("entities")?.as_array()?;
    let has_role = |entity: &&Value| {
        entity
            .get("roles")
            .and_then(Value::as_array)
            .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
    };
    if let Some(found) = entities.iter().find(has_role) {
        return Some(found);
    }
    if depth >= 4 {
        return None;
    }
    entities
        .iter()
        .find_map(|entity| find_entity(entity, role, depth + 1))
}

/// The entity's name: its vCard `fn`, else `org`, else its handle.
fn entity_name(entity: &Value) -> Option<String> {
    vcard(entity, "fn")
        .filter(|name| !name.trim().is_empty())
        .or_else(|| vcard(entity, "org"))
        .or_else(|| {
            entity
                .get("handle")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// Reads a property of a jCard (`["vcard", [[name, params, type, value], ...]]`).
fn vcard(entity: &Value, property: &str) -> Option<String> {
    let properties = entity.get("vcardArray")?.as_array()?.get(1)?.as_array()?;
    properties.iter().find_map(|item| {
        let item = item.as_array()?;
        if item.first()?.as_str()? != property {
            return None;
        }
        let value = match item.get(3)? {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            _ => return None,
        };
        let value = value
            .trim_start_matches("mailto:")
            .trim_start_matches("tel:");
        (!value.trim().is_empty()).then(|| value.trim().to_owned())
    })
}

fn event(json: &Value, action: &str) -> Option<String> {
    json.get("events")?.as_array()?.iter().find_map(|event| {
        (event.get("eventAction")?.as_str()? == action)
            .then(|| event.get("eventDate")?.as_str().map(str::to_owned))
            .flatten()
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_parse() {
        let mut bootstrap = Bootstrap::default();
        for (name, text) in SHIPPED {
            bootstrap.add(name, text, name).unwrap();
        }
        assert!(bootstrap.publication.is_some());
        assert!(bootstrap.dns.len() > 1000, "{} TLDs", bootstrap.dns.len());
        assert!(
            bootstrap
                .domain_server("paypal.com")
                .is_some_and(|s| s.contains("verisign")),
            "{:?}",
            bootstrap.domain_server("paypal.com")
        );
        let server = |ip: &str| bootstrap.ip_server(ip.parse().unwrap()).map(str::to_owned);
        assert!(server("8.8.8.8").is_some_and(|s| s.contains("arin")));
        assert!(server("193.0.6.139").is_some_and(|s| s.contains("ripe")));
        assert!(server("2001:67c:2e8::1").is_some_and(|s| s.contains("ripe")));
        assert_eq!(
            Bootstrap::shipped().dns.len(),
            bootstrap.dns.len(),
            "Bootstrap::shipped reads the same files"
        );
    }

    #[test]
    fn bootstrap_picks_longest_match_and_https() {
        let mut bootstrap = Bootstrap::default();
        bootstrap
            .add_dns(
                r#"{"publication":"2026-01-01T00:00:00Z","services":[
                [["com","net"],["http://rdap.a.test/","https://rdap.a.test/"]],
                [["co.uk"],["https://rdap.b.test/"]],[["uk"],["https://rdap.c.test/"]]]}"#,
                "dns.json",
            )
            .unwrap();
        bootstrap
            .add_ip(
                r#"{"services":[[["8"],["https://rdap.arin.test/"]],
                [["8.8.0.0/16"],["https://rdap.more.test/"]]]}"#,
                "ipv4.json",
            )
            .unwrap();
        assert_eq!(
            bootstrap.domain_server("www.Examp1e.COM."),
            Some("https://rdap.a.test/")
        );
        assert_eq!(
            bootstrap.domain_server("examp1e.co.uk"),
            Some("https://rdap.b.test/")
        );
        assert_eq!(bootstrap.domain_server("examp1e.zz"), None);
        assert_eq!(
            bootstrap.ip_server("8.8.8.8".parse().unwrap()),
            Some("https://rdap.more.test/")
        );
        assert_eq!(
            bootstrap.ip_server("8.1.1.1".parse().unwrap()),
            Some("https://rdap.arin.test/")
        );
    }

    #[test]
    fn broken_bootstrap_names_the_file() {
        let error = Bootstrap::default()
            .add_dns("{not json", "/etc/vigie/rdap/dns.json")
            .unwrap_err();
        assert!(error.to_string().contains("/etc/vigie/rdap/dns.json"));
    }
}
