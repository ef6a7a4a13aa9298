//! `vigie mail inspect`: analyses mail files (one mail, an mbox, or a folder of them) and
//! prints what [`crate::mail::analyze`] finds in each mail, as text or as one JSON object a
//! line. A mail that cannot be analysed is reported with its reason and never stops the
//! others.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};

use crate::config::Config;
use crate::detect::Matcher;
use crate::mail::{MailError, MailReport, MailSettings, analyze};
use crate::model::defang;

use super::match_cmd::build_matcher;

/// Largest mbox file read, in bytes; its mails are then split and each one is held to the
/// mail size limit.
const MAX_MBOX_BYTES: u64 = 1 << 30;

/// Deepest folder nesting followed.
const MAX_DEPTH: usize = 16;

/// `vigie mail` subcommands.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Analyse mail files: sender IP, URLs, domains, addresses, authentication results,
    /// attachments and findings.
    Inspect(InspectArgs),
}

/// Arguments of `vigie mail inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// Path of vigie.toml: its watchlists are matched and its [mail] section gives the own
    /// mail servers and the free-mail list.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Legitimate domain of an ad-hoc watchlist (repeatable), used on top of `--config`.
    #[arg(long = "domain", value_name = "LEGIT")]
    pub domains: Vec<String>,

    /// Output format: `text` for people, `json` for one JSON object a mail and a line.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Mail files (`.eml`), mbox files, folders (read recursively in name order), or `-` for
    /// standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Counts of one `mail inspect` run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InspectSummary {
    /// Mails read (an mbox counts each of its mails).
    pub mails: u64,
    /// Mails analysed.
    pub analysed: u64,
    /// Mails or files that could not be read or analysed.
    pub rejected: u64,
    pub with_origin: u64,
    pub with_urls: u64,
    pub with_findings: u64,
}

