//! `vigie findings`: lists the findings in the store, as a table or as JSON lines.

use std::io::{self, Write};

use anyhow::Context;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;
use crate::model::defang;
use crate::store::{OutboxAlert, Store, StoredFinding};

/// Output format of `vigie findings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table, one finding a line, subjects defanged.
    Text,
    /// One JSON object a line, with every stored field.
    Json,
}

/// Arguments of `vigie findings`.
#[derive(Debug, Clone, clap::Args)]
pub struct FindingsArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Prints every stored finding, most recently seen first.
pub fn run(args: &FindingsArgs, config: &Config) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match write_findings(args, config, &mut out) {
        Err(error) if is_broken_pipe(&error) => Ok(()),
        other => other,
    }
}

/// Writes every stored finding to `out` in the requested format.
pub fn write_findings(
    args: &FindingsArgs,
    config: &Config,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let path = config.daemon.state_dir.join("vigie.db");
    if !path.exists() {
        anyhow::bail!(
            "no store at {}: run the daemon first, or set daemon.state_dir in {} to the folder holding vigie.db",
            path.display(),
            config.path.display()
        );
    }
    let store = Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let findings = store.findings()?;
    let alerts = findings
        .iter()
        .map(|finding| store.outbox_for_finding(finding.id))
        .collect::<Result<Vec<_>, _>>()?;

    match args.format {
        Format::Text => write_table(out, &findings, &alerts)?,
        Format::Json => write_json_lines(out, &findings, &alerts)?,
    }
    out.flush()?;
    Ok(())
}

/// Tells a closed pipe (`vigie findings | head`) apart: it is the reader's choice, not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes the findings as an aligned table with a header line. `alerts[i]` holds the outbox
/// rows of `findings[i]`.
pub fn write_table(
    out: &mut impl Write,
    findings: &[StoredFinding],
    alerts: &[Vec<OutboxAlert>],
) -> io::Result<()> {
    let header = [
        "ID",
        "SEVERITY",
        "SUBJECT",
        "IMITATES",
        "TECHNIQUES",
        "FIRST SEEN",
        "LAST SEEN",
        "REV",
        "ALERTS",
    ];
    let rows: Vec<[String; 9]> = findings
        .iter()
        .zip(alerts.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(finding, alerts)| {
            [
                finding.id.to_string(),
                finding.severity.as_str().to_owned(),
                defang(&finding.subject),
                finding.imitates.clone(),
                finding.techniques.join(","),
                timestamp(finding.first_seen),
                timestamp(finding.last_seen),
                finding.revision.to_string(),
                alert_state(alerts.map_or(&[][..], Vec::as_slice)),
            ]
        })
        .collect();

    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    write_row(out, &header.map(str::to_owned), &widths)?;
    for row in &rows {
        write_row(out, row, &widths)?;
    }
    Ok(())
}

fn write_row(out: &mut impl Write, cells: &[String; 9], widths: &[usize; 9]) -> io::Result<()> {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        line.push_str(&format!("{cell:<width$}  "));
    }
    writeln!(out, "{}", line.trim_end())
}

/// Sums up a finding's outbox rows: `-` when none was raised, else how many of them were
/// delivered, and how many are being retried after a failure.
pub fn alert_state(alerts: &[OutboxAlert]) -> String {
    if alerts.is_empty() {
        return "-".to_owned();
    }
    let delivered = alerts.iter().filter(|a| a.delivered_at.is_some()).count();
    let failing = alerts
        .iter()
        .filter(|a| a.delivered_at.is_none() && a.attempts > 0)
        .count();
    let mut state = format!("{delivered}/{} sent", alerts.len());
    if failing > 0 {
        state.push_str(&format!(", {failing} retrying"));
    }
    state
}

/// Writes one JSON object a line, each with its outbox rows under `alerts`.
pub fn write_json_lines(
    out: &mut impl Write,
    findings: &[StoredFinding],
    alerts: &[Vec<OutboxAlert>],
) -> io::Result<()> {
    for (index, finding) in findings.iter().enumerate() {
        let mut json = to_json(finding);
        let rows = alerts.get(index).map_or(&[][..], Vec::as_slice);
        json["alerts"] = rows.iter().map(alert_json).collect();
        writeln!(out, "{json}")?;
    }
    Ok(())
}

/// JSON form of one outbox row, without its payload.
pub fn alert_json(alert: &OutboxAlert) -> serde_json::Value {
    serde_json::json!({
        "sink": alert.sink,
        "created_at": timestamp(alert.created_at),
        "delivered_at": alert.delivered_at.map(timestamp),
        "attempts": alert.attempts,
        "next_attempt_at": alert.delivered_at.is_none().then(|| timestamp(alert.next_attempt_at)),
        "last_error": alert.last_error,
    })
}

/// Builds the JSON form of a stored finding (raw subject and a defanged copy, times in RFC 3339).
pub fn to_json(finding: &StoredFinding) -> serde_json::Value {
    serde_json::json!({
        "id": finding.id,
        "fingerprint": finding.fingerprint,
        "kind": finding.kind,
        "source": finding.source,
        "watchlist": finding.watchlist,
        "subject": finding.subject,
        "subject_defanged": defang(&finding.subject),
        "imitates": finding.imitates,
        "techniques": finding.techniques,
        "reasons": finding.reasons,
        "severity": finding.severity,
        "score": finding.score,
        "indicators": finding.indicators,
        "facts": finding.facts,
        "evidence": finding.evidence,
        "first_seen": timestamp(finding.first_seen),
        "last_seen": timestamp(finding.last_seen),
        "revision": finding.revision,
        "sightings": finding.sightings,
        "status": finding.status,
    })
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
