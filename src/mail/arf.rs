//! Abuse reports in the Abuse Reporting Format (ARF, RFC 5965): a `multipart/report` with
//! `report-type=feedback-report`, whose parts are a human-readable text, a
//! `message/feedback-report` part of `Name: value` fields, and the reported message as
//! `message/rfc822` (whole) or `text/rfc822-headers` (headers only).
//!
//! [`unwrap`] returns the report's fields and the reported message's bytes, which the caller
//! analyses in place of the report itself.

use std::net::IpAddr;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

/// Largest number of report fields kept.
const MAX_FIELDS: usize = 100;

/// Longest field value kept, in characters.
const MAX_FIELD_CHARS: usize = 2048;

/// The feedback-report part of an ARF report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArfInfo {
    /// `Feedback-Type`: `abuse`, `fraud`, `virus`, `auth-failure`, `not-spam`, `other`, ...
    pub feedback_type: Option<String>,
    /// `User-Agent` of the software that wrote the report.
    pub user_agent: Option<String>,
    /// `Version` of the format (1).
    pub version: Option<String>,
    /// Address in the report's From header: who reports.
    pub reporter: Option<String>,
    /// `Source-IP`: the address the reporter's server received the message from.
    pub source_ip: Option<IpAddr>,
    /// `Reported-Domain` values.
    pub reported_domains: Vec<String>,
    /// `Reported-URI` values.
    pub reported_uris: Vec<String>,
    /// `Original-Mail-From`.
    pub original_mail_from: Option<String>,
    /// `Original-Rcpt-To` values.
    pub original_rcpt_to: Vec<String>,
    /// `Arrival-Date` as written.
    pub arrival_date: Option<String>,
    /// Every field in order, name as written.
    pub fields: Vec<(String, String)>,
    /// Form of the reported message: `message/rfc822`, `text/rfc822-headers`, or `None`
    /// when the report carries none.
    pub reported_message: Option<String>,
}

/// Tells whether `message` is an ARF report.
pub fn is_report(message: &Message<'_>) -> bool {
    let root = message.root_part();
    let report_type = root.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("feedback-report"))
    });
    report_type || message.parts.iter().any(is_feedback_part)
}

fn is_feedback_part(part: &MessagePart<'_>) -> bool {
    part.is_content_type("message", "feedback-report")
}

/// Reads the report fields and returns them with the reported message's bytes, if any.
pub fn unwrap<'m>(message: &'m Message<'_>) -> (ArfInfo, Option<&'m [u8]>) {
    let mut info = message
        .parts
        .iter()
        .find(|part| is_feedback_part(part))
        .map(|part| parse_fields(part.contents()))
        .unwrap_or_default();
    info.reporter = message.from().and_then(|from| {
        from.first()
            .and_then(|addr| addr.address.as_deref())
            .map(str::to_lowercase)
    });

    let mut reported = None;
    for part in &message.parts {
        match &part.body {
            PartType::Message(inner) => {
                info.reported_message = Some("message/rfc822".to_string());
                // The method, not the field: an unencoded nested message shares the report's
                // raw bytes, and its root part's offsets pick its own span out of them.
                reported = Some(inner.raw_message());
                break;
            }
            PartType::Text(text) | PartType::Html(text)
                if part.is_content_type("text", "rfc822-headers") =>
            {
                info.reported_message = Some("text/rfc822-headers".to_string());
                reported = Some(text.as_bytes());
                break;
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes)
                if part.is_content_type("message", "rfc822")
                    || part.is_content_type("text", "rfc822-headers")
                    || part.is_content_type("message", "rfc822-headers") =>
            {
                info.reported_message = Some("message/rfc822".to_string());
                reported = Some(bytes.as_ref());
                break;
            }
            _ => {}
        }
    }
    (info, reported)
}

/// Parses `Name: value` lines with folded continuation lines.
fn parse_fields(body: &[u8]) -> ArfInfo {
    let text = String::from_utf8_lossy(body);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
                truncate(value);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if fields.len() >= MAX_FIELDS {
            break;
        }
        let mut value = value.trim().to_string();
        truncate(&mut value);
        fields.push((name.trim().to_string(), value));
    }

    let mut info = ArfInfo::default();
    for (name, value) in &fields {
        let value = value.clone();
        match name.to_ascii_lowercase().as_str() {
            "feedback-type" => info.feedback_type = Some(value.to_ascii_lowercase()),
            "user-agent" => info.user_agent = Some(value),
            "version" => info.version = Some(value),
            "source-ip" => {
                // Reporters may add the host name after the address: `192.0.2.1 (mx.example)`.
                let first = value.split_whitespace().next().unwrap_or_default();
                info.source_ip = first.trim_matches(['[', ']']).parse().ok();
            }
            "reported-domain" => info.reported_domains.push(value.to_ascii_lowercase()),
            "reported-uri" => info.reported_uris.push(value),
            "original-mail-from" => info.original_mail_from = Some(strip_angles(&value)),
            "original-rcpt-to" => info.original_rcpt_to.push(strip_angles(&value)),
            "arrival-date" | "received-date" => info.arrival_date = Some(value),
            _ => {}
        }
    }
    info.fields = fields;
    info
}

fn strip_angles(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn truncate(value: &mut String) {
    if let Some((at, _)) = value.char_indices().nth(MAX_FIELD_CHARS) {
        value.truncate(at);
    }
}
