//! Extraction of URLs, host names and mail addresses from text and HTML.
//!
//! The scanners read attackers' text, so they run in one pass over the bytes, keep every
//! token within [`Limits`], and never fail: what does not read as a URL or address is
//! skipped. They understand the defanged forms that analysts and abuse reports write
//! (`hxxp://`, `hxxps[:]//`, `evil[.]example`, `(.)`, `[dot]`, `user[@]host`) and return the
//! refanged form with a flag.
//!
//! HTML is read with a small tag scanner of our own rather than an HTML5 parser: analysis
//! needs only the attributes that hold links (`href`, `src`, `action`, ...), each link's
//! visible text, and the visible text of the page, and a one-pass scanner gives them at a
//! fraction of the cost of building a DOM for every mail.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::settings::Limits;

/// Part of the mail a URL was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlSource {
    /// A text/plain part.
    Text,
    /// An attribute or the visible text of a text/html part.
    Html,
    /// The file name of an attachment.
    AttachmentName,
}

/// A URL found in the mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlSeen {
    /// The URL, refanged and normalised (lower-case scheme and host, punycode host).
    pub url: String,
    /// Host name in ASCII lower case, or an IP address.
    pub host: Option<String>,
    /// Part of the mail the URL was first found in.
    pub source: UrlSource,
    /// Whether the mail wrote it in a defanged form.
    pub defanged: bool,
    /// Visible text of a link whose target is on another domain than the host that this
    /// text shows (`<a href="https://evil.example">https://bank.example</a>`).
    pub shown_as: Option<String>,
}

/// Words that are top-level domains but, written after a dot without a scheme, are far more
/// often file extensions (`setup.py`, `archive.zip`).
const FILE_EXTENSION_TLDS: &[&str] = &["zip", "mov", "md", "py", "sh", "rs", "pl", "ps", "so"];

/// Maximum length of the visible text kept for a link, in characters.
const MAX_SHOWN_CHARS: usize = 200;

/// Gathers URLs, addresses and bare domains across every part of one mail.
#[derive(Debug)]
pub(crate) struct Collector<'l> {
    limits: &'l Limits,
    pub urls: Vec<UrlSeen>,
    url_index: HashMap<String, usize>,
    pub addresses: Vec<String>,
    address_set: HashSet<String>,
    /// Host names written in the text without a scheme, ASCII lower case.
    pub bare_domains: Vec<String>,
    bare_set: HashSet<String>,
    pub dropped_urls: usize,
    pub dropped_addresses: usize,
    /// Bytes of text scanned so far.
    scanned: usize,
    pub text_cut: bool,
}

impl<'l> Collector<'l> {
    pub fn new(limits: &'l Limits) -> Self {
        Collector {
            limits,
            urls: Vec::new(),
            url_index: HashMap::new(),
            addresses: Vec::new(),
            address_set: HashSet::new(),
            bare_domains: Vec::new(),
            bare_set: HashSet::new(),
            dropped_urls: 0,
            dropped_addresses: 0,
            scanned: 0,
            text_cut: false,
        }
    }

