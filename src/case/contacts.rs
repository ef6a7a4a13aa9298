//! Choosing whom to ask for a takedown, and how fast each contact answers.
//!
//! A contact of the directory matches a finding when one of the finding's names is, or is
//! under, one of the names the contact `covers`: the lookalike itself and its URLs' hosts
//! (site owner, registry by TLD), its name servers (hosting, registrar), its MX hosts and
//! the domains of its mail addresses (mail provider), its accounts' networks. Abuse addresses
//! that RDAP gave for the finding (any `abuse` entry in its evidence) fill the gaps when the
//! directory has no one for a role.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::{CaseError, finding_domains};
use crate::config::{Contact, ContactChannel, ContactRole, LANGUAGES, ResponseConfig};
use crate::model::IndicatorKind;
use crate::store::{Store, StoredFinding};

/// Roles tried, in this order, when a takedown names no role.
pub const TAKEDOWN_ROLES: [ContactRole; 6] = [
    ContactRole::Hosting,
    ContactRole::SiteOwner,
    ContactRole::Registrar,
    ContactRole::MailProvider,
    ContactRole::SocialNetwork,
    ContactRole::Registry,
];

/// A contact that can act on a finding, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub contact: Contact,
    /// The finding's name that matched what the contact covers, or where RDAP gave it.
    pub reason: String,
    /// True for an abuse address found in the finding's evidence rather than the directory.
    pub from_rdap: bool,
}

impl Candidate {
    /// The store's id of the contact: its directory id, or `rdap:ADDRESS`.
    pub fn store_id(&self) -> String {
        self.contact.id.clone()
    }
}

/// The names of a finding a contact may cover, each with what it is.
fn finding_names(finding: &StoredFinding) -> Vec<(String, &'static str)> {
    let mut names: Vec<(String, &'static str)> = Vec::new();
    let mut push = |name: &str, what: &'static str| {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !name.is_empty() && !names.iter().any(|(known, _)| *known == name) {
            names.push((name, what));
        }
    };
    for domain in finding_domains(finding) {
        push(&domain, "domain");
    }
    for indicator in &finding.indicators {
        match indicator.kind {
            IndicatorKind::Url => {
                if let Some(host) = reqwest::Url::parse(&indicator.value)
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_owned))
                {
                    push(&host, "URL host");
                }
            }
            IndicatorKind::Email => {
                if let Some((_, domain)) = indicator.value.rsplit_once('@') {
                    push(domain, "mail address domain");
                }
            }
            IndicatorKind::Account => {
                if let Some(host) = reqwest::Url::parse(&indicator.value)
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_owned))
                {
                    push(&host, "account network");
                }
            }
            _ => {}
        }
    }
    for (fact, what) in [("ns", "name server"), ("mx", "mail server")] {
        for host in finding.facts.get(fact).into_iter().flatten() {
            push(host, what);
        }
    }
    if let Some((_, tld)) = finding.subject.trim_end_matches('.').rsplit_once('.') {
        push(tld, "top-level domain");
    }
    names
}

fn is_same_or_under(name: &str, parent: &str) -> bool {
    name == parent
        || (name.len() > parent.len()
            && name.ends_with(parent)
            && name.as_bytes()[name.len() - parent.len() - 1] == b'.')
}

/// Every contact that can act on `finding`: directory matches, then RDAP abuse addresses.
pub fn candidates(contacts: &[Contact], finding: &StoredFinding) -> Vec<Candidate> {
    let names = finding_names(finding);
    let mut found = Vec::new();
    for contact in contacts {
        if matches!(contact.role, ContactRole::Cert | ContactRole::Decision) {
            continue;
        }
        let matched = names.iter().find_map(|(name, what)| {
            contact
                .covers
                .iter()
                .find(|covered| is_same_or_under(name, covered))
                .map(|covered| format!("{what} {name} is covered by {covered}"))
        });
        if let Some(reason) = matched {
            found.push(Candidate {
                contact: contact.clone(),
                reason,
                from_rdap: false,
            });
        }
    }
    for (role, address) in rdap_addresses(&finding.evidence) {
        if found.iter().any(|c| c.contact.role == role) {
            continue;
        }
        found.push(Candidate {
            contact: Contact {
                id: format!("rdap:{address}"),
                name: format!("{} abuse contact from RDAP", role.as_str()),
                role,
                email: Some(address.clone()),
                web_form: None,
                phone: None,
                languages: Vec::new(),
                preferred: ContactChannel::Email,
                country: None,
                covers: Vec::new(),
                note: String::new(),
            },
            reason: format!("RDAP abuse contact {address} in the finding's evidence"),
            from_rdap: true,
        });
    }
    found
}

