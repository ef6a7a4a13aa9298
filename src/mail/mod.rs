//! Mail analysis, shared by the `inbox` source, the intake endpoint and `vigie mail inspect`.
//!
//! [`analyze`] takes one raw mail (RFC 5322 bytes) and returns a [`MailReport`]: the headers
//! that matter, the real sender IP from the `Received` chain ([`received`]), every URL,
//! domain and mail address of the text and HTML parts ([`urls`]), the SPF, DKIM and DMARC
//! results ([`auth`]), the attachments' names, types, sizes and SHA-256 (attachments are
//! hashed, never opened), a fingerprint of the text for grouping a campaign's copies
//! ([`digest`]), and the findings: every domain through the one matcher of [`crate::detect`],
//! and the From display name checked against the brands ([`findings`]). An abuse report in
//! ARF ([`arf`]) is unwrapped and the message it reports is analysed in its place.
//!
//! mail-parser reads the MIME structure and the headers, and returns what it can of any input
//! without failing. Before it runs, [`analyze`] rejects what is not a mail at all (empty
//! input, binary data, no header line) and what goes over the [`Limits`], each with a
//! [`MailError`] that names the reason. Oddities that still leave a readable mail (a missing
//! closing boundary, a part that does not decode) are listed in [`MailReport::problems`].
//! Nothing here does I/O.

pub mod arf;
pub mod auth;
pub mod digest;
pub mod findings;
pub mod received;
pub mod settings;
pub mod urls;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::detect::Matcher;

pub use arf::ArfInfo;
pub use auth::{AuthResult, AuthResults};
pub use findings::MailFinding;
pub use received::{Confidence, Hop, HopRole, Origin};
pub use settings::{Limits, MailSettings};
pub use urls::{UrlSeen, UrlSource};

use findings::Role;
use urls::Collector;

/// A mail address with its display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// Display name as decoded (RFC 2047 words decoded).
    pub name: Option<String>,
    /// The address in lower case; `None` when the header gives only a name.
    pub address: Option<String>,
    /// Domain of the address in ASCII lower case.
    pub domain: Option<String>,
}

/// An attachment: described and hashed, never opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// File name from Content-Disposition or Content-Type, if any.
    pub name: Option<String>,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Size in bytes after transfer decoding.
    pub size: usize,
    /// SHA-256 of the decoded content, in hex.
    pub sha256: String,
}

/// Everything analysis found in one mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailReport {
    /// SHA-256 of the raw input in hex (of the report itself for an ARF report).
    pub sha256: String,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<Address>,
    pub reply_to: Vec<Address>,
    /// Address of the Return-Path header, in lower case.
    pub return_path: Option<String>,
    /// Date header in RFC 3339 form.
    pub date: Option<String>,
    /// The real sender IP, from the `Received` chain.
    pub origin_ip: Option<Origin>,
    /// The `Received` hops, newest first.
    pub received: Vec<Hop>,
    pub urls: Vec<UrlSeen>,
    /// Every domain named: senders, URL hosts, addresses, host names in the text (ASCII).
    pub domains: Vec<String>,
    /// Every mail address: From, Reply-To, Return-Path, Sender, then the text and HTML.
    pub addresses: Vec<String>,
    pub auth: AuthResults,
    pub attachments: Vec<Attachment>,
    pub findings: Vec<MailFinding>,
    /// Hash of the normalised text: copies of one mail to different people collide.
    pub body_digest: String,
    /// SimHash of the normalised text: near-identical texts differ in few bits.
    pub body_simhash: String,
    /// For an ARF report: its fields; the fields above then describe the reported message.
    pub arf: Option<ArfInfo>,
    /// Oddities that did not stop analysis, in words.
    pub problems: Vec<String>,
}