    /// Takes `text` into the scanned budget; returns the part that fits.
    fn budget<'t>(&mut self, text: &'t str) -> &'t str {
        let room = self.limits.max_text_bytes.saturating_sub(self.scanned);
        if text.len() <= room {
            self.scanned += text.len();
            return text;
        }
        self.text_cut = true;
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.scanned += end;
        &text[..end]
    }

    fn add_url(&mut self, url: UrlSeen) -> usize {
        if let Some(&at) = self.url_index.get(&url.url) {
            let seen = &mut self.urls[at];
            seen.defanged |= url.defanged;
            if seen.shown_as.is_none() {
                seen.shown_as = url.shown_as;
            }
            return at;
        }
        if self.urls.len() >= self.limits.max_urls {
            self.dropped_urls += 1;
            return usize::MAX;
        }
        self.url_index.insert(url.url.clone(), self.urls.len());
        self.urls.push(url);
        self.urls.len() - 1
    }

    pub fn add_address(&mut self, address: String) {
        if self.address_set.contains(&address) {
            return;
        }
        if self.addresses.len() >= self.limits.max_addresses {
            self.dropped_addresses += 1;
            return;
        }
        self.address_set.insert(address.clone());
        self.addresses.push(address);
    }

    fn add_bare_domain(&mut self, domain: String) {
        if self.bare_set.len() < self.limits.max_urls && self.bare_set.insert(domain.clone()) {
            self.bare_domains.push(domain);
        }
    }

    /// Scans plain text for URLs (with a scheme or starting with `www.`), bare host names and
    /// mail addresses.
    pub fn scan_text(&mut self, text: &str, source: UrlSource) {
        let text = self.budget(text);
        let consumed = self.scan_scheme_urls(text, source);
        self.scan_addresses(text);
        self.scan_bare_hosts(text, source, &consumed);
    }

    /// Finds every `scheme://` URL, defanged ones included; returns the byte ranges taken.
    fn scan_scheme_urls(&mut self, text: &str, source: UrlSource) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let mut consumed = Vec::new();
        let mut last_end = 0;
        for slashes in memchr::memmem::find_iter(bytes, b"//") {
            if slashes < last_end {
                continue;
            }
            let Some((scheme_end, rest_start, defanged_separator)) = separator_at(bytes, slashes)
            else {
                continue;
            };
            let scheme_start = scheme_start(bytes, scheme_end);
            let Some((scheme, defanged_scheme)) = refang_scheme(&text[scheme_start..scheme_end])
            else {
                continue;
            };
            let rest_end = url_end(text, rest_start, self.limits.max_url_len);
            let rest = trim_url_tail(&text[rest_start..rest_end]);
            if rest.is_empty() {
                continue;
            }
            let end = rest_start + rest.len();
            last_end = end;
            consumed.push((scheme_start, end));
            let (rest, defanged_rest) = refang(rest);
            let defanged = defanged_separator || defanged_scheme || defanged_rest;
            if let Some(url) = normalise_url(&format!("{scheme}://{rest}"), source, defanged) {
                self.add_url(url);
            }
        }
        consumed
    }

    /// Finds `local@domain` and `local[@]domain` addresses.
    fn scan_addresses(&mut self, text: &str) {
        let bytes = text.as_bytes();
        for at in memchr::memchr_iter(b'@', bytes) {
            let (local_end, domain_start) =
                if at > 0 && bytes[at - 1] == b'[' && bytes.get(at + 1) == Some(&b']') {
                    (at - 1, at + 2)
                } else {
                    (at, at + 1)
                };
            if let Some(address) = address_around(text, local_end, domain_start) {
                self.add_address(address);
            }
        }
    }

    /// Finds host names written without a scheme: `www.` ones become URLs, others with a known
    /// public suffix are kept as bare domains.
    fn scan_bare_hosts(&mut self, text: &str, source: UrlSource, consumed: &[(usize, usize)]) {
        let bytes = text.as_bytes();
        let mut at = 0;
        let mut consumed = consumed.iter().peekable();
        while at < bytes.len() {
            if !bytes[at].is_ascii_alphanumeric() || (at > 0 && !is_host_boundary(bytes[at - 1])) {
                at += 1;
                continue;
            }
            let end = host_token_end(bytes, at);
            while consumed.peek().is_some_and(|&&(_, stop)| stop <= at) {
                consumed.next();
            }
            let inside_url = consumed.peek().is_some_and(|&&(start, _)| start <= at);
            let before_at = bytes.get(end) == Some(&b'@') || text[end..].starts_with("[@]");
            let after_at = at > 0 && bytes[at - 1] == b'@';
            if !inside_url && !before_at && !after_at {
                self.take_bare_host(text, at, end, source);
            }
            at = end.max(at + 1);
        }
    }

    fn take_bare_host(&mut self, text: &str, start: usize, end: usize, source: UrlSource) {
        let token = text[start..end].trim_end_matches(['.', '-']);
        if !token.contains('.') && !token.contains("[.]") && !token.contains("(.)") {
            return;
        }
        let (refanged, defanged) = refang(token);
        let is_www = refanged.len() > 4 && refanged[..4].eq_ignore_ascii_case("www.");
        if !is_www && !looks_like_domain(&refanged, defanged) {
            return;
        }
        let Some(host) = ascii_host(&refanged) else {
            return;
        };
        if is_www {
            let path_end = url_end(text, end, self.limits.max_url_len);
            let path = if text[end..].starts_with('/') {
                trim_url_tail(&text[end..path_end])
            } else {
                ""
            };
            let (path, _) = refang(path);
            if let Some(url) = normalise_url(&format!("http://{host}{path}"), source, defanged) {
                self.add_url(url);
            }
        } else {
            self.add_bare_domain(host);
        }
    }

    /// Scans HTML: link attributes, each link's visible text, and the visible text of the
    /// page. Returns the visible text.
    pub fn scan_html(&mut self, html: &str) -> String {
        let html = self.budget(html);
        let page = read_html(html, self.limits.max_url_len);
        for link in &page.links {
            self.take_link(link);
        }
        // The visible text is part of the HTML already counted in the budget.
        let consumed = self.scan_scheme_urls(&page.visible, UrlSource::Html);
        self.scan_addresses(&page.visible);
        self.scan_bare_hosts(&page.visible, UrlSource::Html, &consumed);
        page.visible
    }

    fn take_link(&mut self, link: &Link) {
        let target = link.target.trim();
        if let Some(rest) = strip_prefix_ignore_case(target, "mailto:") {
            self.take_mailto(rest);
            return;
        }
        let target = if target.starts_with("//") {
            Cow::Owned(format!("http:{target}"))
        } else {
            Cow::Borrowed(target)
        };

        let before = self.urls.len();
        let consumed = self.scan_scheme_urls(&target, UrlSource::Html);
        if consumed.first().is_none_or(|&(start, _)| start != 0) {
            return;
        }
        // The link's own URL is the first one the target yields, new or already seen.
        let index = if self.urls.len() > before {
            Some(before)
        } else {
            normalise_url(&target, UrlSource::Html, false)
                .and_then(|url| self.url_index.get(&url.url).copied())
        };
        if let (Some(index), Some(text)) = (index, &link.text) {
            self.note_shown_text(index, text);
        }
    }

    /// Takes the addresses of a `mailto:` link (several may be separated by commas).
    fn take_mailto(&mut self, rest: &str) {
        let rest = rest.split('?').next().unwrap_or(rest);
        for part in rest.split(',') {
            let part = percent_decode(part.trim());
            if let Some(at) = part.find('@')
                && let Some(address) = address_around(&part, at, at + 1)
            {
                self.add_address(address);
            }
        }
    }

    /// Keeps a link's visible text when it shows a host on another registrable domain than
    /// the link's target.
    fn note_shown_text(&mut self, index: usize, text: &str) {
        let Some(shown_host) = first_host_in(text) else {
            return;
        };
        let url = &mut self.urls[index];
        let Some(target_host) = &url.host else {
            return;
        };
        if url.shown_as.is_none() && registrable(&shown_host) != registrable(target_host) {
            url.shown_as = Some(text.to_string());
        }
    }
}

