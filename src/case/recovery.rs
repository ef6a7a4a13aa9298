//! The site check of the recovery watch: does a taken-down site serve the scam again?
//!
//! [`PageProbe`] reads the page through the safe fetcher ([`crate::net::fetch::Fetcher`])
//! with the `[fetch]` settings, except that each fetch stops after
//! `[response] recovery_timeout_secs` and `[response] recovery_private_addresses` lifts the
//! address check as `fetch.allow_private_addresses` does. A domain is read at
//! `https://NAME/`, then at `http://NAME/` when HTTPS shows no scam; a URL target is read at
//! that URL.
//!
//! A hosting company's "account suspended" page, a parking page or an error page returns a
//! response like any site, so the page is judged with the evidence analysis ([`crate::evidence`]).
//! The site counts as back only when a page answers below HTTP 400 and looks like the scam:
//! a login or payment form, a brand term of the finding's watchlist, or a clone of one of the
//! watchlist's reference pages. A page counts as a cover page, not the scam, when:
//!
//! - it is parked or for sale ([`parked::classify`]);
//! - it uses a hosting company's suspension wording ([`SUSPENSION_PHRASES`]), unless it
//!   also has a form, is a clone of a reference page, or names a brand term and resembles a
//!   reference page;
//! - it comes from a legitimate domain of the watchlist (the name now redirects to the
//!   company).
//!
//! Brand terms are looked for after the site's own host name is removed from the text,
//! because a suspension page names the suspended domain, which is a lookalike of the brand.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use reqwest::Url;

use crate::config::{Config, Watchlist};
use crate::evidence::page::{self, Page};
use crate::evidence::parked::{self, PageState};
use crate::evidence::similarity::{self, CLONE_THRESHOLD, RESEMBLES_THRESHOLD, Similarity};
use crate::evidence::web::{Reference, read_references};
use crate::model::defang;
use crate::net::dns::{Resolution, Resolver};
use crate::net::fetch::{FetchError, Fetched, Fetcher};
use crate::pipeline::is_legitimate;

/// Phrases of hosting companies' and registrars' pages that replace a suspended or expired
/// site, compared with the page's lower-case title and visible text. They name the account
/// or the site, not the visitor's account, so a phishing lure such as "your account is
/// suspended" does not match them.
pub const SUSPENSION_PHRASES: &[&str] = &[
    "this account has been suspended",
    "this account is suspended",
    "account suspended",
    "website suspended",
    "website is suspended",
    "website has been suspended",
    "site has been suspended",
    "site is suspended",
    "domain has been suspended",
    "domain is suspended",
    "contact your hosting provider",
    "site has been disabled",
    "website has been disabled",
    "site has been taken down",
    "has been removed for violating",
    "violation of our terms of service",
    "suspected phishing",
    "reported for phishing",
    "domain has expired",
    "domain name has expired",
    "this domain is pending renewal",
];

/// The result of a site check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteState {
    pub up: bool,
    pub detail: String,
    /// False when the check could not tell (DNS gave no answer): the previous state stays.
    pub known: bool,
}

impl SiteState {
    pub fn new(up: bool, detail: String) -> SiteState {
        SiteState {
            up,
            detail,
            known: true,
        }
    }
}

/// The site of a taken-down item.
#[derive(Debug, Clone, Copy)]
pub struct SiteTarget<'a> {
    /// Host name whose page is checked.
    pub host: &'a str,
    /// The takedown's target: a domain, a URL or a mail address.
    pub target: &'a str,
    /// Watchlist of the finding, for its brand terms, legitimate domains and reference pages.
    pub watchlist: &'a str,
}

/// Checks whether a taken-down site serves the scam again.
pub trait SiteProbe: Send + Sync {
    fn check(&self, site: &SiteTarget<'_>) -> impl Future<Output = SiteState> + Send;
}

/// The page check described in the module documentation.
pub struct PageProbe {
    fetcher: Fetcher,
    watchlists: Vec<Watchlist>,
    references: HashMap<String, Vec<Reference>>,
    /// Port requested instead of the scheme's default; only tests on a local server set it.
    pub port: Option<u16>,
}

impl PageProbe {
    /// Builds the fetcher over `resolver` and reads the reference pages of
    /// `[[evidence.reference]]`. A reference page that cannot be read is logged and left out.
    pub async fn new(resolver: Arc<Resolver>, config: &Config) -> Result<PageProbe, FetchError> {
        let mut fetch = config.fetch.clone();
        fetch.timeout_secs = config.response.recovery_timeout_secs;
        fetch.connect_timeout_secs = fetch.connect_timeout_secs.min(fetch.timeout_secs);
        fetch.allow_private_addresses |= config.response.recovery_private_addresses;
        let fetcher = Fetcher::with_resolver(&fetch, resolver)?;
        let references = read_references(config, &fetcher, "recovery checks").await;
        Ok(PageProbe {
            fetcher,
            watchlists: config.watchlists.clone(),
            references,
            port: None,
        })
    }