/// Runs `vigie mail inspect`. Exit code 0 when every mail was analysed, 1 when at least one
/// could not be.
pub fn run(command: &MailCommand, config: Option<&Config>) -> anyhow::Result<ExitCode> {
    let MailCommand::Inspect(args) = command;
    let matcher = if config.is_some() || !args.domains.is_empty() {
        build_matcher(&args.domains, config)?
    } else {
        eprintln!(
            "vigie mail inspect: no watchlist given, so no findings; use --config FILE or --domain LEGIT"
        );
        Matcher::compile(&[]).context("cannot build an empty matcher")?
    };
    let settings = config.map(MailSettings::from_config).unwrap_or_default();

    let stdout = io::stdout().lock();
    let stderr = io::stderr().lock();
    let summary = match inspect(
        &args.files,
        args.format,
        &matcher,
        &settings,
        stdout,
        stderr,
    ) {
        Ok(summary) => summary,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("failed to write the output"),
    };
    eprintln!(
        "vigie mail inspect: {} mail(s), {} analysed, {} rejected; {} with an origin IP, {} with URLs, {} with findings",
        summary.mails,
        summary.analysed,
        summary.rejected,
        summary.with_origin,
        summary.with_urls,
        summary.with_findings
    );
    Ok(if summary.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Analyses every mail of `paths`; reports go to `out`, errors to `err` as
/// `LABEL: error: REASON` (and in JSON mode also to `out` as `{"file", "error"}`).
pub fn inspect(
    paths: &[PathBuf],
    format: Format,
    matcher: &Matcher,
    settings: &MailSettings,
    mut out: impl Write,
    mut err: impl Write,
) -> io::Result<InspectSummary> {
    let mut summary = InspectSummary::default();
    let mut files = Vec::new();
    for path in paths {
        if let Err(error) = list_files(path, 0, &mut files) {
            summary.mails += 1;
            summary.rejected += 1;
            report_error(
                &mut out,
                &mut err,
                format,
                &path.display().to_string(),
                "unreadable",
                &error,
            )?;
        }
    }
    for path in files {
        let label = path.display().to_string();
        let mails = match read_mails(&path, settings) {
            Ok(mails) => mails,
            Err(error) => {
                summary.mails += 1;
                summary.rejected += 1;
                report_error(
                    &mut out,
                    &mut err,
                    format,
                    &label,
                    error.kind(),
                    &error.to_string(),
                )?;
                continue;
            }
        };
        let numbered = mails.len() > 1;
        for (index, mail) in mails.into_iter().enumerate() {
            summary.mails += 1;
            let label = if numbered {
                format!("{label}#{}", index + 1)
            } else {
                label.clone()
            };
            let result = mail.and_then(|raw| analyze(&raw, matcher, settings));
            match result {
                Ok(report) => {
                    summary.analysed += 1;
                    summary.with_origin += u64::from(report.origin_ip.is_some());
                    summary.with_urls += u64::from(!report.urls.is_empty());
                    summary.with_findings += u64::from(!report.findings.is_empty());
                    for problem in &report.problems {
                        writeln!(err, "{label}: warning: {problem}")?;
                    }
                    write_report(&mut out, format, &label, &report)?;
                }
                Err(error) => {
                    summary.rejected += 1;
                    report_error(
                        &mut out,
                        &mut err,
                        format,
                        &label,
                        error.kind(),
                        &error.to_string(),
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(summary)
}

fn report_error(
    out: &mut impl Write,
    err: &mut impl Write,
    format: Format,
    label: &str,
    kind: &str,
    error: &dyn std::fmt::Display,
) -> io::Result<()> {
    writeln!(err, "{label}: error: {error}")?;
    if format == Format::Json {
        let object =
            serde_json::json!({ "file": label, "error": error.to_string(), "error_kind": kind });
        serde_json::to_writer(&mut *out, &object)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Expands folders into their files, in name order.
fn list_files(path: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.as_os_str() == "-" {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let metadata = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}; check the path", path.display()))?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(format!(
            "{} is nested more than {MAX_DEPTH} folders deep; give a deeper folder directly",
            path.display()
        ));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot list {}: {e}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        list_files(&entry, depth + 1, files)?;
    }
    Ok(())
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("cannot read the file: {0}; check the path and its permissions")]
    Io(#[from] io::Error),
    #[error("file of {size} bytes is over the limit of {max} bytes for an mbox; split it first")]
    MboxTooLarge { size: u64, max: u64 },
}

impl ReadError {
    fn kind(&self) -> &'static str {
        match self {
            ReadError::Io(_) => "unreadable",
            ReadError::MboxTooLarge { .. } => "too-large",
        }
    }
}

/// Reads the mails of one file: one mail, or each mail of an mbox. A mail over the size
/// limit is returned as an error without being read whole.
fn read_mails(
    path: &Path,
    settings: &MailSettings,
) -> Result<Vec<Result<Vec<u8>, MailError>>, ReadError> {
    let max = settings.limits.max_bytes as u64;
    let mut reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    let mut head = Vec::new();
    (&mut reader).take(5).read_to_end(&mut head)?;
    if head.starts_with(b"From ") {
        let mut data = head;
        (&mut reader)
            .take(MAX_MBOX_BYTES + 1 - data.len() as u64)
            .read_to_end(&mut data)?;
        if data.len() as u64 > MAX_MBOX_BYTES {
            return Err(ReadError::MboxTooLarge {
                size: data.len() as u64,
                max: MAX_MBOX_BYTES,
            });
        }
        return Ok(split_mbox(&data)
            .into_iter()
            .map(|mail| {
                if mail.len() as u64 > max {
                    Err(MailError::TooLarge {
                        size: mail.len(),
                        max: settings.limits.max_bytes,
                    })
                } else {
                    Ok(mail)
                }
            })
            .collect());
    }
    let mut data = head;
    (&mut reader)
        .take(max + 1 - data.len() as u64)
        .read_to_end(&mut data)?;
    if data.len() as u64 > max {
        let size = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(data.len());
        return Ok(vec![Err(MailError::TooLarge {
            size,
            max: settings.limits.max_bytes,
        })]);
    }
    Ok(vec![Ok(data)])
}

/// Splits an mbox at its `From ` lines (at the start or after an empty line) and undoes the
/// `>From ` quoting of body lines.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut mails = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut previous_blank = true;
    let mut started = false;
    for line in data.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.starts_with(b"From ") && previous_blank {
            if started {
                mails.push(std::mem::take(&mut current));
            }
            started = true;
            // The envelope line stays: analysis skips it, and it dates the mail for a reader.
            current.extend_from_slice(line);
            previous_blank = false;
            continue;
        }
        let quoted = content
            .iter()
            .position(|b| *b != b'>')
            .is_some_and(|at| at > 0 && content[at..].starts_with(b"From "));
        if quoted {
            current.extend_from_slice(&line[1..]);
        } else {
            current.extend_from_slice(line);
        }
        previous_blank = content.is_empty();
    }
    if started || !current.is_empty() {
        mails.push(current);
    }
    mails
}

fn write_report(
    out: &mut impl Write,
    format: Format,
    label: &str,
    report: &MailReport,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "file".to_string(),
                    serde_json::Value::String(label.to_string()),
                );
            }
            serde_json::to_writer(&mut *out, &value)?;
            out.write_all(b"\n")
        }
        Format::Text => write_text(out, label, report),
    }
}