/// Recognises the separator ending at `slashes` (the position of `//`): `://`, `[:]//`,
/// `(:)//` or `[://]`. Returns where the scheme ends, where the rest starts, and whether the
/// separator was defanged.
fn separator_at(bytes: &[u8], slashes: usize) -> Option<(usize, usize, bool)> {
    if slashes >= 1 && bytes[slashes - 1] == b':' {
        if slashes >= 2 && bytes[slashes - 2] == b'[' && bytes.get(slashes + 2) == Some(&b']') {
            return Some((slashes - 2, slashes + 3, true));
        }
        return Some((slashes - 1, slashes + 2, false));
    }
    if slashes >= 3 {
        let before = &bytes[slashes - 3..slashes];
        if before == b"[:]" || before == b"(:)" {
            return Some((slashes - 3, slashes + 2, true));
        }
    }
    None
}

/// Goes back from `end` over the letters of a scheme (at most eight).
fn scheme_start(bytes: &[u8], end: usize) -> usize {
    let mut start = end;
    while start > 0
        && end - start < 8
        && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'*')
    {
        start -= 1;
    }
    start
}

/// Maps a scheme, defanged or not, to `http`, `https` or `ftp`; other schemes are not
/// collected. Returns whether it was defanged.
fn refang_scheme(scheme: &str) -> Option<(&'static str, bool)> {
    let lower = scheme.to_ascii_lowercase();
    match lower.as_str() {
        "http" => return Some(("http", false)),
        "https" => return Some(("https", false)),
        "ftp" => return Some(("ftp", false)),
        "fxp" => return Some(("ftp", true)),
        _ => {}
    }
    // hxxp, hxxps, h**p, htxp, hxtp: an `h`, two of `t`, `x` or `*`, a `p`, maybe an `s`.
    let bytes = lower.as_bytes();
    let secure = bytes.last() == Some(&b's');
    let core = if secure {
        &bytes[..bytes.len() - 1]
    } else {
        bytes
    };
    let defanged = core.len() == 4
        && core[0] == b'h'
        && core[3] == b'p'
        && core[1..3].iter().all(|b| matches!(b, b't' | b'x' | b'*'));
    defanged.then_some((if secure { "https" } else { "http" }, true))
}

