//! `vigie export blocklist|iocs`: indicators of confirmed findings, for blocking devices and
//! for sharing with CERTs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use super::case::{AuthorArgs, GroupConfigArgs, open_store};
use crate::case::{self, Actor, SystemClock, blocklist, iocs};
use crate::config::Config;
use crate::store::{Store, StoredFinding};

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,
    #[command(subcommand)]
    pub command: ExportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A blocklist of the confirmed findings' domains, addresses and URLs.
    Blocklist {
        #[arg(long, value_enum)]
        format: blocklist::Format,
        /// Only the findings of this case.
        #[arg(long)]
        case: Option<i64>,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Indicators of compromise to share: CSV, a STIX 2.1 bundle or a MISP event.
    Iocs {
        #[arg(long, value_enum)]
        format: iocs::Format,
        #[arg(long)]
        case: Option<i64>,
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

pub fn run(args: &ExportArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    match &args.command {
        ExportCommand::Blocklist {
            format,
            case,
            output,
        } => {
            let (findings, cases) = confirmed(&store, *case)?;
            let list = blocklist::build(config, &findings, &cases);
            for name in &list.skipped_legitimate {
                eprintln!(
                    "vigie: left out {name}: it is a legitimate domain of a watchlist (or under one)"
                );
            }
            let mut entries = list.entries.len();
            if *format == blocklist::Format::Ips {
                let (addresses, internal) = blocklist::firewall_addresses(&list);
                for (address, class) in internal {
                    eprintln!(
                        "vigie: left out {address}: it is a {class} address, and a firewall rule against it would block internal hosts"
                    );
                }
                entries = addresses.len();
            }
            let now = actor.clock.now();
            let text = blocklist::render(&list, *format, blocklist::serial(now), now);
            emit(&text, output.as_deref())?;
            let summary = format!(
                "Blocklist exported as {}: {} entries{}.",
                value_name(format),
                entries,
                output
                    .as_ref()
                    .map(|p| format!(" in {}", p.display()))
                    .unwrap_or_default()
            );
            record(&store, &actor, *case, &cases, "blocklist-exported", summary)?;
        }
        ExportCommand::Iocs {
            format,
            case,
            output,
        } => {
            let (findings, cases) = confirmed(&store, *case)?;
            let list = blocklist::build(config, &findings, &cases);
            let title = match case {
                Some(id) => case::any_case(&store, *id)?.title,
                None => "Confirmed findings".to_owned(),
            };
            let organization = config
                .response
                .organization
                .clone()
                .or_else(|| config.watchlists.first().map(|w| w.brand.clone()))
                .unwrap_or_else(|| "vigie".to_owned());
            let export = iocs::Export {
                title: &title,
                organization: &organization,
                findings: &findings,
                list: &list,
                generated: actor.clock.now(),
            };
            let text = iocs::render(&export, *format);
            emit(&text, output.as_deref())?;
            let summary = format!(
                "Indicators exported as {}: {} from {} findings.",
                value_name(format),
                list.entries.len(),
                findings.len()
            );
            record(&store, &actor, *case, &cases, "iocs-exported", summary)?;
        }
    }
    Ok(())
}

/// The cases of each finding, by finding id.
type CasesOf = BTreeMap<i64, Vec<i64>>;

/// The command-line name of a format.
fn value_name(format: &impl clap::ValueEnum) -> String {
    format
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// Returns the confirmed findings (of `case` when given) and the cases of each.
fn confirmed(store: &Store, case: Option<i64>) -> anyhow::Result<(Vec<StoredFinding>, CasesOf)> {
    if let Some(id) = case {
        case::any_case(store, id)?;
    }
    let findings = store.confirmed_findings(case)?;
    let mut cases = BTreeMap::new();
    for finding in &findings {
        cases.insert(finding.id, store.cases_of_finding(finding.id)?);
    }
    if findings.is_empty() {
        eprintln!(
            "vigie: no confirmed finding{}; confirm findings with `vigie triage ID --confirm`",
            case.map(|id| format!(" in case {id}")).unwrap_or_default()
        );
    }
    Ok((findings, cases))
}

/// Writes `text` to `output` atomically, or to standard output.
fn emit(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => case::write_atomically(path, text.as_bytes())?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Records the export on the case, or on every case holding an exported finding.
fn record(
    store: &Store,
    actor: &Actor<'_>,
    case: Option<i64>,
    cases: &BTreeMap<i64, Vec<i64>>,
    kind: &str,
    text: String,
) -> anyhow::Result<()> {
    let targets: Vec<i64> = match case {
        Some(id) => vec![id],
        None => {
            let mut all: Vec<i64> = cases.values().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    for id in targets {
        store.add_event(id, &actor.event(kind, text.clone(), json!({})))?;
    }
    Ok(())
}
