//! The command line: one module a command. `main.rs` only parses and maps the outcome to an
//! exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, LogFormat};

pub mod audit;
pub mod case;
pub mod check;
pub mod db;
pub mod export;
pub mod finding;
pub mod findings;
pub mod import;
pub mod mail;
pub mod match_cmd;
pub mod permute;
pub mod report;
pub mod run;
pub mod scan;
pub mod takedown;
pub mod triage;
pub mod warning;

/// Default configuration file when neither `--config` nor `VIGIE_CONFIG` is given.
pub const DEFAULT_CONFIG: &str = "/etc/vigie/vigie.toml";

#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    version,
    about = "Watches for scam campaigns against a company and alerts its SOC"
)]
pub struct Cli {
    /// Log format on stderr; `vigie run` defaults to the configuration's `log_format`.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,

    /// More log output (-v debug, -vv trace). `RUST_LOG` overrides it.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The `--config` option of the commands that read the configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Path of vigie.toml.
    #[arg(long, short = 'c', value_name = "FILE", env = "VIGIE_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: sweep the watchlists and deliver alerts until SIGTERM.
    Run(run::RunArgs),
    /// Validate the configuration and the watchlists and print a summary.
    Check(check::CheckArgs),
    /// Print the lookalike permutations of a domain.
    Permute(permute::PermuteArgs),
    /// Resolve the permutations of a domain once and print the registered ones.
    Scan(scan::ScanArgs),
    /// List the findings in the store.
    Findings(findings::FindingsArgs),
    /// Show one finding: its evidence (page, ownership, mail) and its history.
    Finding(finding::FindingArgs),
    /// Judge domains, host names or URLs (one a line) against the watchlists.
    Match(match_cmd::MatchArgs),
    /// Import mails gathered elsewhere (an mbox file or .eml files) into the store and their
    /// campaigns.
    Import(import::ImportArgs),
    /// Analyse mails: real sender IP, URLs, domains, addresses and findings.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Open, fill, show and close cases.
    Case(case::CaseArgs),
    /// Confirm a finding or mark it a false positive.
    Triage(triage::TriageArgs),
    /// Export blocklists and indicators of the confirmed findings.
    Export(export::ExportArgs),
    /// Render, publish and remove a case's warning page for customers.
    #[command(name = "warning-page")]
    WarningPage(warning::WarningArgs),
    /// Draft, send and follow up takedown notices.
    Takedown(takedown::TakedownArgs),
    /// The lessons-learned report of a case; abuse reports of its scam mails.
    Report(report::ReportArgs),
    /// Audit the mail authentication (SPF, DMARC, DKIM) of the legitimate domains.
    Audit(audit::AuditArgs),
    /// Back up, check, vacuum or restore the store.
    Db(db::DbArgs),
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Run(args) => run::run(&cli, args),
        Command::Check(args) => check::run(args),
        Command::Permute(args) => {
            init_logging(&cli, LogFormat::Text);
            permute::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Scan(args) => {
            init_logging(&cli, LogFormat::Text);
            runtime()?
                .block_on(scan::run(args))
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Findings(args) => {
            init_logging(&cli, LogFormat::Text);
            let config = load_config(&args.config.config)?;
            findings::run(args, &config).map(|()| ExitCode::SUCCESS)
        }
        Command::Finding(args) => {
            init_logging(&cli, LogFormat::Text);
            let finding::FindingCommand::Show(show) = &args.command;
            let config = load_config(&show.config.config)?;
            finding::run(show, &config).map(|()| ExitCode::SUCCESS)
        }
        Command::Match(args) => {
            init_logging(&cli, LogFormat::Text);
            let config = args.config.as_deref().map(load_config).transpose()?;
            match_cmd::run(args, config.as_ref())
        }
        Command::Import(args) => {
            init_logging(&cli, LogFormat::Text);
            let config = load_config(&args.config.config)?;
            import::run(args, config)
        }
        Command::Mail(command) => {
            init_logging(&cli, LogFormat::Text);
            let mail::MailCommand::Inspect(args) = command;
            let config = args.config.as_deref().map(load_config).transpose()?;
            mail::run(command, config.as_ref())
        }
        Command::Db(args) => {
            init_logging(&cli, LogFormat::Text);
            let config = match args.store {
                Some(_) => None,
                None => Some(load_config(&args.config.config)?),
            };
            db::run(args, config.as_ref())
        }
        Command::Case(args) => {
            init_logging(&cli, LogFormat::Text);
            case::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Triage(args) => {
            init_logging(&cli, LogFormat::Text);
            triage::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            init_logging(&cli, LogFormat::Text);
            export::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::WarningPage(args) => {
            init_logging(&cli, LogFormat::Text);
            warning::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Takedown(args) => {
            init_logging(&cli, LogFormat::Text);
            takedown::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            init_logging(&cli, LogFormat::Text);
            report::run(args, &load_config(&args.config.config)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Audit(args) => {
            init_logging(&cli, LogFormat::Text);
            audit::run(args, &load_config(&args.config.config)?)
        }
    }
}

/// Loads the configuration; all its errors go into one message.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    config::load(path)
        .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", path.display()))
}

/// Builds the tokio runtime every async command runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Sets up `tracing` on stderr. The `lettre` target stays at info or above whatever the
/// verbosity, because at debug lettre logs every SMTP line, AUTH included.
pub fn init_logging(cli: &Cli, default_format: LogFormat) {
    use tracing_subscriber::EnvFilter;

    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let directives =
        format!("{level},lettre=info,hickory_proto=warn,hickory_resolver=warn,hickory_net=warn");
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&directives))
        .add_directive("lettre=info".parse().expect("static directive"));
    let format = match cli.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => default_format,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