/// Returns the end of a URL starting at `start`: the first space, quote, angle bracket or
/// control character, at most `max_len` bytes on.
fn url_end(text: &str, start: usize, max_len: usize) -> usize {
    let limit = (start + max_len).min(text.len());
    for (offset, c) in text[start..].char_indices() {
        let at = start + offset;
        if at >= limit {
            return at;
        }
        if c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\' | '^' | '|')
        {
            return at;
        }
    }
    text.len()
}

/// Removes trailing punctuation that ends a sentence rather than the URL, and closing
/// brackets that have no opening one inside the URL.
fn trim_url_tail(url: &str) -> &str {
    let count = |c: char| url.matches(c).count();
    // Only closing brackets are cut, so the opening counts stay as they are.
    let (open_round, mut close_round) = (count('('), count(')'));
    let (open_square, mut close_square) = (count('['), count(']'));
    let (open_curly, mut close_curly) = (count('{'), count('}'));
    let mut url = url;
    while let Some(last) = url.chars().last() {
        let cut = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '*' => true,
            ')' => open_round < close_round,
            ']' => !url.ends_with("[.]") && open_square < close_square,
            '}' => open_curly < close_curly,
            _ => false,
        };
        if !cut {
            break;
        }
        match last {
            ')' => close_round -= 1,
            ']' => close_square -= 1,
            '}' => close_curly -= 1,
            _ => {}
        }
        url = &url[..url.len() - last.len_utf8()];
    }
    url
}

/// Undoes the usual defanging of dots, colons, slashes and at signs.
fn refang(text: &str) -> (Cow<'_, str>, bool) {
    if !text.contains(['[', '(', '{']) {
        return (Cow::Borrowed(text), false);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    'outer: while let Some(c) = rest.chars().next() {
        if matches!(c, '[' | '(' | '{') {
            for (pattern, replacement) in [
                (".", "."),
                ("dot", "."),
                (":", ":"),
                ("/", "/"),
                ("@", "@"),
                ("at", "@"),
            ] {
                let close = match c {
                    '[' => ']',
                    '(' => ')',
                    _ => '}',
                };
                let inner = &rest[1..];
                // `get` is None when the pattern's length ends inside a multi-byte character.
                if inner.len() > pattern.len()
                    && inner
                        .get(..pattern.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(pattern))
                    && inner[pattern.len()..].starts_with(close)
                {
                    out.push_str(replacement);
                    rest = &inner[pattern.len() + 1..];
                    changed = true;
                    continue 'outer;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if changed {
        (Cow::Owned(out), true)
    } else {
        (Cow::Borrowed(text), false)
    }
}

/// Parses and normalises a URL with the `url` crate; `None` when it has no usable host.
fn normalise_url(text: &str, source: UrlSource, defanged: bool) -> Option<UrlSeen> {
    let parsed = url::Url::parse(text).ok()?;
    let host = match parsed.host()? {
        url::Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.');
            if !domain.contains('.') {
                return None;
            }
            domain.to_string()
        }
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    Some(UrlSeen {
        url: parsed.into(),
        host: Some(host),
        source,
        defanged,
        shown_as: None,
    })
}

/// Tells whether the byte before a host token lets the token start there.
fn is_host_boundary(byte: u8) -> bool {
    !(byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'.' | b'-' | b'_' | b'/' | b'@' | b':' | b'=' | b'%' | b'&' | b'?' | b'#' | b'+'
        ))
}

/// Defanged forms of a dot inside a host name.
const DEFANGED_DOTS: &[&[u8]] = &[b"[.]", b"(.)", b"{.}", b"[dot]", b"(dot)"];

/// Returns the end of a host-like token: letters, digits, hyphens, dots and defanged dots.
fn host_token_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.' {
            at += 1;
            continue;
        }
        let rest = &bytes[at..];
        let defanged_dot = DEFANGED_DOTS.iter().find(|pattern| {
            rest.len() >= pattern.len() && rest[..pattern.len()].eq_ignore_ascii_case(pattern)
        });
        match defanged_dot {
            Some(pattern) => at += pattern.len(),
            None => break,
        }
    }
    at
}

