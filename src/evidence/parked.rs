//! The parked and for-sale classifier: tells from a page's own signs whether a registered
//! lookalike serves a real page, a parking page with ads, a "domain for sale" page, or a
//! placeholder (server default page, "coming soon", nearly empty).
//!
//! Signs are phrases of the visible text and title, the hosts of marketplaces and parking
//! services among the page's scripts, frames, links and redirects, and parking nameservers.
//! Each sign found is returned in words, so the analyst sees why.

use serde::{Deserialize, Serialize};

use super::page::Page;

/// What a host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageState {
    /// A page of its own (possibly a phishing page).
    Live,
    /// A parking page (ads, related searches).
    Parked,
    /// A page offering the domain for sale.
    ForSale,
    /// A server's default page, "coming soon", or next to nothing.
    Placeholder,
    /// An HTTP error status.
    HttpError,
    /// No page could be read (refused, no address, connection failed).
    Unreachable,
}

impl PageState {
    pub fn as_str(self) -> &'static str {
        match self {
            PageState::Live => "live",
            PageState::Parked => "parked",
            PageState::ForSale => "for-sale",
            PageState::Placeholder => "placeholder",
            PageState::HttpError => "http-error",
            PageState::Unreachable => "unreachable",
        }
    }

    /// Whether the host serves content of its own, the state that deserves the closest watch.
    pub fn is_live(self) -> bool {
        matches!(self, PageState::Live)
    }
}

const SALE_PHRASES: &[&str] = &[
    "domain is for sale",
    "domain may be for sale",
    "is for sale",
    "buy this domain",
    "buy now for",
    "make an offer",
    "make offer",
    "purchase this domain",
    "inquire about this domain",
    "available for purchase",
    "get this domain",
    "domain for sale",
];

const PARKED_PHRASES: &[&str] = &[
    "related searches",
    "related links",
    "sponsored listings",
    "this domain is parked",
    "parked free",
    "parked by",
    "domain parking",
    "courtesy of",
    "this web page is parked",
    "the domain owner maintains no relationship with the advertisers",
];

const PLACEHOLDER_PHRASES: &[&str] = &[
    "coming soon",
    "under construction",
    "future home of",
    "welcome to nginx",
    "apache2 debian default page",
    "apache2 ubuntu default page",
    "it works!",
    "iis windows server",
    "default web site page",
    "index of /",
    "site not found",
    "website is almost ready",
];

/// Hosts of domain marketplaces: a redirect or link to one is a for-sale sign.
const MARKETPLACES: &[&str] = &[
    "sedo.com",
    "dan.com",
    "afternic.com",
    "hugedomains.com",
    "buydomains.com",
    "atom.com",
    "squadhelp.com",
    "undeveloped.com",
    "domainmarket.com",
    "brandbucket.com",
    "efty.com",
    "sav.com",
];

/// Hosts of parking services and parking ad scripts.
const PARKING_HOSTS: &[&str] = &[
    "sedoparking.com",
    "parkingcrew.net",
    "bodis.com",
    "above.com",
    "parklogic.com",
    "dsparking.com",
    "domainparking.ru",
    "parking.reg.ru",
    "voodoo.com",
    "adsense/domains/caf.js",
    "afternic.com/forsale",
];

/// Nameserver suffixes of parking services.
const PARKING_NAMESERVERS: &[&str] = &[
    "sedoparking.com",
    "parkingcrew.net",
    "bodis.com",
    "above.com",
    "dan.com",
    "afternic.com",
    "parklogic.com",
    "dns-parking.com",
    "hugedomains.com",
    "ztomy.com",
];

/// The classifier's verdict and its signs in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: PageState,
    pub signs: Vec<String>,
}

