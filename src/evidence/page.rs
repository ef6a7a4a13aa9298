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

/// Maximum element nesting that [`bound_depth`] lets through to the HTML parser.
///
/// html5ever's tree builder walks its stack of open elements for most tags, so one parse
/// costs about tags times depth: a 2 MiB page of nested `<div>` holds hundreds of thousands
/// of levels. Pages written by people stay far below this depth.
pub const MAX_DEPTH: usize = 512;

/// Elements whose start tag closes an open `<p>` in the HTML parsing algorithm.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "search",
    "section",
    "summary",
    "table",
    "ul",
    "xmp",
];

/// Groups of elements whose start tag closes an open element of the same group.
const CLOSE_EACH_OTHER: &[&[&str]] = &[
    &["li"],
    &["dd", "dt"],
    &["option"],
    &["td", "th"],
    &["tr"],
    &["rb", "rp", "rt", "rtc"],
    &["tbody", "tfoot", "thead"],
];

/// Elements that never have content.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose content is text up to their end tag (outside SVG and MathML).
const RAW_TEXT: &[&str] = &[
    "iframe", "noembed", "noframes", "script", "style", "textarea", "title", "xmp",
];

/// Formatting elements: the parser reopens them after an ancestor closed them.
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Elements that end the search for an open element named by an end tag, and that put a
/// marker in the list of active formatting elements when they are among the first five.
const SCOPE: &[&str] = &[
    "applet",
    "caption",
    "html",
    "marquee",
    "object",
    "table",
    "td",
    "template",
    "th",
    "svg",
    "math",
    "foreignobject",
    "desc",
    "mi",
    "mo",
    "mn",
    "ms",
    "mtext",
    "annotation-xml",
];

/// Elements that put a marker in the list of active formatting elements.
const MARKERS: &[&str] = &[
    "applet", "caption", "marquee", "object", "td", "template", "th",
];

/// Returns the part of `html` before the first tag that would nest elements deeper than
/// `max_depth`, or all of `html`.
///
/// The depth is estimated by one pass over the tags, with the parts of the HTML parsing
/// algorithm that change depth the most: implied end tags (`<p>`, `<li>`, `<td>`), void
/// elements, raw text (`<script>`, `<style>`), end tags that match no element in scope, and
/// formatting elements that the parser reopens after an ancestor closed them. Where the rules
/// are simplified the estimate errs high, so the parser's real depth stays at or under it.
// NOTE: the adoption agency algorithm is modelled only by counting a misnested formatting
// element as still open; tests check the real depth on the known hostile shapes.
pub fn bound_depth(html: &str, max_depth: usize) -> &str {
    let mut scanner = DepthScanner::default();
    let bytes = html.as_bytes();
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
        let start = at + offset;
        let Some(tag) = read_tag(html, start) else {
            return html;
        };
        at = tag.end;
        match tag.kind {
            TagKind::Skip => {}
            TagKind::End(name) => scanner.close(name),
            TagKind::Start {
                name,
                attributes,
                self_closing,
            } => {
                scanner.open(name, attributes, self_closing);
                if scanner.depth() > max_depth {
                    return &html[..start];
                }
                if scanner.foreign == 0 && name.eq_ignore_ascii_case("plaintext") {
                    return html;
                }
                // The raw text's end tag is read as the next tag and closes the element.
                if scanner.foreign == 0 && RAW_TEXT.iter().any(|raw| name.eq_ignore_ascii_case(raw))
                {
                    match find_end_tag(html, at, name) {
                        Some(end_tag) => at = end_tag,
                        None => return html,
                    }
                }
            }
        }
    }
    html
}

/// One open element of [`DepthScanner`]: its name and, for a formatting element, its id in
/// the list of active formatting elements.
struct OpenElement<'a> {
    name: &'a str,
    formatting: Option<u32>,
}