/// Tells whether a token written without a scheme is a domain name: a known public suffix
/// that is not a common file extension, written in one case.
fn looks_like_domain(token: &str, defanged: bool) -> bool {
    let Some((_, last)) = token.rsplit_once('.') else {
        return false;
    };
    if last.len() < 2 || !last.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    // `today.Now` is a sentence without its space, `example.COM` and `example.com` are names.
    let lower = last.bytes().all(|b| b.is_ascii_lowercase());
    let upper = last.bytes().all(|b| b.is_ascii_uppercase());
    if !lower && !upper {
        return false;
    }
    let last_lower = last.to_ascii_lowercase();
    if !defanged && FILE_EXTENSION_TLDS.contains(&last_lower.as_str()) {
        return false;
    }
    let lower_token = token.to_ascii_lowercase();
    psl::suffix(lower_token.as_bytes()).is_some_and(|suffix| suffix.is_known())
        && psl::suffix_str(&lower_token).is_some_and(|suffix| suffix.len() < lower_token.len())
}

/// Returns the ASCII lower-case form of a host name, or `None` when it is not one.
pub(crate) fn ascii_host(text: &str) -> Option<String> {
    let text = text.trim_end_matches('.');
    if text.is_empty() || text.len() > crate::domain::name::MAX_NAME_LEN {
        return None;
    }
    let ascii = if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        crate::domain::to_ascii(text).ok()?
    };
    (ascii.contains('.') && crate::domain::name::is_valid_ascii_name(&ascii)).then_some(ascii)
}

/// Reads the address whose local part ends at `local_end` and whose domain starts at
/// `domain_start`; returns it in lower case.
fn address_around(text: &str, local_end: usize, domain_start: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut local_start = local_end;
    while local_start > 0
        && local_end - local_start < 64
        && is_local_part_byte(bytes[local_start - 1])
    {
        local_start -= 1;
    }
    let local = text[local_start..local_end].trim_start_matches('.');
    if local.is_empty() || local.ends_with('.') {
        return None;
    }
    let domain_end = host_token_end(bytes, domain_start);
    let domain = text
        .get(domain_start..domain_end)?
        .trim_end_matches(['.', '-']);
    let (domain, _) = refang(domain);
    let (_, last) = domain.rsplit_once('.')?;
    if last.len() < 2 || !last.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let domain = ascii_host(&domain)?;
    Some(format!("{}@{domain}", local.to_ascii_lowercase()))
}

fn is_local_part_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b".!#$%&*+-/=?^_{|}~".contains(&byte)
}

/// Returns the first host that `text` shows: the host of a URL, or a bare domain.
fn first_host_in(text: &str) -> Option<String> {
    let limits = Limits::default();
    let mut collector = Collector::new(&limits);
    collector.scan_text(text, UrlSource::Html);
    collector
        .urls
        .first()
        .and_then(|url| url.host.clone())
        .or_else(|| collector.bare_domains.first().cloned())
}

/// Returns the registrable domain of a host (`example.co.uk` for `www.example.co.uk`), or
/// the host itself when it has none (an IP address).
pub(crate) fn registrable(host: &str) -> String {
    match crate::domain::split(host) {
        Ok(parts) => format!("{}.{}", parts.label, parts.suffix),
        Err(_) => host.to_string(),
    }
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    // `get` is None when the prefix's length ends inside a multi-byte character.
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        .then(|| &text[prefix.len()..])
}

/// Decodes `%XX` escapes; invalid ones are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes.get(at + 1..at + 3).and_then(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        });
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One link of an HTML page: an attribute that contains a URL, with the visible text of
/// its `<a>` element when it is an `href`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    target: String,
    text: Option<String>,
}

/// Result of the tag scanner for one HTML part.
#[derive(Debug, Default)]
struct Page {
    links: Vec<Link>,
    visible: String,
}

/// Attributes whose value is a URL.
const LINK_ATTRIBUTES: &[&str] = &["href", "src", "action", "formaction", "background", "data"];

/// Tags after which the visible text breaks a line.
const BLOCK_TAGS: &[&str] = &[
    "br",
    "p",
    "div",
    "tr",
    "td",
    "th",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "title",
];

