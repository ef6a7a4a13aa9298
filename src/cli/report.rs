//! `vigie report case|spam`: the lessons-learned report of a case, and abuse reports (ARF,
//! X-ARF) of its scam mails for spam-reporting services.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::case::{AuthorArgs, GroupConfigArgs, open_store};
use crate::case::takedown::Mailer;
use crate::case::{self, Actor, SystemClock, arf, report};
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
    /// Abuse reports (ARF or X-ARF) of the case's reported scam mails.
    Spam {
        #[arg(long)]
        case: i64,
        #[arg(long, value_enum, default_value_t = arf::Format::Arf)]
        format: arf::Format,
        /// Address of the spam-reporting service, written in the reports' To.
        #[arg(long)]
        to: String,
        /// Send the reports through the [response] relay instead of printing them.
        #[arg(long, conflicts_with = "output")]
        send: bool,
        /// Write one .eml file a report into this folder instead of printing them.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

pub fn run(args: &ReportArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
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
        ReportCommand::Spam {
            case,
            format,
            to,
            send,
            output,
        } => spam(
            &store,
            config,
            &actor,
            *case,
            *format,
            to,
            *send,
            output.as_deref(),
        )?,
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one argument a command-line option"
)]
fn spam(
    store: &crate::store::Store,
    config: &Config,
    actor: &Actor<'_>,
    case_id: i64,
    format: arf::Format,
    to: &str,
    send: bool,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if !crate::config::is_mail_address(to) {
        anyhow::bail!(
            "--to {to:?} is not a mail address; give the address of the spam-reporting service"
        );
    }
    let from = config
        .response
        .sender
        .clone()
        .ok_or_else(|| case::CaseError::Setting {
            setting: "[response] sender",
            fix: "set it to the address the reports come from".to_owned(),
        })?;
    let organization = case::warning::organization(config, None);
    let reporter = arf::Reporter {
        from: &from,
        to,
        organization: &organization,
    };
    let reports = arf::build(store, case_id, format, &reporter, actor.clock.now())?;
    let mut out = std::io::stdout().lock();
    let how = if send {
        // The transport's connection pool must be made and dropped inside the runtime.
        super::runtime()?.block_on(async {
            let mailer = Mailer::from_config(config)?;
            for report in &reports {
                mailer.send_raw(to, report.message.as_bytes()).await?;
                writeln!(
                    out,
                    "sent the report of finding {} to {to}",
                    report.finding_id
                )?;
            }
            anyhow::Ok(())
        })?;
        format!("sent to {to}")
    } else if let Some(folder) = output {
        for report in &reports {
            let path = folder.join(&report.file_name);
            case::write_atomically(&path, report.message.as_bytes())?;
            writeln!(out, "written {}", path.display())?;
        }
        format!("written to {}", folder.display())
    } else {
        for report in &reports {
            out.write_all(report.message.as_bytes())?;
        }
        "printed".to_owned()
    };
    let kind = match format {
        arf::Format::Arf => "ARF",
        arf::Format::Xarf => "X-ARF",
    };
    let event = actor.event(
        "spam-reported",
        format!("{} {kind} report(s) of scam mails {how}.", reports.len()),
        serde_json::json!({ "to": to }),
    );
    store.add_event(case_id, &event)?;
    Ok(())
}