/// Why a mail could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("empty input: 0 bytes, not a mail")]
    Empty,
    #[error(
        "mail of {size} bytes is over the limit of {max} bytes; raise [mail] max_message_bytes to analyse it"
    )]
    TooLarge { size: usize, max: usize },
    #[error(
        "binary data in the header section (byte 0x{byte:02x} at offset {offset}): this is not a mail, or it is corrupted"
    )]
    Binary { byte: u8, offset: usize },
    #[error(
        "no header: the first line {line:?} is not a header field (Name: value); this is not a mail, or its headers were cut off"
    )]
    NoHeaders { line: String },
    #[error(
        "header line {line} is {length} bytes long, over the limit of {max}; the mail is malformed"
    )]
    HeaderLineTooLong {
        line: usize,
        length: usize,
        max: usize,
    },
    #[error("the header section is over the limit of {max} bytes; the mail is malformed")]
    HeaderTooLarge { max: usize },
    #[error("{count} MIME parts, over the limit of {max}; the mail is malformed or hostile")]
    TooManyParts { count: usize, max: usize },
    #[error("the mail parser failed on this input: {0}")]
    Parser(String),
}

impl MailError {
    /// Returns a short stable name of the error class, for counting (`too-large`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            MailError::Empty => "empty",
            MailError::TooLarge { .. } => "too-large",
            MailError::Binary { .. } => "binary",
            MailError::NoHeaders { .. } => "no-headers",
            MailError::HeaderLineTooLong { .. } => "header-line-too-long",
            MailError::HeaderTooLarge { .. } => "header-too-large",
            MailError::TooManyParts { .. } => "too-many-parts",
            MailError::Parser(_) => "parser",
        }
    }
}

/// Analyses one raw mail. Never panics: input that is not a mail, or that goes over the
/// limits of `settings`, gives a [`MailError`] that names the reason.
pub fn analyze(
    raw: &[u8],
    matcher: &Matcher,
    settings: &MailSettings,
) -> Result<MailReport, MailError> {
    let sha256 = hex::encode(Sha256::digest(raw));
    let body = check_raw(raw, &settings.limits)?;
    let message = parse(body)?;
    check_parts(&message, &settings.limits)?;

    if !arf::is_report(&message) {
        let mut report = analyze_message(&message, matcher, settings, false);
        report.sha256 = sha256;
        return Ok(report);
    }

    let (info, reported) = arf::unwrap(&message);
    let inner = reported.map(|bytes| {
        check_raw(bytes, &settings.limits)
            .and_then(parse)
            .and_then(|inner| check_parts(&inner, &settings.limits).map(|()| inner))
    });
    let headers_only = info.reported_message.as_deref() == Some("text/rfc822-headers");
    let mut report = match inner {
        Some(Ok(inner)) => analyze_message(&inner, matcher, settings, headers_only),
        Some(Err(error)) => {
            let mut report = analyze_message(&message, matcher, settings, false);
            report.problems.push(format!(
                "the reported message of this abuse report cannot be read: {error}"
            ));
            report
        }
        None => {
            let mut report = analyze_message(&message, matcher, settings, false);
            report
                .problems
                .push("this abuse report carries no reported message".to_string());
            report
        }
    };
    report.sha256 = sha256;
    use_source_ip(&mut report, &info);
    report.arf = Some(info);
    Ok(report)
}

/// Uses the report's `Source-IP` as the origin when the reported message's chain names none,
/// and notes whether the two agree when it does.
fn use_source_ip(report: &mut MailReport, info: &ArfInfo) {
    let Some(source_ip) = info.source_ip else {
        return;
    };
    match &mut report.origin_ip {
        Some(origin) if origin.ip == source_ip => {
            origin
                .reasons
                .push("the abuse report's Source-IP names the same address".to_string());
        }
        Some(origin) => {
            origin.reasons.push(format!(
                "the abuse report's Source-IP names another address, {source_ip}"
            ));
            origin.confidence = origin.confidence.min(Confidence::Low);
        }
        None if received::is_public(source_ip) => {
            report.origin_ip = Some(Origin {
                ip: source_ip,
                hop: None,
                host: None,
                rdns: None,
                received_by: None,
                confidence: Confidence::Medium,
                agreeing_hops: 0,
                broken_hops: 0,
                forged_hops: 0,
                reasons: vec![
                    "from the Source-IP field of the abuse report: the reporter's server received the message from this address".to_string(),
                ],
            });
        }
        None => {}
    }
}

