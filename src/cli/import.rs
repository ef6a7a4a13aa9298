//! `vigie import mbox FILE` and `vigie import eml FILE...`: mails gathered elsewhere (an
//! export of a mailbox, mails saved by analysts, a corpus) through the same analysis,
//! evidence and campaign steps as the inbox source. Alerts go to the outbox, where the
//! running daemon's dispatcher picks them up.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::model::Severity;
use crate::pipeline::Pipeline;
use crate::sources::inbox::analysis::Analyzer;
use crate::sources::inbox::ingest::{Ingested, MailSource, ingest};
use crate::sources::inbox::mbox::{MboxItem, MboxReader};
use crate::store::Store;

/// Source name written in the mail rows and findings of imported mail.
pub const SOURCE: &str = "import";

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,

    /// Watchlist that a mail matching no watchlist is filed under; without it such a mail is
    /// kept as evidence in no campaign.
    #[arg(long, value_name = "NAME")]
    pub watchlist: Option<String>,

    /// Severity of a campaign whose mails match no watchlist.
    #[arg(long, value_name = "LEVEL", default_value = "low", value_parser = parse_severity)]
    pub unmatched_severity: Severity,

    /// Largest mail read, in bytes; larger ones are skipped and reported.
    #[arg(long, value_name = "BYTES", default_value_t = 25 << 20)]
    pub max_message_bytes: u64,

    #[command(subcommand)]
    pub what: ImportWhat,
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Import every mail of an mbox file.
    Mbox {
        /// The mbox file.
        file: PathBuf,
    },
    /// Import mails saved one a file (.eml).
    Eml {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text).ok_or_else(|| "use low, medium, high or critical".to_string())
}

/// Counts of one import.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportCounts {
    pub mails: usize,
    pub duplicates: usize,
    pub alerted: usize,
    pub without_campaign: usize,
    pub skipped: usize,
}

/// Imports the mails and prints what was done; exit code 1 when a mail was skipped.
pub fn run(args: &ImportArgs, config: Config) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.watchlist
        && !config.watchlists.iter().any(|list| &list.id == name)
    {
        anyhow::bail!(
            "--watchlist {name}: no such watchlist; use the file stem of one of: {}",
            config
                .watchlists
                .iter()
                .map(|list| list.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let path = crate::daemon::store_path(&config);
    let store = Arc::new(
        Store::open(&path).with_context(|| format!("opening the store {}", path.display()))?,
    );
    let config = Arc::new(config);
    let analyzer = Analyzer::new(config.clone()).map_err(|error| anyhow::anyhow!(error))?;
    let (_config_tx, config_rx) = watch::channel(config);
    let pipeline = Pipeline::new(store, config_rx, Arc::new(Notify::new()));

    let counts = super::runtime()?.block_on(import(args, &pipeline, &analyzer))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} mails imported ({} already in the store), {} without campaign, {} alerts queued, {} skipped",
        counts.mails, counts.duplicates, counts.without_campaign, counts.alerted, counts.skipped
    )?;
    if counts.alerted > 0 {
        writeln!(
            out,
            "The running daemon delivers the queued alerts (`vigie run` with this configuration)."
        )?;
    }
    Ok(if counts.skipped > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Imports every mail named by `args` through `pipeline`.
pub async fn import(
    args: &ImportArgs,
    pipeline: &Pipeline,
    analyzer: &Analyzer,
) -> anyhow::Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    match &args.what {
        ImportWhat::Mbox { file } => {
            import_mbox(args, pipeline, analyzer, file, &mut counts).await?
        }
        ImportWhat::Eml { files } => {
            for file in files {
                match read_eml(file, args.max_message_bytes) {
                    Ok(raw) => {
                        let origin = file.display().to_string();
                        let ingested =
                            ingest(pipeline, analyzer, raw, &source(args, origin)).await?;
                        count(&mut counts, &ingested);
                    }
                    Err(error) => {
                        counts.skipped += 1;
                        eprintln!("vigie: {error:#}");
                    }
                }
            }
        }
    }
    Ok(counts)
}

async fn import_mbox(
    args: &ImportArgs,
    pipeline: &Pipeline,
    analyzer: &Analyzer,
    file: &Path,
    counts: &mut ImportCounts,
) -> anyhow::Result<()> {
    let handle = File::open(file)
        .with_context(|| format!("cannot open {}; check the path", file.display()))?;
    let mut reader = MboxReader::new(BufReader::new(handle), args.max_message_bytes);
    while let Some(item) = reader
        .next_item()
        .with_context(|| format!("reading {}", file.display()))?
    {
        match item {
            MboxItem::TooLarge { line, bytes } => {
                counts.skipped += 1;
                eprintln!(
                    "vigie: {}:{line}: mail of {bytes} bytes is larger than --max-message-bytes ({}); skipped",
                    file.display(),
                    args.max_message_bytes
                );
            }
            MboxItem::Mail { raw, .. } if is_folder_data(&raw) => {}
            MboxItem::Mail { line, raw } => {
                let origin = format!("{}:{line}", file.display());
                let ingested = ingest(pipeline, analyzer, raw, &source(args, origin)).await?;
                count(counts, &ingested);
            }
        }
    }
    Ok(())
}

/// Tells whether a mail is the folder-data record that UW-IMAP and Pine put first in an
/// mbox (subject `DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA`), which is no mail.
fn is_folder_data(raw: &[u8]) -> bool {
    let head_end = raw
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .unwrap_or(raw.len().min(4096));
    let head = String::from_utf8_lossy(&raw[..head_end]);
    head.lines()
        .any(|line| line.starts_with("Subject:") && line.contains("FOLDER INTERNAL DATA"))
}

fn source(args: &ImportArgs, origin: String) -> MailSource {
    MailSource {
        source: SOURCE,
        origin,
        folder: None,
        uidvalidity: None,
        uid: None,
        fallback: args
            .watchlist
            .clone()
            .map(|watchlist| (watchlist, args.unmatched_severity)),
    }
}

fn count(counts: &mut ImportCounts, ingested: &Ingested) {
    counts.mails += 1;
    counts.duplicates += usize::from(ingested.duplicate);
    counts.alerted += usize::from(ingested.alerted());
    counts.without_campaign += usize::from(ingested.campaign_id.is_none());
    if let Some(error) = &ingested.analysis_error {
        eprintln!(
            "vigie: mail {} kept but not analysed: {error}",
            ingested.mail_id
        );
    }
}

fn read_eml(file: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let handle = File::open(file)
        .with_context(|| format!("cannot open {}; check the path", file.display()))?;
    let mut raw = Vec::new();
    handle
        .take(max + 1)
        .read_to_end(&mut raw)
        .with_context(|| format!("reading {}", file.display()))?;
    if raw.len() as u64 > max {
        anyhow::bail!(
            "{}: larger than --max-message-bytes ({max}); skipped",
            file.display()
        );
    }
    // A mail saved from an mbox keeps its `From ` separator line, which is no header.
    if raw.starts_with(b"From ") {
        let end = raw
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(raw.len(), |end| end + 1);
        raw.drain(..end);
    }
    Ok(raw)
}
