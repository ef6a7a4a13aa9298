//! Abuse reports of a case's scam mails for spam-reporting services: ARF (RFC 5965) and
//! X-ARF (version 0.2, `fraud` schema).
//!
//! A report is built for each confirmed finding of the case whose evidence holds the
//! reported mail: its full text (`mail.raw`), or at least its headers (`mail.headers`). The
//! MIME structure is written here rather than with lettre, whose multipart kinds do not
//! include `multipart/report`. The original mail is copied as it was received, never
//! re-encoded, so that the receiving service sees the same bytes.

use std::fmt::Write;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use super::{CaseError, any_case, finding_domains};
use crate::model::IndicatorKind;
use crate::store::{Store, StoredFinding};

/// Output formats of `vigie report spam`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 5965 Abuse Reporting Format: `multipart/report; report-type=feedback-report`.
    Arf,
    /// X-ARF 0.2: `multipart/mixed` with an `X-ARF: YES` header and a YAML report part.
    Xarf,
}

/// One report, ready to send or save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamReport {
    pub finding_id: i64,
    /// Suggested file name: `finding-ID.arf.eml` or `finding-ID.xarf.eml`.
    pub file_name: String,
    pub message: String,
}

/// The reported mail held in a finding's evidence.
struct ReportedMail<'a> {
    text: &'a str,
    /// False when only the headers were kept.
    complete: bool,
    source_ip: Option<&'a str>,
}

fn reported_mail(finding: &StoredFinding) -> Option<ReportedMail<'_>> {
    let evidence = &finding.evidence;
    let raw = evidence["mail"]["raw"]
        .as_str()
        .or_else(|| evidence["raw_message"].as_str());
    let headers = evidence["mail"]["headers"]
        .as_str()
        .or_else(|| evidence["headers"].as_str());
    let source_ip = evidence["mail"]["source_ip"]
        .as_str()
        .or_else(|| evidence["source_ip"].as_str());
    match (raw, headers) {
        (Some(text), _) if !text.trim().is_empty() => Some(ReportedMail {
            text,
            complete: true,
            source_ip,
        }),
        (_, Some(text)) if !text.trim().is_empty() => Some(ReportedMail {
            text,
            complete: false,
            source_ip,
        }),
        _ => None,
    }
}

/// Sender, recipient and organization written in the reports.
pub struct Reporter<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub organization: &'a str,
}

/// Builds one report per confirmed finding of the case that has a reported mail.
pub fn build(
    store: &Store,
    case_id: i64,
    format: Format,
    reporter: &Reporter<'_>,
    now: OffsetDateTime,
) -> Result<Vec<SpamReport>, CaseError> {
    any_case(store, case_id)?;
    let findings = store.case_findings(case_id)?;
    let mut reports = Vec::new();
    for finding in findings.iter().filter(|f| f.status == "confirmed") {
        let Some(mail) = reported_mail(finding) else {
            continue;
        };
        let message = match format {
            Format::Arf => arf(finding, &mail, reporter, now),
            Format::Xarf => xarf(finding, &mail, reporter, now),
        };
        let suffix = match format {
            Format::Arf => "arf",
            Format::Xarf => "xarf",
        };
        reports.push(SpamReport {
            finding_id: finding.id,
            file_name: format!("finding-{}.{suffix}.eml", finding.id),
            message,
        });
    }
    if reports.is_empty() {
        return Err(CaseError::Invalid(format!(
            "case {case_id} has no confirmed finding with a reported mail in its evidence; spam reports are built from mails that the inbox or intake sources recorded"
        )));
    }
    Ok(reports)
}

fn date(at: OffsetDateTime) -> String {
    at.format(&Rfc2822).unwrap_or_default()
}

/// A MIME boundary that cannot occur in the parts: random, and checked against them.
fn boundary(parts: &[&str]) -> String {
    loop {
        let candidate = format!("vigie-report-{:016x}", rand::random::<u64>());
        if parts.iter().all(|part| !part.contains(&candidate)) {
            return candidate;
        }
    }
}