/// Classifies a page from its content, the URLs it was reached through, its status, and the
/// domain's nameservers.
pub fn classify(page: &Page, urls: &[String], status: u16, nameservers: &[String]) -> Verdict {
    let mut sale = Vec::new();
    let mut parked = Vec::new();
    let mut placeholder = Vec::new();
    let title = page.title.as_deref().unwrap_or_default().to_lowercase();
    let text = format!("{title} {}", page.text);

    phrase_signs(&text, SALE_PHRASES, "says", &mut sale);
    phrase_signs(&text, PARKED_PHRASES, "says", &mut parked);
    phrase_signs(&text, PLACEHOLDER_PHRASES, "says", &mut placeholder);

    let mut linked: Vec<&str> = urls.iter().map(String::as_str).collect();
    linked.extend(page.references.iter().map(String::as_str));
    linked.extend(page.meta_refresh.as_deref());
    for url in &linked {
        if let Some(host) = MARKETPLACES.iter().find(|host| url_names(url, host)) {
            push_unique(&mut sale, format!("leads to the marketplace {host}"));
        }
        if let Some(host) = PARKING_HOSTS.iter().find(|host| url.contains(*host)) {
            push_unique(&mut parked, format!("loads the parking service {host}"));
        }
    }
    for ns in nameservers {
        let ns = ns.trim_end_matches('.').to_ascii_lowercase();
        if let Some(suffix) = PARKING_NAMESERVERS.iter().find(|s| is_under(&ns, s)) {
            push_unique(&mut parked, format!("nameserver {ns} belongs to {suffix}"));
        }
    }

    let words = page.text.split_whitespace().count();
    let empty = words < 15 && page.forms.is_empty();
    if empty {
        placeholder.push(format!("shows only {words} words and no form"));
    }

    verdict(status, page, sale, parked, placeholder)
}

fn verdict(
    status: u16,
    page: &Page,
    sale: Vec<String>,
    parked: Vec<String>,
    placeholder: Vec<String>,
) -> Verdict {
    // A login or payment form outweighs parking signs: a kit may copy a parking page's
    // wording, but a parking page never asks for a password.
    let has_form = page.login_form || page.payment_form;
    let (state, signs) = if status >= 400 {
        (PageState::HttpError, vec![format!("HTTP status {status}")])
    } else if has_form {
        (PageState::Live, Vec::new())
    } else if !sale.is_empty() {
        (PageState::ForSale, sale)
    } else if !parked.is_empty() {
        (PageState::Parked, parked)
    } else if !placeholder.is_empty() {
        (PageState::Placeholder, placeholder)
    } else {
        (PageState::Live, Vec::new())
    };
    Verdict { state, signs }
}

fn phrase_signs(text: &str, phrases: &[&str], verb: &str, signs: &mut Vec<String>) {
    for phrase in phrases {
        if text.contains(phrase) {
            push_unique(signs, format!("{verb} \"{phrase}\""));
        }
    }
}

fn push_unique(signs: &mut Vec<String>, sign: String) {
    if !signs.contains(&sign) {
        signs.push(sign);
    }
}

/// Tells whether the host of `url` is `host` or under it.
fn url_names(url: &str, host: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| is_under(&h, host))
}

fn is_under(name: &str, suffix: &str) -> bool {
    name == suffix
        || name
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::page::analyse;

    fn judge(html: &str, urls: &[&str], ns: &[&str]) -> Verdict {
        let url = reqwest::Url::parse("http://examp1e.test/").unwrap();
        let page = analyse(html, &url);
        let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        let ns: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
        classify(&page, &urls, 200, &ns)
    }

    #[test]
    fn marketplace_redirect_is_for_sale() {
        let verdict = judge(
            "<body>loading</body>",
            &["https://dan.com/buy-domain/x"],
            &[],
        );
        assert_eq!(verdict.state, PageState::ForSale);
        assert_eq!(verdict.signs, vec!["leads to the marketplace dan.com"]);
    }

    #[test]
    fn parking_nameserver_is_parked() {
        let verdict = judge(
            "<body><p>Welcome to our many good friends and partners of the site, there is lots \
             to read here about many things of interest to you today</p></body>",
            &[],
            &["ns1.sedoparking.com"],
        );
        assert_eq!(verdict.state, PageState::Parked);
    }

    #[test]
    fn login_form_outweighs_parking_words() {
        let verdict = judge(
            "<body>Related searches<form><input type=password></form></body>",
            &[],
            &[],
        );
        assert_eq!(verdict.state, PageState::Live);
    }

    #[test]
    fn nearly_empty_page_is_placeholder() {
        let verdict = judge("<body>hello</body>", &[], &[]);
        assert_eq!(verdict.state, PageState::Placeholder);
        assert!(!is_under("notdan.com", "dan.com"));
    }
}
