//! `vigie takedown draft|send|status|followup|remind|contacts`: takedown notices.

use std::io::Write;

use clap::{Args, Subcommand};

use super::case::{AuthorArgs, GroupConfigArgs, ListFormat, open_store};
use crate::case::contacts::answer_stats;
use crate::case::takedown::{self, Mailer, Notice, Request};
use crate::case::{self, Actor, SystemClock, rfc3339};
use crate::config::{Config, ContactRole};
use crate::model::defang;

#[derive(Debug, Args)]
pub struct TakedownArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,
    #[command(subcommand)]
    pub command: TakedownCommand,
}

/// Which finding of which case, and to whom.
#[derive(Debug, Clone, Args)]
pub struct Target {
    #[arg(long)]
    pub case: i64,
    /// Finding id or fingerprint.
    #[arg(long)]
    pub finding: String,
    /// Contact id in the contacts directory. Default: chosen from what contacts cover.
    #[arg(long)]
    pub contact: Option<String>,
    /// Role of the contact to choose: hosting, site-owner, registrar, registry,
    /// mail-provider or social-network.
    #[arg(long, value_parser = parse_role)]
    pub role: Option<ContactRole>,
    /// Language of the notice (en, fr, de, es). Default: the contact's.
    #[arg(long)]
    pub lang: Option<String>,
}

fn parse_role(text: &str) -> Result<ContactRole, String> {
    ContactRole::parse(text).ok_or_else(|| {
        let names: Vec<&str> = ContactRole::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {text:?}; use one of {}", names.join(", "))
    })
}

#[derive(Debug, Subcommand)]
pub enum TakedownCommand {
    /// Print the notice that `send` would send, without sending or recording it.
    Draft(Target),
    /// Send the notice through the configured relay and record it.
    Send(Target),
    /// List takedowns, or record an answer (--answered) or that the item is down (--down).
    Status {
        /// Takedown id; all takedowns when absent.
        id: Option<i64>,
        #[arg(long, requires = "id", conflicts_with = "down")]
        answered: bool,
        #[arg(long, requires = "id")]
        down: bool,
        /// Text added to the event.
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Send a follow-up to an unanswered takedown.
    Followup { id: i64 },
    /// Write the reminder alerts of overdue takedowns now (the daemon does it on its own).
    Remind,
    /// List the contacts directory with how fast each contact answered.
    Contacts,
}

pub fn run(args: &TakedownArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    let mut out = std::io::stdout().lock();
    match &args.command {
        TakedownCommand::Draft(target) => {
            let notice = takedown::draft(&store, config, &request(target))?;
            write_notice(&mut out, &notice)?;
        }
        TakedownCommand::Send(target) => {
            // The transport's connection pool must be made and dropped inside the runtime.
            let (id, notice) = super::runtime()?.block_on(async {
                let mailer = Mailer::from_config(config)?;
                takedown::send(&store, config, &actor, &mailer, &request(target)).await
            })?;
            writeln!(
                out,
                "takedown {id} sent to {} ({}), reference {}",
                notice.contact.contact.email.as_deref().unwrap_or_default(),
                notice.contact.contact.name,
                notice.reference
            )?;
        }
        TakedownCommand::Status {
            id,
            answered,
            down,
            note,
            format,
        } => {
            if let (Some(id), true) = (id, *answered || *down) {
                let takedown = takedown::record_outcome(&store, &actor, *id, *down, note)?;
                writeln!(out, "takedown {id} is now {}", takedown.status)?;
                return Ok(());
            }
            let mut list = store.takedowns(None)?;
            if let Some(id) = id {
                list.retain(|t| t.id == *id);
                if list.is_empty() {
                    return Err(case::CaseError::NoTakedown(*id).into());
                }
            }
            for takedown in &list {
                if *format == ListFormat::Json {
                    writeln!(out, "{}", serde_json::to_string(takedown)?)?;
                    continue;
                }
                writeln!(
                    out,
                    "{:<4} case {:<4} {:<9} {} -> {} ({}), sent {}, {} follow-up(s), deadline {}",
                    takedown.id,
                    takedown.case_id,
                    takedown.status,
                    defang(&takedown.target),
                    takedown.recipient,
                    takedown.role,
                    rfc3339(takedown.sent_at),
                    takedown.followups,
                    rfc3339(takedown.deadline_at)
                )?;
            }
        }
        TakedownCommand::Followup { id } => {
            let done = super::runtime()?.block_on(async {
                let mailer = Mailer::from_config(config)?;
                takedown::followup(&store, config, &actor, &mailer, *id).await
            })?;
            writeln!(out, "follow-up {} of takedown {id} sent", done.followups)?;
            if let Some(escalation) = done.escalation {
                writeln!(out, "{}", escalation.text)?;
            }
        }
        TakedownCommand::Remind => {
            let reminded = takedown::remind_overdue(&store, config, &SystemClock)?;
            writeln!(out, "{} reminder(s) written to the outbox", reminded.len())?;
        }
        TakedownCommand::Contacts => {
            let stats = answer_stats(&store)?;
            for contact in &config.response.contacts {
                let measured = stats.iter().find(|s| s.contact == contact.id);
                let answers = match measured {
                    Some(s) => format!(
                        "{} notice(s), {} answered, median {}, {} waiting",
                        s.notices,
                        s.answered,
                        s.median_hours
                            .map(|h| format!("{h:.1} h"))
                            .unwrap_or_else(|| "-".to_owned()),
                        s.waiting
                    ),
                    None => "no notice yet".to_owned(),
                };
                writeln!(
                    out,
                    "{:<24} {:<14} {:<4} {:<8} {} <{}>: {answers}",
                    contact.id,
                    contact.role.as_str(),
                    contact.country.as_deref().unwrap_or("-"),
                    contact.languages.join(","),
                    contact.name,
                    contact
                        .email
                        .as_deref()
                        .or(contact.web_form.as_deref())
                        .or(contact.phone.as_deref())
                        .unwrap_or_default()
                )?;
            }
            for s in stats.iter().filter(|s| s.contact.starts_with("rdap:")) {
                writeln!(
                    out,
                    "{:<24} (from RDAP): {} notice(s), {} answered",
                    s.contact, s.notices, s.answered
                )?;
            }
        }
    }
    Ok(())
}

fn request(target: &Target) -> Request {
    Request {
        case_id: target.case,
        finding: target.finding.clone(),
        contact: target.contact.clone(),
        role: target.role,
        language: target.lang.clone(),
    }
}

fn write_notice(out: &mut impl Write, notice: &Notice) -> std::io::Result<()> {
    let contact = &notice.contact.contact;
    writeln!(
        out,
        "To: {} <{}>",
        contact.name,
        contact
            .email
            .as_deref()
            .or(contact.web_form.as_deref())
            .or(contact.phone.as_deref())
            .unwrap_or_default()
    )?;
    writeln!(out, "Why this contact: {}", notice.contact.reason)?;
    writeln!(out, "Subject: {}", notice.subject)?;
    writeln!(
        out,
        "Attachment: {} ({}, {} bytes)",
        notice.evidence.file_name,
        notice.evidence.content_type,
        notice.evidence.bytes.len()
    )?;
    writeln!(out)?;
    out.write_all(notice.body.as_bytes())
}