/// An entry of the list of active formatting elements.
enum Active<'a> {
    Marker,
    Element {
        id: u32,
        name: &'a str,
        /// Source text of the start tag's attributes: equal text means equal attributes.
        attributes: &'a str,
        open: bool,
    },
}

/// The stack of open elements and the list of active formatting elements, as far as
/// [`bound_depth`] models them.
#[derive(Default)]
struct DepthScanner<'a> {
    open: Vec<OpenElement<'a>>,
    active: Vec<Active<'a>>,
    /// Active formatting elements that are not open: the parser reopens them.
    closed_formatting: usize,
    /// Open `svg` and `math` elements.
    foreign: usize,
    next_id: u32,
}

impl<'a> DepthScanner<'a> {
    fn depth(&self) -> usize {
        self.open.len() + self.closed_formatting
    }

    /// Applies a start tag.
    fn open(&mut self, name: &'a str, attributes: &'a str, self_closing: bool) {
        // The parser merges a second `<html>` or `<body>` into the first one.
        if ["html", "head", "body"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            return;
        }
        if VOID.iter().any(|n| name.eq_ignore_ascii_case(n)) || (self.foreign > 0 && self_closing) {
            return;
        }
        if let Some(top) = self.open.last() {
            let closes_top = CLOSE_EACH_OTHER.iter().any(|group| {
                group.iter().any(|n| name.eq_ignore_ascii_case(n))
                    && group.iter().any(|n| top.name.eq_ignore_ascii_case(n))
            }) || (top.name.eq_ignore_ascii_case("p")
                && CLOSES_P.iter().any(|n| name.eq_ignore_ascii_case(n)));
            if closes_top {
                self.pop();
            }
        }

        self.open_implied_table_parts(name);

        let mut formatting = None;
        if FORMATTING.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            self.limit_identical(name, attributes);
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.active.push(Active::Element {
                id,
                name,
                attributes,
                open: true,
            });
            formatting = Some(id);
        } else if MARKERS.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            self.active.push(Active::Marker);
        }
        if name.eq_ignore_ascii_case("svg") || name.eq_ignore_ascii_case("math") {
            self.foreign += 1;
        }
        self.open.push(OpenElement { name, formatting });
    }

    /// Pushes the `<tbody>`, `<tr>` and `<colgroup>` the parser adds when a table row, cell
    /// or column comes without them.
    fn open_implied_table_parts(&mut self, name: &'a str) {
        let top_is = |scanner: &Self, names: &[&str]| {
            scanner
                .open
                .last()
                .is_some_and(|top| names.iter().any(|n| top.name.eq_ignore_ascii_case(n)))
        };
        let is = |names: &[&str]| names.iter().any(|n| name.eq_ignore_ascii_case(n));
        if is(&["col"]) && top_is(self, &["table"]) {
            self.open.push(OpenElement {
                name: "colgroup",
                formatting: None,
            });
        }
        if is(&["tr", "td", "th"]) && top_is(self, &["table"]) {
            self.open.push(OpenElement {
                name: "tbody",
                formatting: None,
            });
        }
        if is(&["td", "th"]) && top_is(self, &["tbody", "thead", "tfoot"]) {
            self.open.push(OpenElement {
                name: "tr",
                formatting: None,
            });
        }
    }

    /// Keeps at most three identical formatting elements after the last marker, as the
    /// parser's "Noah's Ark" clause does, before a fourth is added.
    fn limit_identical(&mut self, name: &str, attributes: &str) {
        let mut identical = Vec::new();
        for (index, entry) in self.active.iter().enumerate().rev() {
            match entry {
                Active::Marker => break,
                Active::Element {
                    name: other,
                    attributes: other_attributes,
                    ..
                } if other.eq_ignore_ascii_case(name) && *other_attributes == attributes => {
                    identical.push(index);
                }
                Active::Element { .. } => {}
            }
        }
        if identical.len() >= 3 {
            let earliest = identical[identical.len() - 1];
            self.forget_active(earliest);
        }
    }

    /// Removes an entry from the list of active formatting elements. An element still open
    /// stays on the stack as a plain element.
    fn forget_active(&mut self, index: usize) {
        if let Active::Element { id, open, .. } = self.active.remove(index) {
            if open {
                if let Some(element) = self
                    .open
                    .iter_mut()
                    .rev()
                    .find(|e| e.formatting == Some(id))
                {
                    element.formatting = None;
                }
            } else {
                self.closed_formatting -= 1;
            }
        }
    }

    /// Applies an end tag.
    fn close(&mut self, name: &str) {
        // `</br>` is read as `<br>`, a void element; the others close nothing early.
        if ["html", "head", "body", "br"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            return;
        }
        if FORMATTING.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            self.close_formatting(name);
            return;
        }
        let table_part = [
            "table", "tbody", "tfoot", "thead", "tr", "td", "th", "caption",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
        let mut found = None;
        for (index, element) in self.open.iter().enumerate().rev() {
            if element.name.eq_ignore_ascii_case(name) {
                found = Some(index);
                break;
            }
            let boundary = if table_part {
                ["html", "table", "template"]
                    .iter()
                    .any(|n| element.name.eq_ignore_ascii_case(n))
            } else {
                SCOPE.iter().any(|n| element.name.eq_ignore_ascii_case(n))
            };
            if boundary {
                break;
            }
        }
        if let Some(index) = found {
            while self.open.len() > index {
                self.pop();
            }
        }
    }

    /// Applies the end tag of a formatting element: the latest active element of that name
    /// after the last marker leaves the list, and leaves the stack when it is the current
    /// node. A misnested one stays open, which can only overestimate the depth.
    fn close_formatting(&mut self, name: &str) {
        let mut found = None;
        for (index, entry) in self.active.iter().enumerate().rev() {
            match entry {
                Active::Marker => break,
                Active::Element { name: other, .. } if other.eq_ignore_ascii_case(name) => {
                    found = Some(index);
                    break;
                }
                Active::Element { .. } => {}
            }
        }
        let Some(index) = found else {
            return;
        };
        let is_current = match self.active[index] {
            Active::Element { id, open: true, .. } => self
                .open
                .last()
                .is_some_and(|top| top.formatting == Some(id)),
            _ => false,
        };
        self.forget_active(index);
        if is_current {
            self.pop();
        }
    }

    /// Pops the current node. A formatting element stays active (to be reopened); closing a
    /// marker element clears the active formatting elements back to its marker.
    fn pop(&mut self) {
        let Some(element) = self.open.pop() else {
            return;
        };
        if element.name.eq_ignore_ascii_case("svg") || element.name.eq_ignore_ascii_case("math") {
            self.foreign = self.foreign.saturating_sub(1);
        }
        if let Some(id) = element.formatting
            && let Some(Active::Element { open, .. }) =
                self.active.iter_mut().rev().find(
                    |entry| matches!(entry, Active::Element { id: other, .. } if *other == id),
                )
        {
            *open = false;
            self.closed_formatting += 1;
        }
        if MARKERS.iter().any(|n| element.name.eq_ignore_ascii_case(n)) {
            while let Some(entry) = self.active.pop() {
                match entry {
                    Active::Marker => break,
                    Active::Element { open: false, .. } => self.closed_formatting -= 1,
                    Active::Element { .. } => {}
                }
            }
        }
    }
}

