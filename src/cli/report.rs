//! `vigie report case|spam`: the lessons-learned report of a case, and abuse reports (ARF,
//! X-ARF) of its scam mails for spam-reporting services.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::case::{AuthorArgs, GroupConfigArgs, open_store};
use crate::case::{self, Actor, SystemClock, report};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The lessons-learned report of a case.
    Case {
        id: i64,
        #[arg(long, value_enum, default_value_t = report::Format::Md)]
        format: report::Format,
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

pub fn run(args: &ReportArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let _actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    match &args.command {
        ReportCommand::Case { id, format, output } => {
            let text = report::render(
                &store,
                config,
                *id,
                *format,
                time::OffsetDateTime::now_utc(),
            )?;
            match output {
                Some(path) => case::write_atomically(path, text.as_bytes())?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
    }
    Ok(())
}