/// Checks what can be checked before parsing; returns the mail without an mbox `From ` line.
fn check_raw<'r>(raw: &'r [u8], limits: &Limits) -> Result<&'r [u8], MailError> {
    if raw.is_empty() {
        return Err(MailError::Empty);
    }
    if raw.len() > limits.max_bytes {
        return Err(MailError::TooLarge {
            size: raw.len(),
            max: limits.max_bytes,
        });
    }
    let mail = strip_mbox_line(raw);
    let header_end = header_section_end(mail);
    let header = &mail[..header_end];
    if header.len() > limits.max_header_bytes {
        return Err(MailError::HeaderTooLarge {
            max: limits.max_header_bytes,
        });
    }
    if let Some(offset) = memchr::memchr(0, header) {
        return Err(MailError::Binary {
            byte: 0,
            offset: offset + (raw.len() - mail.len()),
        });
    }
    for (index, line) in header.split(|b| *b == b'\n').enumerate() {
        if line.len() > limits.max_header_line {
            return Err(MailError::HeaderLineTooLong {
                line: index + 1,
                length: line.len(),
                max: limits.max_header_line,
            });
        }
    }
    let first_line = header
        .split(|b| *b == b'\n')
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))
        .unwrap_or_default();
    if !is_header_line(first_line) {
        let shown: String = String::from_utf8_lossy(first_line)
            .chars()
            .take(60)
            .collect();
        return Err(MailError::NoHeaders { line: shown });
    }
    Ok(mail)
}

/// Drops a leading mbox `From sender date` line, which is no header.
fn strip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match memchr::memchr(b'\n', raw) {
            Some(end) => &raw[end + 1..],
            None => &raw[raw.len()..],
        }
    } else {
        raw
    }
}

/// Returns the length of the header section: up to the first empty line, or all of it.
fn header_section_end(mail: &[u8]) -> usize {
    let lf = memchr::memmem::find(mail, b"\n\n").map(|at| at + 1);
    let crlf = memchr::memmem::find(mail, b"\n\r\n").map(|at| at + 1);
    match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => mail.len(),
    }
}

/// Tells whether a line starts a header field: printable ASCII name, then `:`.
fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|b| (33..=126).contains(b))
}

/// Parses with mail-parser; a panic inside it becomes an error rather than a crash.
fn parse(raw: &[u8]) -> Result<Message<'_>, MailError> {
    let parsed = catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(raw)));
    match parsed {
        Ok(Some(message)) if !message.parts.is_empty() && !message.headers().is_empty() => {
            Ok(message)
        }
        Ok(_) => Err(MailError::NoHeaders {
            line: String::from_utf8_lossy(raw.split(|b| *b == b'\n').next().unwrap_or_default())
                .chars()
                .take(60)
                .collect(),
        }),
        Err(_) => Err(MailError::Parser(
            "mail-parser panicked; keep the file and report it".to_string(),
        )),
    }
}

fn check_parts(message: &Message<'_>, limits: &Limits) -> Result<(), MailError> {
    let count = count_parts(message);
    if count > limits.max_parts {
        return Err(MailError::TooManyParts {
            count,
            max: limits.max_parts,
        });
    }
    Ok(())
}

fn count_parts(message: &Message<'_>) -> usize {
    message
        .parts
        .iter()
        .map(|part| match &part.body {
            PartType::Message(inner) => 1 + count_parts(inner),
            _ => 1,
        })
        .sum()
}