    /// Returns the URLs to read for a target, in order.
    fn urls(&self, site: &SiteTarget<'_>) -> Vec<Url> {
        let mut urls = match Url::parse(site.target) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => vec![url],
            _ => ["https", "http"]
                .iter()
                .filter_map(|scheme| Url::parse(&format!("{scheme}://{}/", site.host)).ok())
                .collect(),
        };
        if let Some(port) = self.port {
            for url in &mut urls {
                let _ = url.set_port(Some(port));
            }
        }
        urls
    }
}

impl SiteProbe for PageProbe {
    async fn check(&self, site: &SiteTarget<'_>) -> SiteState {
        let records = match self.fetcher.resolver().resolve(site.host).await {
            Resolution::Registered(records) => records,
            Resolution::NotRegistered => {
                return SiteState::new(false, "the name does not resolve (NXDOMAIN)".to_owned());
            }
            Resolution::Unknown(reason) => {
                return SiteState {
                    up: false,
                    detail: format!("DNS gave no answer: {reason}"),
                    known: false,
                };
            }
        };
        let addresses: Vec<IpAddr> = records
            .a
            .iter()
            .chain(records.aaaa.iter())
            .filter_map(|text| text.parse().ok())
            .collect();
        let Some(first) = addresses.first().copied() else {
            return SiteState::new(false, "no address record".to_owned());
        };
        let policy = self.fetcher.policy();
        if let Err(class) = policy.check(first)
            && addresses.iter().all(|ip| policy.check(*ip).is_err())
        {
            return SiteState::new(
                false,
                format!(
                    "points at the non-public address {first} ({class}), not checked; \
                     [response] recovery_private_addresses or [fetch] allow_networks allows it"
                ),
            );
        }

        let watchlist = self.watchlists.iter().find(|w| w.id == site.watchlist);
        let terms = watchlist.map(brand_terms).unwrap_or_default();
        let nameservers: Vec<String> = records.ns.iter().cloned().collect();
        let clues = Clues {
            host: site.host,
            watchlist,
            terms: &terms,
            references: self
                .references
                .get(site.watchlist)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            nameservers: &nameservers,
        };
        let mut seen = Vec::new();
        for url in self.urls(site) {
            match self.fetcher.get(url.as_str()).await {
                Ok(fetched) => {
                    let judgment = judge(&fetched, &clues);
                    if judgment.back {
                        return SiteState::new(true, judgment.detail);
                    }
                    seen.push(judgment.detail);
                }
                Err(error) => {
                    let text = error
                        .to_string()
                        .replace(url.as_str(), &defang(url.as_str()));
                    seen.push(text);
                }
            }
        }
        SiteState::new(false, seen.join("; "))
    }
}

/// Inputs of the page judgment besides the page.
#[derive(Debug, Clone, Copy)]
pub struct Clues<'a> {
    /// The site's host name, removed from the text before brand terms are looked for.
    pub host: &'a str,
    pub watchlist: Option<&'a Watchlist>,
    pub terms: &'a [String],
    pub references: &'a [Reference],
    /// The domain's nameservers, for the parked classifier.
    pub nameservers: &'a [String],
}

/// Whether a page is the scam again, and what was seen, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgment {
    pub back: bool,
    pub detail: String,
}

/// Kinds of page that replace a taken-down scam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    Parked,
    ForSale,
    Placeholder,
    Suspension,
}

