//! What a fetched HTML page shows, read with scraper (html5ever) without running any script:
//! title, forms (login, payment) and where they post, whether the brand is named, the
//! favicon's address, and the features that [`super::similarity`] compares.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use ego_tree::iter::Edge;
use reqwest::Url;
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};

/// Elements whose text is never shown to the visitor.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "head", "svg"];

/// Number of consecutive element tokens in one structure shingle.
const SHINGLE: usize = 3;

/// One form of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    /// Where the form sends its fields, resolved against the page's URL; the page itself when
    /// the form has no action.
    pub action: String,
    pub method: String,
    pub password: bool,
    pub payment: bool,
}

/// What [`analyse`] reads from a page.
#[derive(Debug, Clone)]
pub struct Page {
    pub title: Option<String>,
    pub forms: Vec<Form>,
    /// A password field, in a form or not.
    pub login_form: bool,
    /// A card number, expiry or security-code field.
    pub payment_form: bool,
    /// Address of the favicon the page names, or `/favicon.ico`.
    pub favicon: Option<Url>,
    /// Target of a `<meta http-equiv="refresh">`.
    pub meta_refresh: Option<String>,
    /// Addresses of the page's scripts, frames and links, for the parked classifier.
    pub references: Vec<String>,
    /// Visible text, lower-case, words separated by one space.
    pub text: String,
    pub features: Features,
}

/// The two sides of a page that similarity compares, kept apart.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// Hashed shingles of the element sequence (tag, type and classes of each element).
    pub structure: HashSet<u64>,
    /// Word counts of the visible text.
    pub words: HashMap<String, u32>,
}

/// Reads an HTML page fetched from `url`.
pub fn analyse(html: &str, url: &Url) -> Page {
    let document = Html::parse_document(html);
    let title = select_first(&document, "title")
        .map(|title| squash(&title.text().collect::<String>()))
        .filter(|title| !title.is_empty());
    let forms = forms(&document, url);
    let login_form = forms.iter().any(|f| f.password) || has(&document, "input[type=password i]");
    let payment_form =
        forms.iter().any(|f| f.payment) || document.select(&selector("input")).any(is_payment);
    let text = visible_text(&document);
    // The title is shown in the tab and copied by kits, so its words count with the body's.
    let shown = format!(
        "{} {text}",
        title.as_deref().unwrap_or_default().to_lowercase()
    );
    let features = Features {
        structure: structure(&document),
        words: words(&shown),
    };
    Page {
        title,
        forms,
        login_form,
        payment_form,
        favicon: favicon(&document, url),
        meta_refresh: meta_refresh(&document),
        references: references(&document, url),
        text,
        features,
    }
}

/// Returns which of `terms` (brand names, keywords, domains; compared lower-case) the page's
/// title or visible text holds.
pub fn brand_terms(page: &Page, terms: &[String]) -> Vec<String> {
    let title = page.title.as_deref().unwrap_or_default().to_lowercase();
    let found: BTreeSet<String> = terms
        .iter()
        .map(|term| term.trim().to_lowercase())
        .filter(|term| term.len() >= 3)
        .filter(|term| page.text.contains(term.as_str()) || title.contains(term.as_str()))
        .collect();
    found.into_iter().collect()
}

fn selector(text: &str) -> Selector {
    // Every selector of this module is a literal that parses.
    Selector::parse(text).unwrap_or_else(|_| Selector::parse("*").expect("universal selector"))
}

fn select_first<'a>(document: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    document.select(&selector(css)).next()
}

fn has(document: &Html, css: &str) -> bool {
    select_first(document, css).is_some()
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn forms(document: &Html, url: &Url) -> Vec<Form> {
    let inputs = selector("input");
    document
        .select(&selector("form"))
        .take(50)
        .map(|form| {
            let action = form
                .attr("action")
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .and_then(|a| url.join(a).ok())
                .map_or_else(|| url.to_string(), |a| a.to_string());
            let method = form_method(form.attr("method"));
            let password = form
                .select(&inputs)
                .any(|input| attr_is(input, "type", "password"));
            let payment = form.select(&inputs).any(is_payment);
            Form {
                action,
                method,
                password,
                payment,
            }
        })
        .collect()
}

/// Returns the method a browser submits a form with. HTML matches the keywords `get`, `post`
/// and `dialog` without regard to ASCII case; a missing, empty or unknown value means `get`.
fn form_method(attribute: Option<&str>) -> String {
    let method = attribute.unwrap_or_default().to_ascii_lowercase();
    match method.as_str() {
        "post" | "dialog" => method,
        _ => "get".to_string(),
    }
}

fn attr_is(element: ElementRef<'_>, name: &str, value: &str) -> bool {
    element
        .attr(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// Tells whether an input asks for card data: by its autocomplete token or its name.
fn is_payment(input: ElementRef<'_>) -> bool {
    let autocomplete = input.attr("autocomplete").unwrap_or_default();
    if autocomplete.to_ascii_lowercase().contains("cc-") {
        return true;
    }
    let names = [input.attr("name"), input.attr("id")];
    names.iter().flatten().any(|name| {
        let name = name.to_ascii_lowercase().replace(['-', '_'], "");
        [
            "cardnumber",
            "ccnumber",
            "ccnum",
            "cvv",
            "cvc",
            "cvv2",
            "securitycode",
            "expirydate",
            "expdate",
            "expmonth",
            "cardexpiry",
        ]
        .iter()
        .any(|needle| name.contains(needle))
    })
}

fn favicon(document: &Html, url: &Url) -> Option<Url> {
    let named = document
        .select(&selector("link[rel][href]"))
        .find(|link| {
            link.attr("rel").is_some_and(|rel| {
                rel.split_whitespace()
                    .any(|word| word.eq_ignore_ascii_case("icon"))
            })
        })
        .and_then(|link| link.attr("href"))
        .and_then(|href| url.join(href.trim()).ok())
        .filter(|icon| matches!(icon.scheme(), "http" | "https"));
    named.or_else(|| url.join("/favicon.ico").ok())
}

fn meta_refresh(document: &Html) -> Option<String> {
    let meta = document
        .select(&selector("meta[http-equiv][content]"))
        .find(|meta| attr_is(*meta, "http-equiv", "refresh"))?;
    let content = meta.attr("content")?;
    let (_, target) = content.split_once(['=', ';']).unwrap_or(("", content));
    let target = target
        .trim()
        .trim_start_matches(['u', 'U', 'r', 'R', 'l', 'L', '=']);
    let target = target.trim().trim_matches(['\'', '"']);
    (!target.is_empty()).then(|| target.to_owned())
}

fn references(document: &Html, url: &Url) -> Vec<String> {
    let mut found = BTreeSet::new();
    for (css, attr) in [
        ("script[src]", "src"),
        ("iframe[src]", "src"),
        ("frame[src]", "src"),
        ("a[href]", "href"),
        ("form[action]", "action"),
    ] {
        for element in document.select(&selector(css)).take(500) {
            if let Some(joined) = element.attr(attr).and_then(|v| url.join(v.trim()).ok()) {
                found.insert(joined.to_string());
            }
        }
    }
    found.into_iter().collect()
}

/// Returns the text a visitor sees, lower-case, in one line.
///
/// The walk is iterative: an attacker's page can nest elements deeper than any stack.
fn visible_text(document: &Html) -> String {
    let mut parts = Vec::new();
    let mut hidden_depth = 0usize;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) if hidden_depth > 0 || HIDDEN.contains(&element.name()) => {
                    hidden_depth += 1;
                }
                Node::Text(text) if hidden_depth == 0 => parts.push(text.to_string()),
                _ => {}
            },
            Edge::Close(node) => {
                if node.value().is_element() && hidden_depth > 0 {
                    hidden_depth -= 1;
                }
            }
        }
    }
    squash(&parts.join(" ")).to_lowercase()
}

