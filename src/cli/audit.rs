//! `vigie audit mail-auth`: SPF, DMARC and DKIM weaknesses of the legitimate domains.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::case::{GroupConfigArgs, ListFormat};
use crate::case::audit::{self, Level};
use crate::config::Config;
use crate::net::dns::Resolver;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check SPF, DMARC and the listed DKIM selectors of every legitimate domain. Exit code 1
    /// when a weakness is high.
    MailAuth {
        /// Audit these domains (as active ones) instead of the watchlists' domains.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// DKIM selectors to check on top of [response] dkim_selectors: "selector" or
        /// "domain:selector".
        #[arg(long = "selector")]
        selectors: Vec<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

pub fn run(args: &AuditArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let AuditCommand::MailAuth {
        domains,
        selectors,
        format,
    } = &args.command;
    let targets: Vec<(String, bool, Vec<String>)> = if domains.is_empty() {
        audit::targets(config, selectors)
    } else {
        domains
            .iter()
            .map(|domain| {
                let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
                let mine = selectors
                    .iter()
                    .filter_map(|s| match s.rsplit_once(':') {
                        Some((d, sel)) => d.eq_ignore_ascii_case(&domain).then(|| sel.to_owned()),
                        None => Some(s.clone()),
                    })
                    .collect();
                (domain, true, mine)
            })
            .collect()
    };
    let audits = super::runtime()?.block_on(async {
        let resolver = Resolver::new(&config.dns)?;
        let mut audits = Vec::new();
        for (domain, sends, selectors) in &targets {
            audits.push(audit::audit_domain(&resolver, domain, *sends, selectors).await);
        }
        anyhow::Ok(audits)
    })?;

    let mut out = std::io::stdout().lock();
    for audit in &audits {
        if *format == ListFormat::Json {
            writeln!(out, "{}", serde_json::to_string(audit)?)?;
            continue;
        }
        let state = if audit.sends_mail {
            "active"
        } else {
            "not sending"
        };
        writeln!(out, "{} ({state})", audit.domain)?;
        writeln!(out, "  SPF:   {}", audit.spf.as_deref().unwrap_or("(none)"))?;
        if let Some(lookups) = audit.spf_lookups {
            writeln!(out, "         {lookups} DNS lookup(s) of 10")?;
        }
        writeln!(
            out,
            "  DMARC: {}",
            audit.dmarc.as_deref().unwrap_or("(none)")
        )?;
        for (selector, record) in &audit.dkim {
            let shown = record.as_deref().map_or("(none)".to_owned(), |r| {
                if r.len() > 60 {
                    format!("{}...", &r[..60])
                } else {
                    r.to_owned()
                }
            });
            writeln!(out, "  DKIM {selector}: {shown}")?;
        }
        if audit.weaknesses.is_empty() {
            writeln!(out, "  no weakness found")?;
        }
        for weakness in &audit.weaknesses {
            writeln!(
                out,
                "  [{}] {}: {}\n         fix: {}",
                weakness.level.as_str(),
                weakness.check,
                weakness.problem,
                weakness.fix
            )?;
        }
        writeln!(out)?;
    }
    let high = audits.iter().any(|a| a.worst() == Some(Level::High));
    Ok(if high {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