/// Kind of markup at a `<`.
enum TagKind<'a> {
    Start {
        name: &'a str,
        attributes: &'a str,
        self_closing: bool,
    },
    End(&'a str),
    /// A comment, doctype, processing instruction or a `<` that starts no tag.
    Skip,
}

struct Tag<'a> {
    kind: TagKind<'a>,
    /// Offset just past the markup.
    end: usize,
}

/// Reads the markup at `start` (a `<`) as the HTML tokenizer would; `None` when the document
/// ends inside it, where the tokenizer drops it.
fn read_tag(html: &str, start: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let rest = &bytes[start..];
    if rest.starts_with(b"<!--") {
        let close = memchr::memmem::find(&rest[4..], b"-->")?;
        return Some(Tag {
            kind: TagKind::Skip,
            end: start + 4 + close + 3,
        });
    }
    match rest.get(1) {
        Some(b'!' | b'?') => {
            let close = memchr::memchr(b'>', rest)?;
            Some(Tag {
                kind: TagKind::Skip,
                end: start + close + 1,
            })
        }
        Some(b'/') => match rest.get(2) {
            Some(letter) if letter.is_ascii_alphabetic() => {
                let name_end = name_end(bytes, start + 2);
                let (end, _) = skip_attributes(bytes, name_end)?;
                Some(Tag {
                    kind: TagKind::End(&html[start + 2..name_end]),
                    end,
                })
            }
            Some(b'>') => Some(Tag {
                kind: TagKind::Skip,
                end: start + 3,
            }),
            Some(_) => {
                let close = memchr::memchr(b'>', rest)?;
                Some(Tag {
                    kind: TagKind::Skip,
                    end: start + close + 1,
                })
            }
            None => None,
        },
        Some(letter) if letter.is_ascii_alphabetic() => {
            let name_end = name_end(bytes, start + 1);
            let (end, self_closing) = skip_attributes(bytes, name_end)?;
            Some(Tag {
                kind: TagKind::Start {
                    name: &html[start + 1..name_end],
                    attributes: &html[name_end..end],
                    self_closing,
                },
                end,
            })
        }
        _ => Some(Tag {
            kind: TagKind::Skip,
            end: start + 1,
        }),
    }
}