fn words(text: &str) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.chars().count() >= 2 {
            *counts.entry(word.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// Hashes every run of [`SHINGLE`] consecutive elements of the body in document order.
fn structure(document: &Html) -> HashSet<u64> {
    let root = select_first(document, "body").unwrap_or_else(|| document.root_element());
    let tokens: Vec<String> = root
        .descendent_elements()
        .take(20_000)
        .map(|element| token(element.value()))
        .collect();
    tokens
        .windows(SHINGLE.min(tokens.len()).max(1))
        .map(|window| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            window.hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

/// Tag name, input type and sorted classes: what a copied page keeps and a different site
/// rarely shares.
fn token(element: &scraper::node::Element) -> String {
    let mut classes: Vec<&str> = element.classes().collect();
    classes.sort_unstable();
    let kind = element
        .attr("type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    format!("{}[{kind}].{}", element.name(), classes.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://login.examp1e.test/signin").unwrap()
    }

    #[test]
    fn login_form_and_action() {
        let page = analyse(
            r#"<html><head><title> Sign in </title><link rel="shortcut icon" href="/i/fav.png"></head>
            <body><form action="https://collect.evil.test/p.php" method="POST">
            <input name="user"><input type="Password" name="pw"></form>
            <script>document.write("hidden")</script></body></html>"#,
            &url(),
        );
        assert_eq!(page.title.as_deref(), Some("Sign in"));
        assert!(page.login_form);
        assert!(!page.payment_form);
        assert_eq!(page.forms[0].action, "https://collect.evil.test/p.php");
        assert_eq!(page.forms[0].method, "post");
        assert_eq!(
            page.favicon.unwrap().as_str(),
            "https://login.examp1e.test/i/fav.png"
        );
        assert!(!page.text.contains("hidden"));
    }

    #[test]
    fn empty_or_unknown_method_is_get() {
        let page = analyse(
            r#"<form method=""></form><form method="PUT"></form><form method="Dialog"></form>
            <form></form>"#,
            &url(),
        );
        let methods: Vec<&str> = page.forms.iter().map(|f| f.method.as_str()).collect();
        assert_eq!(methods, ["get", "get", "dialog", "get"]);
    }

    #[test]
    fn payment_fields_and_brand() {
        let page = analyse(
            r#"<body><h1>Example Bank</h1><form><input autocomplete="cc-number">
            <input name="cvv"></form></body>"#,
            &url(),
        );
        assert!(page.payment_form);
        assert!(!page.login_form);
        assert_eq!(
            brand_terms(&page, &["example".to_string(), "acme".to_string()]),
            vec!["example".to_string()]
        );
        assert_eq!(
            page.favicon.unwrap().as_str(),
            "https://login.examp1e.test/favicon.ico"
        );
    }

    #[test]
    fn deeply_nested_page_is_read() {
        let depth = 5_000;
        let html = format!(
            "<body>{}deep text{}</body>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let page = analyse(&html, &url());
        assert!(page.text.contains("deep text"));
        assert!(!page.features.structure.is_empty());
    }

    #[test]
    fn binary_body_is_no_page() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(50_000).collect();
        let page = analyse(&String::from_utf8_lossy(&bytes), &url());
        assert!(!page.login_form);
        assert!(page.forms.is_empty());
    }

    #[test]
    fn meta_refresh_target() {
        let page = analyse(
            r#"<head><meta http-equiv="Refresh" content="0; URL='https://sedo.com/x'"></head>"#,
            &url(),
        );
        assert_eq!(page.meta_refresh.as_deref(), Some("https://sedo.com/x"));
    }
}
