//! `vigie case open|add|list|show|note|cost|close|reopen`: cases and their timeline.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::case::timeline::{item_states, timeline};
use crate::case::triage::{self, NoteKind, Opening};
use crate::case::{self, Actor, SystemClock, rfc3339};
use crate::config::Config;
use crate::model::defang;
use crate::store::Store;

/// `--author`, shared by every command that writes an event.
#[derive(Debug, Clone, Args)]
pub struct AuthorArgs {
    /// Who acts, recorded on the timeline. Default: $VIGIE_AUTHOR, else the login name.
    #[arg(long, global = true)]
    pub author: Option<String>,
}

/// `--config` for the command groups, accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct GroupConfigArgs {
    /// Path of vigie.toml.
    #[arg(long, short = 'c', value_name = "FILE", env = "VIGIE_CONFIG", default_value = super::DEFAULT_CONFIG, global = true)]
    pub config: std::path::PathBuf,
}

/// Output format of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CaseArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,
    #[command(subcommand)]
    pub command: CaseCommand,
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case, optionally with its first findings; prints the case id.
    Open {
        /// Short name of the campaign.
        #[arg(long)]
        title: String,
        /// What the scam looks like, for the warning page and the report.
        #[arg(long, default_value = "")]
        summary: String,
        /// How it reached people first: "phishing mail", "SMS", "search ad", ...
        #[arg(long, default_value = "")]
        vector: String,
        /// When the campaign began, if known (date or RFC 3339 time).
        #[arg(long)]
        started: Option<String>,
        /// Findings (ids or fingerprints) to put in the case.
        #[arg(long = "finding")]
        findings: Vec<String>,
    },
    /// Add findings to a case.
    Add {
        case: i64,
        #[arg(required = true)]
        findings: Vec<String>,
    },
    /// List the open cases (all with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Show a case: its findings, what is still up, its takedowns and its timeline.
    Show {
        case: i64,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Add a note to the timeline; --went-well and --went-wrong feed the report.
    Note {
        case: i64,
        text: String,
        #[arg(long, conflicts_with = "went_wrong")]
        went_well: bool,
        #[arg(long)]
        went_wrong: bool,
    },
    /// Record a cost of the incident, for the report.
    Cost {
        case: i64,
        /// Amount, such as 1200.50.
        amount: f64,
        /// ISO 4217 code, such as EUR.
        currency: String,
        /// What it paid for.
        label: String,
    },
    /// Close a case.
    Close {
        case: i64,
        /// How it ended, for the timeline.
        #[arg(long, default_value = "")]
        resolution: String,
    },
    /// Reopen a closed case.
    Reopen { case: i64 },
}

/// Opens the store named by the configuration, creating it when missing.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let path = crate::daemon::store_path(config);
    Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))
}

pub fn run(args: &CaseArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    let mut out = std::io::stdout().lock();
    match &args.command {
        CaseCommand::Open {
            title,
            summary,
            vector,
            started,
            findings,
        } => {
            let opening = Opening {
                title: title.clone(),
                summary: summary.clone(),
                vector: vector.clone(),
                started_at: started.as_deref().map(case::parse_time).transpose()?,
            };
            let id = triage::open(&store, &actor, &opening, findings)?;
            writeln!(out, "{id}")?;
        }
        CaseCommand::Add { case, findings } => {
            let added = triage::add(&store, &actor, *case, findings)?;
            writeln!(out, "added {} finding(s) to case {case}", added.len())?;
        }
        CaseCommand::List { all, format } => write_list(&store, *all, *format, &mut out)?,
        CaseCommand::Show { case, format } => write_show(&store, *case, *format, &mut out)?,
        CaseCommand::Note {
            case,
            text,
            went_well,
            went_wrong,
        } => {
            let kind = match (went_well, went_wrong) {
                (true, _) => NoteKind::WentWell,
                (_, true) => NoteKind::WentWrong,
                _ => NoteKind::Note,
            };
            triage::note(&store, &actor, *case, kind, text)?;
        }
        CaseCommand::Cost {
            case,
            amount,
            currency,
            label,
        } => {
            triage::cost(&store, &actor, *case, *amount, currency, label)?;
        }
        CaseCommand::Close { case, resolution } => {
            triage::close(&store, &actor, *case, resolution, false)?;
        }
        CaseCommand::Reopen { case } => triage::close(&store, &actor, *case, "", true)?,
    }
    Ok(())
}