fn name_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
        .map_or(bytes.len(), |offset| from + offset)
}

/// Skips a tag's attributes as the tokenizer's attribute states do, so that a quote inside
/// an attribute name cannot hide the tags after it. Returns the offset past the `>` and
/// whether the tag ended with `/>`; `None` when the document ends first.
fn skip_attributes(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        BeforeName,
        Name,
        AfterName,
        BeforeValue,
        Quoted(u8),
        Unquoted,
    }
    let mut state = State::BeforeName;
    let mut at = from;
    while at < bytes.len() {
        let byte = bytes[at];
        state = match (state, byte) {
            (State::Quoted(quote), _) if byte == quote => State::BeforeName,
            (State::Quoted(_), _) => state,
            (_, b'>') => return Some((at + 1, false)),
            (State::Unquoted, _) if byte.is_ascii_whitespace() => State::BeforeName,
            (State::Unquoted, _) => State::Unquoted,
            (State::BeforeValue, b'"' | b'\'') => State::Quoted(byte),
            (State::BeforeValue, _) if byte.is_ascii_whitespace() => State::BeforeValue,
            (State::BeforeValue, _) => State::Unquoted,
            (_, b'/') => {
                if bytes.get(at + 1) == Some(&b'>') {
                    return Some((at + 2, true));
                }
                State::BeforeName
            }
            (State::Name | State::AfterName, b'=') => State::BeforeValue,
            (State::Name, _) if byte.is_ascii_whitespace() => State::AfterName,
            (State::BeforeName | State::AfterName, _) if byte.is_ascii_whitespace() => state,
            _ => State::Name,
        };
        at += 1;
    }
    None
}

