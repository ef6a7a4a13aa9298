//! `vigie triage FINDING --confirm [--case ID] | --false-positive [--allow]`.

use std::io::Write;

use clap::Args;

use super::case::{AuthorArgs, open_store};
use crate::case::triage::{self, Verdict};
use crate::case::{self, Actor, SystemClock};
use crate::config::Config;
use crate::model::defang;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("verdict").required(true).args(["confirm", "false_positive"])))]
pub struct TriageArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,

    /// Finding id or fingerprint.
    pub finding: String,

    /// The finding is a real scam: it goes into blocklists and IOC exports.
    #[arg(long)]
    pub confirm: bool,

    /// Case to add the confirmed finding to.
    #[arg(long, requires = "confirm")]
    pub case: Option<i64>,

    /// The finding is not a scam.
    #[arg(long)]
    pub false_positive: bool,

    /// With --false-positive: never record or alert on this name again (stored allow list).
    #[arg(long, requires = "false_positive")]
    pub allow: bool,

    /// Why, recorded on the timeline and the allow list.
    #[arg(long, default_value = "")]
    pub reason: String,
}

pub fn run(args: &TriageArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    let verdict = if args.confirm {
        Verdict::Confirm { case: args.case }
    } else {
        Verdict::FalsePositive {
            allow: args.allow,
            reason: args.reason.clone(),
        }
    };
    let done = triage::triage(&store, &actor, &args.finding, &verdict)?;
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "finding {} ({}) is now {}",
        done.finding_id,
        defang(&done.subject),
        done.status
    )?;
    if !done.cases.is_empty() {
        let cases: Vec<String> = done.cases.iter().map(i64::to_string).collect();
        write!(out, "; case(s) {}", cases.join(", "))?;
    }
    if let Some(name) = &done.allow_listed {
        write!(out, "; {} is allow-listed", defang(name))?;
    }
    writeln!(out)?;
    Ok(())
}