/// Writes the report for a person; URLs, domains and addresses are defanged.
fn write_text(out: &mut impl Write, label: &str, report: &MailReport) -> io::Result<()> {
    writeln!(out, "== {label}")?;
    let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_string());
    writeln!(out, "Message-ID:  {}", show(&report.message_id))?;
    writeln!(out, "Subject:     {}", show(&report.subject))?;
    if let Some(from) = &report.from {
        writeln!(out, "From:        {}", address_text(from))?;
    }
    for reply in &report.reply_to {
        writeln!(out, "Reply-To:    {}", address_text(reply))?;
    }
    if let Some(path) = &report.return_path {
        writeln!(out, "Return-Path: {}", defang(path))?;
    }
    writeln!(out, "Date:        {}", show(&report.date))?;
    if let Some(arf) = &report.arf {
        writeln!(
            out,
            "ARF report:  feedback type {}, reporter {}, source IP {}; the fields below describe the reported message",
            arf.feedback_type.as_deref().unwrap_or("-"),
            arf.reporter
                .as_deref()
                .map(defang)
                .unwrap_or_else(|| "-".into()),
            arf.source_ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "-".into()),
        )?;
    }
    match &report.origin_ip {
        Some(origin) => writeln!(
            out,
            "Origin IP:   {} ({} confidence; {} agreeing, {} broken, {} forged-looking hops): {}",
            origin.ip,
            serde_json::to_value(origin.confidence)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            origin.agreeing_hops,
            origin.broken_hops,
            origin.forged_hops,
            origin.reasons.join("; ")
        )?,
        None => writeln!(out, "Origin IP:   -")?,
    }
    for hop in &report.received {
        let role = serde_json::to_value(hop.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        writeln!(
            out,
            "  hop {:>2} {:<10} from {} [{}] by {} with {} at {}{}",
            hop.index,
            role,
            hop.from_host.as_deref().unwrap_or("-"),
            hop.from_ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "-".into()),
            hop.by_host.as_deref().unwrap_or("-"),
            hop.protocol.as_deref().unwrap_or("-"),
            hop.date.as_deref().unwrap_or("-"),
            if hop.forged.is_empty() {
                String::new()
            } else {
                format!("  (looks forged: {})", hop.forged.join("; "))
            }
        )?;
    }
    let auth = &report.auth;
    let result = |r: &Option<crate::mail::AuthResult>| match r {
        Some(r) => format!(
            "{}{}",
            r.result,
            r.domain
                .as_deref()
                .map(|d| format!(" ({})", defang(d)))
                .unwrap_or_default()
        ),
        None => "-".to_string(),
    };
    let dkim: Vec<String> = auth.dkim.iter().map(|r| result(&Some(r.clone()))).collect();
    writeln!(
        out,
        "Auth:        spf={} dkim={} dmarc={}",
        result(&auth.spf),
        if dkim.is_empty() {
            "-".to_string()
        } else {
            dkim.join(", ")
        },
        result(&auth.dmarc)
    )?;
    writeln!(out, "URLs ({}):", report.urls.len())?;
    for url in &report.urls {
        let mut notes = Vec::new();
        if url.defanged {
            notes.push("written defanged".to_string());
        }
        if let Some(shown) = &url.shown_as {
            notes.push(format!("shown as {:?}", defang(shown)));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        writeln!(out, "  {}{notes}", defang(&url.url))?;
    }
    let domains: Vec<String> = report.domains.iter().map(|d| defang(d)).collect();
    writeln!(out, "Domains:     {}", domains.join(", "))?;
    let addresses: Vec<String> = report.addresses.iter().map(|a| defang(a)).collect();
    writeln!(out, "Addresses:   {}", addresses.join(", "))?;
    for attachment in &report.attachments {
        writeln!(
            out,
            "Attachment:  {} {} {} bytes sha256 {}",
            attachment.name.as_deref().unwrap_or("-"),
            attachment.content_type,
            attachment.size,
            attachment.sha256
        )?;
    }
    for finding in &report.findings {
        writeln!(
            out,
            "Finding:     {} {} {} {} (watchlist {}): {}",
            finding.severity,
            finding.score,
            finding.role,
            defang(&finding.subject),
            finding.watchlist,
            finding.reasons.join("; ")
        )?;
    }
    writeln!(
        out,
        "Body:        digest {} simhash {}",
        report.body_digest, report.body_simhash
    )?;
    writeln!(out)
}

fn address_text(address: &crate::mail::Address) -> String {
    let mail = address
        .address
        .as_deref()
        .map(defang)
        .unwrap_or_else(|| "-".to_string());
    match &address.name {
        Some(name) => format!("\"{name}\" <{mail}>"),
        None => mail,
    }
}

#[cfg(test)]
mod tests {
    use super::split_mbox;

    #[test]
    fn mbox_splits_at_from_lines_after_blank_lines() {
        let data = b"From a@example.com Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom here on\n>From quoted\n\nFrom b@example.com Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody two\n";
        let mails = split_mbox(data);
        assert_eq!(mails.len(), 2);
        let first = String::from_utf8_lossy(&mails[0]);
        assert!(first.contains("From here on\nFrom quoted\n"), "{first}");
        assert!(String::from_utf8_lossy(&mails[1]).contains("Subject: two"));
    }
}