fn read_html(html: &str, max_url_len: usize) -> Page {
    let mut page = Page::default();
    let mut anchor: Option<(usize, usize)> = None; // (link index, start in visible)
    let bytes = html.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let Some(offset) = memchr::memchr(b'<', &bytes[at..]) else {
            push_text(&mut page.visible, &html[at..]);
            break;
        };
        let open = at + offset;
        push_text(&mut page.visible, &html[at..open]);
        if html[open..].starts_with("<!--") {
            at = html[open + 4..]
                .find("-->")
                .map_or(bytes.len(), |end| open + 4 + end + 3);
            continue;
        }
        let Some(tag) = read_tag(html, open) else {
            page.visible.push('<');
            at = open + 1;
            continue;
        };
        at = tag.end;
        let name = tag.name.to_ascii_lowercase();
        if !tag.closing && (name == "script" || name == "style") {
            let closing = format!("</{name}");
            at = find_ignore_case(&html[at..], &closing).map_or(bytes.len(), |end| at + end);
            continue;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            page.visible.push('\n');
        }
        if name == "a" && tag.closing {
            if let Some((index, start)) = anchor.take() {
                let text = collapse_spaces(&page.visible[start..]);
                if !text.is_empty() {
                    page.links[index].text = Some(truncate_chars(&text, MAX_SHOWN_CHARS));
                }
            }
            continue;
        }
        for (attribute, value) in &tag.attributes {
            if !LINK_ATTRIBUTES.contains(&attribute.as_str()) || value.is_empty() {
                continue;
            }
            let target = truncate_chars(&decode_entities(value), max_url_len);
            if name == "a" && attribute == "href" {
                anchor = Some((page.links.len(), page.visible.len()));
            }
            page.links.push(Link { target, text: None });
        }
    }
    page
}

struct Tag {
    name: String,
    closing: bool,
    attributes: Vec<(String, String)>,
    /// Byte just after the tag's `>`.
    end: usize,
}

/// Reads the tag that starts at `open` (a `<`); `None` when what follows is not a tag.
fn read_tag(html: &str, open: usize) -> Option<Tag> {
    let bytes = html.as_bytes();
    let mut at = open + 1;
    let closing = bytes.get(at) == Some(&b'/');
    if closing {
        at += 1;
    }
    let name_start = at;
    while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'!') {
        at += 1;
    }
    if at == name_start {
        return None;
    }
    let name = html[name_start..at].to_string();
    let mut attributes = Vec::new();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        match bytes.get(at) {
            None => {
                return Some(Tag {
                    name,
                    closing,
                    attributes,
                    end: bytes.len(),
                });
            }
            Some(b'>') => {
                return Some(Tag {
                    name,
                    closing,
                    attributes,
                    end: at + 1,
                });
            }
            _ => {}
        }
        let key_start = at;
        while at < bytes.len()
            && !matches!(bytes[at], b'=' | b'>' | b'/')
            && !bytes[at].is_ascii_whitespace()
        {
            at += 1;
        }
        let key = html[key_start..at].to_ascii_lowercase();
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes.get(at) != Some(&b'=') {
            if key.is_empty() {
                at += 1;
            }
            continue;
        }
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let (value, after) = match bytes.get(at) {
            Some(&quote @ (b'"' | b'\'')) => {
                let end =
                    memchr::memchr(quote, &bytes[at + 1..]).map_or(bytes.len(), |e| at + 1 + e);
                (&html[at + 1..end], (end + 1).min(bytes.len()))
            }
            _ => {
                let start = at;
                while at < bytes.len() && bytes[at] != b'>' && !bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                (&html[start..at], at)
            }
        };
        attributes.push((key, value.to_string()));
        at = after;
    }
}