/// Judges one fetched page with the rules of the module documentation.
pub fn judge(fetched: &Fetched, clues: &Clues<'_>) -> Judgment {
    let place = place(fetched);
    let status = fetched.status;
    let down = |detail: String| Judgment {
        back: false,
        detail,
    };
    if status >= 400 {
        return down(format!("{place} answers HTTP {status}"));
    }
    let final_host = fetched.final_url.host_str().unwrap_or_default();
    if clues
        .watchlist
        .is_some_and(|watchlist| is_legitimate(watchlist, final_host))
    {
        return down(format!(
            "{place} answers HTTP {status} from the legitimate domain {final_host}, not the scam"
        ));
    }

    let html = String::from_utf8_lossy(&fetched.body);
    let page = page::analyse(&html, &fetched.final_url);
    let mut urls: Vec<String> = fetched.redirects.iter().map(|h| h.url.clone()).collect();
    urls.push(fetched.final_url.to_string());
    let verdict = parked::classify(&page, &urls, status, clues.nameservers);
    let brands = brand_terms_besides(&page, clues.terms, &[clues.host, final_host]);
    let closest = closest_reference(&page, clues.references);
    let score = closest
        .as_ref()
        .map_or(0.0, |(_, similarity)| similarity.score);
    let has_form = page.login_form || page.payment_form;

    let mut scam_signs = Vec::new();
    if page.login_form {
        scam_signs.push("a login form".to_owned());
    }
    if page.payment_form {
        scam_signs.push("a payment form".to_owned());
    }
    if !brands.is_empty() {
        scam_signs.push(format!("names {}", quoted(&brands)));
    }
    if score >= CLONE_THRESHOLD {
        scam_signs.push("a clone of the reference page".to_owned());
    }
    let similar = closest
        .as_ref()
        .map(|(source, similarity)| {
            format!(
                ", similarity {:.2} to {source} ({})",
                similarity.score,
                similarity.band()
            )
        })
        .unwrap_or_default();

    let suspension = suspension_signs(&page);
    let (cover, cover_signs) = if !suspension.is_empty() {
        (Some(Cover::Suspension), suspension)
    } else {
        match verdict.state {
            PageState::Parked => (Some(Cover::Parked), verdict.signs),
            PageState::ForSale => (Some(Cover::ForSale), verdict.signs),
            PageState::Placeholder => (Some(Cover::Placeholder), verdict.signs),
            _ => (None, Vec::new()),
        }
    };
    let resembles = score >= RESEMBLES_THRESHOLD;
    // A kit that builds its form in a script leaves a page as short as a placeholder, so a
    // placeholder with a sign of the scam counts. A suspension page names the brand when it
    // explains why the site was suspended, so the brand alone is not enough there.
    let back = !scam_signs.is_empty()
        && match cover {
            None | Some(Cover::Placeholder) => true,
            Some(Cover::Parked | Cover::ForSale) => false,
            Some(Cover::Suspension) => {
                has_form || score >= CLONE_THRESHOLD || (!brands.is_empty() && resembles)
            }
        };

    let cover_text = cover.map(|cover| {
        let name = match cover {
            Cover::Parked => "a parked page",
            Cover::ForSale => "a for-sale page",
            Cover::Placeholder => "a placeholder page",
            Cover::Suspension => "a suspension page",
        };
        format!("{name} ({})", cover_signs.join(", "))
    });
    let detail = match (back, cover_text) {
        (true, None) => format!(
            "{place} answers HTTP {status} with a page like the scam: {}{similar}",
            scam_signs.join(", ")
        ),
        (true, Some(cover)) => format!(
            "{place} answers HTTP {status} with a page like the scam: {}{similar}, although it looks like {cover}",
            scam_signs.join(", ")
        ),
        (false, Some(cover)) => {
            format!("{place} answers HTTP {status} with {cover}{similar}, not the scam")
        }
        (false, None) => format!(
            "{place} answers HTTP {status} with a page unlike the scam (no login or payment form, no brand term{similar})"
        ),
    };
    Judgment { back, detail }
}

/// Names where a page was read: its URL, the URL it was redirected to, and the address.
fn place(fetched: &Fetched) -> String {
    let mut text = match fetched.redirects.first() {
        Some(first) => format!(
            "{} (redirected to {})",
            defang(&first.url),
            defang(fetched.final_url.as_str())
        ),
        None => defang(fetched.final_url.as_str()),
    };
    if let Some(address) = fetched.address {
        text.push_str(&format!(" at {}", address.ip()));
    }
    text
}