fn write_list(
    store: &Store,
    all: bool,
    format: ListFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let cases = store.cases(all)?;
    if format == ListFormat::Json {
        for case in &cases {
            let findings = store.case_findings(case.id)?.len();
            let mut value = serde_json::to_value(case)?;
            value["findings"] = findings.into();
            writeln!(out, "{value}")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<5} {:<7} {:<20} {:>8}  TITLE",
        "ID", "STATUS", "OPENED", "FINDINGS"
    )?;
    for case in &cases {
        let findings = store.case_findings(case.id)?.len();
        writeln!(
            out,
            "{:<5} {:<7} {:<20} {:>8}  {}",
            case.id,
            case.status,
            rfc3339(case.opened_at),
            findings,
            case.title
        )?;
    }
    Ok(())
}

fn write_show(
    store: &Store,
    case_id: i64,
    format: ListFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let case = case::any_case(store, case_id)?;
    let findings = store.case_findings(case_id)?;
    let states = item_states(store, case_id)?;
    let takedowns = store.takedowns(Some(case_id))?;
    let entries = timeline(store, case_id)?;
    if format == ListFormat::Json {
        let value = serde_json::json!({
            "case": case,
            "findings": findings.iter().map(|f| serde_json::json!({
                "id": f.id, "subject": f.subject, "imitates": f.imitates,
                "severity": f.severity, "status": f.status,
            })).collect::<Vec<_>>(),
            "items": states,
            "takedowns": takedowns,
            "timeline": entries,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }

    writeln!(out, "Case {}: {} ({})", case.id, case.title, case.status)?;
    if !case.summary.is_empty() {
        writeln!(out, "Summary: {}", case.summary)?;
    }
    if !case.vector.is_empty() {
        writeln!(out, "Initial vector: {}", case.vector)?;
    }
    writeln!(out, "Opened: {}", rfc3339(case.opened_at))?;
    if let Some(closed) = case.closed_at {
        writeln!(out, "Closed: {}", rfc3339(closed))?;
    }
    writeln!(out, "\nFindings:")?;
    for finding in &findings {
        writeln!(
            out,
            "  {:<5} {:<14} {:<8} {} imitating {}",
            finding.id,
            finding.status,
            finding.severity,
            defang(&finding.subject),
            finding.imitates
        )?;
    }
    let up: Vec<_> = states.iter().filter(|item| item.is_up()).collect();
    writeln!(out, "\nStill up ({} of {}):", up.len(), states.len())?;
    for item in &states {
        let mark = if item.is_up() { "UP  " } else { "down" };
        writeln!(
            out,
            "  {mark} {} [{}] {}",
            defang(&item.subject),
            item.state,
            item.detail
        )?;
    }
    if !takedowns.is_empty() {
        writeln!(out, "\nTakedowns:")?;
        for takedown in &takedowns {
            writeln!(
                out,
                "  {:<4} {:<9} {} -> {} ({}, {}), sent {}, {} follow-up(s)",
                takedown.id,
                takedown.status,
                defang(&takedown.target),
                takedown.recipient,
                takedown.role,
                takedown.language,
                rfc3339(takedown.sent_at),
                takedown.followups
            )?;
        }
    }
    writeln!(out, "\nTimeline:")?;
    for entry in &entries {
        writeln!(
            out,
            "  {}  {:<10} {:<20} {}",
            rfc3339(entry.at),
            entry.author,
            entry.kind,
            entry.text
        )?;
    }
    Ok(())
}