/// Analyses a parsed mail; `sha256` and `arf` are left for the caller. `headers_only` is set
/// for a header section without its body (`text/rfc822-headers`), which is then not truncated.
fn analyze_message(
    message: &Message<'_>,
    matcher: &Matcher,
    settings: &MailSettings,
    headers_only: bool,
) -> MailReport {
    let limits = &settings.limits;
    let mut problems = Vec::new();
    let mut collector = Collector::new(limits);

    let from = message.from().and_then(|from| from.first()).map(address_of);
    let reply_to: Vec<Address> = message
        .reply_to()
        .map(|list| list.iter().map(address_of).collect())
        .unwrap_or_default();
    let return_path = message.return_address().and_then(clean_address);
    let sender = message
        .sender()
        .and_then(|s| s.first())
        .and_then(|a| a.address.as_deref())
        .and_then(clean_address);
    for address in from
        .iter()
        .chain(&reply_to)
        .filter_map(|a| a.address.clone())
        .chain(return_path.clone())
        .chain(sender)
    {
        collector.add_address(address);
    }
    let header_addresses = collector.addresses.len();

    let mut received = received::hops(message, limits.max_hops);
    let origin_ip = received::walk(&mut received, settings);
    let auth = auth::read(message, settings);

    let body_text = scan_bodies(message, &mut collector, &mut problems);
    let attachments = attachments(message, &mut collector);
    let display_name_domains = display_name_domains(from.as_ref(), limits);

    note_limits(&collector, &mut problems);
    if !headers_only {
        note_truncation(message, &mut problems);
    }

    let roles = domain_roles(
        from.as_ref(),
        &reply_to,
        return_path.as_deref(),
        &collector,
        header_addresses,
        &display_name_domains,
    );
    let mut domains = Vec::new();
    let mut seen = HashSet::new();
    for (domain, _) in &roles {
        if seen.insert(domain.as_str()) {
            domains.push(domain.clone());
        }
    }
    let sender_for_rule = from.as_ref().and_then(|f| {
        Some(findings::Sender {
            name: f.name.as_deref(),
            address: f.address.as_deref()?,
            domain: f.domain.as_deref()?,
        })
    });
    let findings = findings::find(matcher, settings, &roles, sender_for_rule);

    let recipients = recipient_words(message);
    let words = digest::normalised_words(&body_text, &recipients);

    MailReport {
        sha256: String::new(),
        message_id: message.message_id().map(|id| id.to_string()),
        subject: message.subject().map(|s| s.to_string()),
        from,
        reply_to,
        return_path,
        date: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_rfc3339()),
        origin_ip,
        received,
        urls: collector.urls,
        domains,
        addresses: collector.addresses,
        auth,
        attachments,
        findings,
        body_digest: digest::body_digest(&words),
        body_simhash: digest::body_simhash(&words),
        arf: None,
        problems,
    }
}

fn address_of(addr: &mail_parser::Addr<'_>) -> Address {
    let address = addr.address.as_deref().and_then(clean_address);
    let domain = address
        .as_deref()
        .and_then(|a| a.rsplit_once('@'))
        .and_then(|(_, domain)| urls::ascii_host(domain));
    Address {
        name: addr
            .name
            .as_deref()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        address,
        domain,
    }
}

/// Lower-cases an address and removes angle brackets and spaces; `None` when empty.
fn clean_address(text: &str) -> Option<String> {
    let text = text
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!text.is_empty()).then(|| text.to_lowercase())
}

/// Scans the text and HTML body parts; returns the text for the digest (the text parts, or
/// the HTML's visible text when there is no text part).
fn scan_bodies(
    message: &Message<'_>,
    collector: &mut Collector<'_>,
    problems: &mut Vec<String>,
) -> String {
    let mut body_ids: Vec<u32> = message
        .text_body
        .iter()
        .chain(&message.html_body)
        .copied()
        .collect();
    body_ids.sort_unstable();
    body_ids.dedup();

    let mut text = String::new();
    let mut html_text = String::new();
    for id in body_ids {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        if part.is_encoding_problem {
            problems.push(format!("body part {id} does not decode cleanly"));
        }
        match &part.body {
            PartType::Text(body) => {
                collector.scan_text(body, UrlSource::Text);
                text.push_str(body);
                text.push('\n');
            }
            PartType::Html(body) => {
                let visible = collector.scan_html(body);
                html_text.push_str(&visible);
                html_text.push('\n');
            }
            _ => {}
        }
    }
    if text.trim().is_empty() {
        html_text
    } else {
        text
    }
}

/// Describes and hashes every attachment, and scans its name for URLs.
fn attachments(message: &Message<'_>, collector: &mut Collector<'_>) -> Vec<Attachment> {
    let mut list = Vec::new();
    for id in &message.attachments {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let content = part.contents();
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "text/plain".to_string())
            .to_ascii_lowercase();
        let name = part.attachment_name().map(|n| n.to_string());
        if let Some(name) = &name {
            collector.scan_text(name, UrlSource::AttachmentName);
            // `invoice-evil[.]example.html`: the extension hides the domain's end.
            if let Some((stem, _)) = name.rsplit_once('.') {
                collector.scan_text(stem, UrlSource::AttachmentName);
            }
        }
        list.push(Attachment {
            name,
            content_type,
            size: content.len(),
            sha256: hex::encode(Sha256::digest(content)),
        });
    }
    list
}