/// Returns the offset of the end tag `</name` that closes raw text starting at `from`.
fn find_end_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(offset) = memchr::memmem::find(&bytes[at..], b"</") {
        let start = at + offset;
        let name_start = start + 2;
        let name_stop = name_start + name.len();
        if bytes.len() >= name_stop
            && bytes[name_start..name_stop].eq_ignore_ascii_case(name.as_bytes())
            && bytes
                .get(name_stop)
                .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
        {
            return Some(start);
        }
        at = start + 2;
    }
    None
}

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
    let document = Html::parse_document(bound_depth(html, MAX_DEPTH));
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

    /// Returns the depth of the deepest node of the tree html5ever builds for `html`.
    fn parsed_depth(html: &str) -> usize {
        let document = Html::parse_document(html);
        let mut depth = 0usize;
        let mut deepest = 0;
        for edge in document.tree.root().traverse() {
            match edge {
                Edge::Open(_) => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Edge::Close(_) => depth -= 1,
            }
        }
        deepest
    }

    #[test]
    fn deeply_nested_page_is_cut() {
        let depth = 200_000;
        let html = format!(
            "<body><h1>Example Bank</h1><form><input type=password></form>{}deep text{}</body>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let started = std::time::Instant::now();
        let page = analyse(&html, &url());
        let elapsed = started.elapsed();
        assert!(page.text.contains("example bank"), "text before the cut");
        assert!(page.login_form, "form before the cut");
        assert!(!page.text.contains("deep text"), "text past the cut");
        assert!(!page.features.structure.is_empty());
        // Unbounded, this page takes minutes; bounded, well under a second in release.
        assert!(
            elapsed < std::time::Duration::from_secs(10),
            "took {elapsed:?}"
        );
    }

    #[test]
    fn hostile_nesting_stays_bounded() {
        let repeat = |unit: &str| unit.repeat(20_000);
        let cases = [
            ("nested div", repeat("<div>")),
            ("div closed across a table", repeat("<div><table></div>")),
            ("list items", repeat("<ul><li>")),
            (
                "reopened bold",
                (0..20_000).map(|i| format!("<p><b id={i}>x</p>")).collect(),
            ),
            ("bold around a block", repeat("<b><div></b>")),
            ("svg groups", format!("<svg>{}", repeat("<g>"))),
            ("svg style", format!("<svg><style>{}", repeat("<g>"))),
            ("quote in a name", repeat("<div x\"=y>")),
            ("self-closing div", repeat("<div/>")),
            ("stray end tags", repeat("<div></span></td></table>")),
            ("table cells", repeat("<table><tr><td>")),
        ];
        for (name, html) in cases {
            let bounded = bound_depth(&html, MAX_DEPTH);
            assert!(bounded.len() < html.len(), "{name}: not cut");
            let depth = parsed_depth(bounded);
            assert!(depth <= MAX_DEPTH + 8, "{name}: parsed depth {depth}");
        }
    }

    #[test]
    fn ordinary_markup_is_not_cut() {
        let cases = [
            ("unclosed paragraphs", "<p>text".repeat(5_000)),
            (
                "unclosed list items",
                format!("<ul>{}</ul>", "<li>item".repeat(5_000)),
            ),
            (
                "unclosed cells",
                "<table><tr><td>a<td>b<tr><td>c</table>".repeat(2_000),
            ),
            ("bold in paragraphs", "<p><b>x</p>".repeat(5_000)),
            (
                "svg paths",
                format!("<svg>{}</svg>", "<path d=\"M0 0\"/>".repeat(5_000)),
            ),
            (
                "scripts",
                "<script>if (a<b) { x = '<div>'; }</script>".repeat(5_000),
            ),
            ("comments", "<!-- <div> -->".repeat(5_000)),
            ("closed divs", "<div><span>x</span></div>".repeat(5_000)),
            ("images and breaks", "<img src=a.png><br>".repeat(5_000)),
        ];
        for (name, html) in cases {
            assert_eq!(
                bound_depth(&html, MAX_DEPTH).len(),
                html.len(),
                "{name}: cut"
            );
        }
    }

    #[test]
    fn cut_keeps_whole_tags() {
        let html = format!("<p>kept</p>{}", "<div class=\"a>b\">".repeat(10));
        assert_eq!(
            bound_depth(&html, 3),
            "<p>kept</p><div class=\"a>b\"><div class=\"a>b\"><div class=\"a>b\">"
        );
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