fn push_text(visible: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    visible.push_str(&decode_entities(text));
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// Decodes the HTML character references that matter in links and text.
pub(crate) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |e| e + 1);
        let name = &rest[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => name.strip_prefix('#').and_then(|number| {
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => number.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> (Vec<UrlSeen>, Vec<String>, Vec<String>) {
        let limits = Limits::default();
        let mut collector = Collector::new(&limits);
        collector.scan_text(text, UrlSource::Text);
        (collector.urls, collector.addresses, collector.bare_domains)
    }

    #[test]
    fn prefix_check_stops_at_multibyte_characters() {
        // A link target as a fuzzed mail had it: multi-byte characters where a scheme's
        // colon and slashes are looked for.
        assert_eq!(
            strip_prefix_ignore_case("https:\u{fffd}\u{fffd}//x", "mailto:"),
            None
        );
        assert_eq!(
            strip_prefix_ignore_case("\u{e9}\u{e9}\u{e9}\u{e9}", "mailto:"),
            None
        );
        assert_eq!(
            strip_prefix_ignore_case("MAILTO:abuse@example.test", "mailto:"),
            Some("abuse@example.test")
        );
        let (urls, _, _) = scan("see https:\u{fffd}\u{fffd}//paypa1-secure.com/pay now");
        assert!(urls.len() <= 1);
    }

    #[test]
    fn refang_keeps_multibyte_characters_in_brackets() {
        // A bracket followed by a character of two or more bytes, as a fuzzed mail had it.
        for text in ["a[\u{fffd}]33/", "x(\u{e9}t)y", "{\u{1f600}}", "[\u{e0}t]"] {
            let (out, changed) = refang(text);
            assert_eq!((out.as_ref(), changed), (text, false), "{text:?}");
        }
        let (urls, _, _) = scan("hxxps://evil[.]example/[\u{fffd}]33/");
        assert_eq!(urls.len(), 1);
        assert!(urls[0].defanged);
    }

    #[test]
    fn defanged_urls_are_refanged() {
        let (urls, _, _) = scan(
            "Block hxxps://login-example[.]com/verify?id=1 and hxxp[:]//evil(.)example/a, \
             also h**ps[://]cdn[dot]evil.example/x.",
        );
        let found: Vec<(&str, bool)> = urls.iter().map(|u| (u.url.as_str(), u.defanged)).collect();
        assert_eq!(
            found,
            vec![
                ("https://login-example.com/verify?id=1", true),
                ("http://evil.example/a", true),
                ("https://cdn.evil.example/x", true),
            ]
        );
    }

    #[test]
    fn plain_urls_and_trailing_punctuation() {
        let (urls, _, _) = scan("See (https://example.com/a_(b)) and https://example.org/x).");
        let found: Vec<&str> = urls.iter().map(|u| u.url.as_str()).collect();
        assert_eq!(
            found,
            vec!["https://example.com/a_(b)", "https://example.org/x"]
        );
    }

    #[test]
    fn www_and_bare_domains() {
        let (urls, _, bare) = scan(
            "Go to www.example.com/login or paypa1-secure.com now. See setup.py and today.Now",
        );
        assert_eq!(urls.len(), 1);
        assert_eq!(urls[0].url, "http://www.example.com/login");
        assert_eq!(bare, vec!["paypa1-secure.com".to_string()]);
    }

    #[test]
    fn addresses_plain_and_defanged() {
        let (_, addresses, bare) = scan("Write to John.Doe@Example.com or ceo[@]evil[.]example.");
        assert_eq!(addresses, vec!["john.doe@example.com", "ceo@evil.example"]);
        assert!(bare.is_empty(), "{bare:?}");
    }

    #[test]
    fn html_link_text_differs_from_target() {
        let limits = Limits::default();
        let mut collector = Collector::new(&limits);
        let visible = collector.scan_html(
            "<p>Dear client,</p><a class=x href=\"https://evil.example/login?u=1&amp;t=2\">https://www.bank.example/</a>\
             <a href='https://www.bank.example/help'>Help</a><a href=\"mailto:help@bank.example?subject=x\">mail</a>\
             <script>var u='https://script.example';</script>",
        );
        let evil = collector
            .urls
            .iter()
            .find(|u| u.host.as_deref() == Some("evil.example"))
            .expect("href target listed");
        assert_eq!(evil.url, "https://evil.example/login?u=1&t=2");
        assert_eq!(evil.shown_as.as_deref(), Some("https://www.bank.example/"));
        let help = collector
            .urls
            .iter()
            .find(|u| u.url == "https://www.bank.example/help")
            .expect("second link listed");
        assert_eq!(help.shown_as, None);
        assert!(
            collector
                .addresses
                .contains(&"help@bank.example".to_string())
        );
        assert!(
            !collector
                .urls
                .iter()
                .any(|u| u.url.contains("script.example"))
        );
        assert!(visible.contains("Dear client,"));
    }

    #[test]
    fn entities_decode() {
        assert_eq!(
            decode_entities("a&amp;b&#46;c&#x2e;d&unknown;"),
            "a&b.c.d&unknown;"
        );
    }
}