/// Picks the contact for a takedown: the one named by `id`, else the first candidate with
/// `role`, else the first candidate in [`TAKEDOWN_ROLES`] order.
pub fn choose(
    contacts: &[Contact],
    finding: &StoredFinding,
    id: Option<&str>,
    role: Option<ContactRole>,
) -> Result<Candidate, CaseError> {
    if let Some(id) = id {
        let contact = contacts.iter().find(|c| c.id == id).ok_or_else(|| {
            CaseError::Invalid(format!(
                "no contact {id:?} in the contacts directory; list them with `vigie takedown contacts`"
            ))
        })?;
        return Ok(Candidate {
            contact: contact.clone(),
            reason: "chosen by id".to_owned(),
            from_rdap: false,
        });
    }
    let found = candidates(contacts, finding);
    let roles: Vec<ContactRole> = match role {
        Some(role) => vec![role],
        None => TAKEDOWN_ROLES.to_vec(),
    };
    roles
        .iter()
        .find_map(|role| found.iter().find(|c| c.contact.role == *role))
        .cloned()
        .ok_or_else(|| {
            let wanted = role.map_or("any takedown role".to_owned(), |r| r.as_str().to_owned());
            CaseError::Invalid(format!(
                "no contact for {wanted} covers {}; add one to the contacts directory with `covers` listing its name servers, mail servers or domains, or pass --contact ID",
                finding.subject
            ))
        })
}

/// The language to write to a contact in: its first language that has templates, else the
/// configured default.
pub fn language(contact: &Contact, config: &ResponseConfig) -> String {
    contact
        .languages
        .iter()
        .find(|language| LANGUAGES.contains(&language.as_str()))
        .cloned()
        .unwrap_or_else(|| config.language.clone())
}

/// The CERT of a country, if the directory has one.
pub fn cert_for<'a>(contacts: &'a [Contact], country: &str) -> Option<&'a Contact> {
    contacts
        .iter()
        .find(|c| c.role == ContactRole::Cert && c.country.as_deref() == Some(country))
}

/// Abuse addresses found under any `abuse` key of the evidence, with the role they belong
/// to (registrar unless the path names hosting or a network).
fn rdap_addresses(evidence: &serde_json::Value) -> Vec<(ContactRole, String)> {
    let mut found = Vec::new();
    walk(evidence, &mut String::new(), false, &mut found);
    found.sort();
    found.dedup();
    found
}

fn walk(
    value: &serde_json::Value,
    path: &mut String,
    under_abuse: bool,
    found: &mut Vec<(ContactRole, String)>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let before = path.len();
                path.push('/');
                path.push_str(&key.to_ascii_lowercase());
                let abuse = under_abuse || key.to_ascii_lowercase().contains("abuse");
                walk(inner, path, abuse, found);
                path.truncate(before);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                walk(item, path, under_abuse, found);
            }
        }
        serde_json::Value::String(text) if under_abuse => {
            let address = text
                .trim()
                .trim_start_matches("mailto:")
                .to_ascii_lowercase();
            if crate::config::is_mail_address(&address) {
                let role = if ["host", "network", "ip", "autnum"]
                    .iter()
                    .any(|word| path.contains(word))
                {
                    ContactRole::Hosting
                } else {
                    ContactRole::Registrar
                };
                found.push((role, address));
            }
        }
        _ => {}
    }
}

/// How one contact answered past takedowns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerStats {
    pub contact: String,
    pub notices: usize,
    pub answered: usize,
    /// Median time to answer, in hours, over the answered notices.
    pub median_hours: Option<f64>,
    pub slowest_hours: Option<f64>,
    /// Notices still without answer.
    pub waiting: usize,
}

/// Measures, for each contact that was sent a notice, how often and how fast it answered.
pub fn answer_stats(store: &Store) -> Result<Vec<AnswerStats>, CaseError> {
    let mut by_contact: BTreeMap<String, Vec<(OffsetDateTime, Option<OffsetDateTime>)>> =
        BTreeMap::new();
    for (contact, sent, answered) in store.contact_answers()? {
        by_contact
            .entry(contact)
            .or_default()
            .push((sent, answered));
    }
    Ok(by_contact
        .into_iter()
        .map(|(contact, notices)| {
            let mut hours: Vec<f64> = notices
                .iter()
                .filter_map(|(sent, answered)| {
                    answered.map(|at| (at - *sent).as_seconds_f64() / 3600.0)
                })
                .collect();
            hours.sort_by(f64::total_cmp);
            AnswerStats {
                notices: notices.len(),
                answered: hours.len(),
                median_hours: median(&hours),
                slowest_hours: hours.last().copied(),
                waiting: notices.len() - hours.len(),
                contact,
            }
        })
        .collect())
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdap_abuse_addresses_take_their_role_from_the_path() {
        let evidence = serde_json::json!({
            "rdap": {
                "registrar": { "abuse": { "email": "abuse@registrar.test" } },
                "ip_network": { "abuse_contacts": ["mailto:Abuse@Host.test", "not an address"] }
            },
            "unrelated": "someone@else.test"
        });
        assert_eq!(
            rdap_addresses(&evidence),
            [
                (ContactRole::Hosting, "abuse@host.test".to_owned()),
                (ContactRole::Registrar, "abuse@registrar.test".to_owned()),
            ]
        );
    }

    #[test]
    fn median_of_even_and_odd_lists() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 3.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