fn quoted(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{term}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the suspension phrases the page's title or text contains, each as a sign.
pub fn suspension_signs(page: &Page) -> Vec<String> {
    let title = page.title.as_deref().unwrap_or_default().to_lowercase();
    let text = format!("{title} {}", page.text);
    SUSPENSION_PHRASES
        .iter()
        .filter(|phrase| text.contains(*phrase))
        .map(|phrase| format!("says \"{phrase}\""))
        .collect()
}

/// Returns the brand terms the page shows once every host of `hosts` is removed from its
/// title and text.
fn brand_terms_besides(page: &Page, terms: &[String], hosts: &[&str]) -> Vec<String> {
    let mut stripped = page.clone();
    let mut title = stripped.title.take().unwrap_or_default().to_lowercase();
    for host in hosts.iter().filter(|host| !host.is_empty()) {
        let host = host.to_lowercase();
        stripped.text = stripped.text.replace(&host, " ");
        title = title.replace(&host, " ");
    }
    stripped.title = Some(title);
    page::brand_terms(&stripped, terms)
}

fn closest_reference(page: &Page, references: &[Reference]) -> Option<(String, Similarity)> {
    references
        .iter()
        .map(|reference| {
            (
                reference.source.clone(),
                similarity::compare(&page.features, &reference.features),
            )
        })
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
}

/// Returns the brand name, keywords and legitimate domains of a watchlist, the terms the
/// change watch also looks for in pages.
pub fn brand_terms(watchlist: &Watchlist) -> Vec<String> {
    let mut terms = vec![watchlist.brand.clone()];
    terms.extend(watchlist.keywords.iter().cloned());
    terms.extend(watchlist.word_keywords.iter().cloned());
    terms.extend(watchlist.domains.iter().map(|domain| domain.name.clone()));
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(status: u16, url: &str, html: &str) -> Fetched {
        Fetched {
            final_url: Url::parse(url).unwrap(),
            status,
            redirects: Vec::new(),
            address: Some("203.0.113.7:80".parse().unwrap()),
            content_type: Some("text/html".into()),
            headers: Default::default(),
            body: html.as_bytes().to_vec(),
            truncated: false,
            certificate: None,
        }
    }

    fn judge_page(status: u16, html: &str, references: &[Reference]) -> Judgment {
        let terms = vec!["example bank".to_owned(), "example".to_owned()];
        let clues = Clues {
            host: "examp1e-secure.test",
            watchlist: None,
            terms: &terms,
            references,
            nameservers: &[],
        };
        judge(
            &fetched(status, "http://examp1e-secure.test/", html),
            &clues,
        )
    }

    const LOGIN: &str = "<html><title>Example Bank - sign in</title><body><form action=/p>\
        <input name=user><input type=password name=pass></form></body></html>";

    #[test]
    fn login_clone_is_back() {
        let judgment = judge_page(200, LOGIN, &[]);
        assert!(judgment.back, "{judgment:?}");
        assert!(judgment.detail.contains("a login form"), "{judgment:?}");
        assert!(judgment.detail.contains("\"example\""), "{judgment:?}");
        assert!(
            judgment.detail.contains("examp1e-secure[.]test"),
            "{judgment:?}"
        );
    }

    #[test]
    fn suspension_naming_the_lookalike_is_down() {
        let html = "<html><title>Account Suspended</title><body><h1>examp1e-secure.test</h1>\
            <p>This account has been suspended. Contact your hosting provider for more \
            information.</p></body></html>";
        let judgment = judge_page(200, html, &[]);
        assert!(!judgment.back, "{judgment:?}");
        assert!(
            judgment.detail.contains("a suspension page"),
            "{judgment:?}"
        );
    }

    #[test]
    fn suspension_with_brand_only_is_down() {
        let html = "<body><p>This website has been suspended after reports that it imitated \
            Example Bank to steal the passwords of the bank's customers.</p></body>";
        let judgment = judge_page(200, html, &[]);
        assert!(!judgment.back, "{judgment:?}");
    }

    #[test]
    fn error_status_is_down() {
        let judgment = judge_page(503, LOGIN, &[]);
        assert!(!judgment.back);
        assert!(
            judgment.detail.ends_with("answers HTTP 503"),
            "{judgment:?}"
        );
    }

    #[test]
    fn parked_page_naming_brand_is_down() {
        let html = "<body><h2>Related searches</h2><ul><li><a href=/q>example bank login</a>\
            </li><li><a href=/r>online banking</a></li></ul><p>This domain is parked free of \
            charge, courtesy of the registrar.</p></body>";
        let judgment = judge_page(200, html, &[]);
        assert!(!judgment.back, "{judgment:?}");
        assert!(judgment.detail.contains("a parked page"), "{judgment:?}");
    }

    #[test]
    fn unrelated_page_is_down() {
        let html = "<body><h1>Garden furniture</h1><p>Chairs, tables and benches made of \
            oak, delivered anywhere in the country within a week of your order.</p></body>";
        let judgment = judge_page(200, html, &[]);
        assert!(!judgment.back, "{judgment:?}");
        assert!(judgment.detail.contains("unlike the scam"), "{judgment:?}");
    }

    #[test]
    fn clone_of_reference_is_back() {
        let real = "<body><div class=hero><h1>Welcome</h1><p>Manage your accounts and cards \
            online at any time of the day</p><a class=btn href=/start>Start</a></div></body>";
        let references = [Reference::from_html("https://real.test/", real)];
        let judgment = judge_page(200, real, &references);
        assert!(judgment.back, "{judgment:?}");
        assert!(judgment.detail.contains("(clone)"), "{judgment:?}");
    }
}