/// Domains written in the From display name (`"support@bank.example" <x@evil.example>`).
fn display_name_domains(from: Option<&Address>, limits: &Limits) -> Vec<String> {
    let Some(name) = from.and_then(|f| f.name.as_deref()) else {
        return Vec::new();
    };
    let mut collector = Collector::new(limits);
    collector.scan_text(name, UrlSource::Text);
    let mut domains: Vec<String> = collector
        .urls
        .iter()
        .filter_map(|u| u.host.clone())
        .collect();
    domains.extend(
        collector
            .addresses
            .iter()
            .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_string())),
    );
    domains.extend(collector.bare_domains);
    domains
}

/// Lists every domain with the role it plays, senders first.
fn domain_roles(
    from: Option<&Address>,
    reply_to: &[Address],
    return_path: Option<&str>,
    collector: &Collector<'_>,
    header_addresses: usize,
    display_name_domains: &[String],
) -> Vec<(String, Role)> {
    let mut roles = Vec::new();
    if let Some(domain) = from.and_then(|f| f.domain.clone()) {
        roles.push((domain, Role::From));
    }
    for domain in reply_to.iter().filter_map(|a| a.domain.clone()) {
        roles.push((domain, Role::ReplyTo));
    }
    if let Some(domain) = return_path
        .and_then(|a| a.rsplit_once('@'))
        .and_then(|(_, d)| urls::ascii_host(d))
    {
        roles.push((domain, Role::ReturnPath));
    }
    for domain in display_name_domains {
        roles.push((domain.clone(), Role::DisplayName));
    }
    for url in &collector.urls {
        if let Some(host) = &url.host
            && host.parse::<std::net::IpAddr>().is_err()
        {
            roles.push((host.clone(), Role::Url));
        }
    }
    for address in collector.addresses.iter().skip(header_addresses) {
        if let Some((_, domain)) = address.rsplit_once('@') {
            roles.push((domain.to_string(), Role::BodyAddress));
        }
    }
    for domain in &collector.bare_domains {
        roles.push((domain.clone(), Role::BodyDomain));
    }
    roles
}

/// Words of the recipients' names and addresses (To, Cc), which the digest leaves out.
fn recipient_words(message: &Message<'_>) -> HashSet<String> {
    let mut words = HashSet::new();
    let lists = message.to().into_iter().chain(message.cc());
    for list in lists {
        for addr in list.iter() {
            let texts = addr
                .name
                .as_deref()
                .into_iter()
                .chain(addr.address.as_deref().and_then(|a| a.split('@').next()));
            for text in texts {
                for word in text.split(|c: char| !c.is_alphanumeric()) {
                    if word.chars().count() >= 2 {
                        words.insert(word.to_lowercase());
                    }
                }
            }
        }
    }
    words
}

fn note_limits(collector: &Collector<'_>, problems: &mut Vec<String>) {
    if collector.dropped_urls > 0 {
        problems.push(format!(
            "{} more URLs were not listed (limit reached)",
            collector.dropped_urls
        ));
    }
    if collector.dropped_addresses > 0 {
        problems.push(format!(
            "{} more addresses were not listed (limit reached)",
            collector.dropped_addresses
        ));
    }
    if collector.text_cut {
        problems
            .push("the text is longer than the scan limit; the rest was not scanned".to_string());
    }
}

/// Notes a multipart mail whose closing boundary is missing: it was probably cut.
fn note_truncation(message: &Message<'_>, problems: &mut Vec<String>) {
    let Some(content_type) = message.root_part().content_type() else {
        return;
    };
    if !content_type.ctype().eq_ignore_ascii_case("multipart") {
        return;
    }
    let Some(boundary) = content_type.attribute("boundary") else {
        problems.push("multipart mail without a boundary parameter".to_string());
        return;
    };
    let closing = format!("--{boundary}--");
    if memchr::memmem::find(message.raw_message.as_ref(), closing.as_bytes()).is_none() {
        problems
            .push("the closing MIME boundary is missing: the mail may be truncated".to_string());
    }
}