/// The original mail with CRLF line ends, ending with a line break.
fn crlf(text: &str) -> String {
    let mut out = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// Header lines shared by both formats.
fn envelope(out: &mut String, reporter: &Reporter<'_>, subject: &str, now: OffsetDateTime) {
    let domain = reporter.from.rsplit('@').next().unwrap_or("vigie");
    let _ = write!(
        out,
        "From: {}\r\nTo: {}\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <report-{:016x}@{domain}>\r\nMIME-Version: 1.0\r\n",
        reporter.from,
        reporter.to,
        date(now),
        rand::random::<u64>()
    );
}

fn summary(finding: &StoredFinding, reporter: &Reporter<'_>) -> String {
    let mut text = format!(
        "This is an abuse report from {} about a fraudulent mail that imitates {}.\r\n\
         The mail is part of a phishing campaign confirmed by our security team.\r\n\r\n",
        reporter.organization, finding.imitates
    );
    for reason in &finding.reasons {
        let _ = write!(text, "- {reason}\r\n");
    }
    text
}

fn reported_uris(finding: &StoredFinding) -> Vec<&str> {
    finding
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .map(|i| i.value.as_str())
        .collect()
}

fn arf(
    finding: &StoredFinding,
    mail: &ReportedMail<'_>,
    reporter: &Reporter<'_>,
    now: OffsetDateTime,
) -> String {
    let original = crlf(mail.text);
    let human = summary(finding, reporter);
    let mut feedback = format!(
        "Feedback-Type: fraud\r\nUser-Agent: vigie/{}\r\nVersion: 1\r\nArrival-Date: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        date(finding.first_seen)
    );
    if let Some(ip) = mail.source_ip {
        let _ = write!(feedback, "Source-IP: {ip}\r\n");
    }
    for domain in finding_domains(finding) {
        let _ = write!(feedback, "Reported-Domain: {domain}\r\n");
    }
    for uri in reported_uris(finding) {
        let _ = write!(feedback, "Reported-Uri: {uri}\r\n");
    }
    let original_type = if mail.complete {
        "message/rfc822"
    } else {
        "text/rfc822-headers"
    };
    let boundary = boundary(&[&original, &human, &feedback]);

    let mut out = String::new();
    envelope(
        &mut out,
        reporter,
        &format!("Abuse report: fraud imitating {}", finding.imitates),
        now,
    );
    let _ = write!(
        out,
        "Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"{boundary}\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{human}\r\n\
         --{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n{feedback}\r\n\
         --{boundary}\r\nContent-Type: {original_type}\r\nContent-Disposition: inline\r\n\r\n{original}\r\n\
         --{boundary}--\r\n"
    );
    out
}

fn xarf(
    finding: &StoredFinding,
    mail: &ReportedMail<'_>,
    reporter: &Reporter<'_>,
    now: OffsetDateTime,
) -> String {
    let original = crlf(mail.text);
    let human = summary(finding, reporter);
    let (source_type, source) = match mail.source_ip {
        Some(ip) => ("ip-address", ip.to_owned()),
        None => (
            "uri",
            reported_uris(finding)
                .first()
                .map(|uri| (*uri).to_owned())
                .unwrap_or_else(|| finding.subject.clone()),
        ),
    };
    let mut report = format!(
        "Reported-From: {}\r\nCategory: fraud\r\nReport-Type: phishing\r\nService: smtp\r\n\
         Version: 0.2\r\nUser-Agent: vigie {}\r\nDate: {}\r\nSource-Type: {source_type}\r\n\
         Source: {source}\r\nReport-ID: vigie-finding-{}\r\n\
         Schema-URL: http://www.x-arf.org/schema/fraud_0.1.4.json\r\nAttachment: {}\r\n",
        reporter.from,
        env!("CARGO_PKG_VERSION"),
        date(finding.first_seen),
        finding.id,
        if mail.complete {
            "message/rfc822"
        } else {
            "text/plain"
        }
    );
    for domain in finding_domains(finding) {
        let _ = write!(report, "Domain: {domain}\r\n");
    }
    let original_type = if mail.complete {
        "message/rfc822"
    } else {
        "text/plain; charset=utf-8"
    };
    let boundary = boundary(&[&original, &human, &report]);

    let mut out = String::new();
    envelope(
        &mut out,
        reporter,
        &format!("abuse report about {source} - {}", date(now)),
        now,
    );
    let _ = write!(
        out,
        "X-ARF: YES\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{human}\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8; name=\"report.txt\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{report}\r\n\
         --{boundary}\r\nContent-Type: {original_type}\r\nContent-Disposition: attachment; filename=\"evidence.eml\"\r\n\r\n{original}\r\n\
         --{boundary}--\r\n"
    );
    out
}
