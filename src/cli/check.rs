//! `vigie check`: loads the configuration and the watchlists, then prints a summary or every
//! error found. Exit code 0 when the configuration is valid, 2 when it is not.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, Config, DomainStatus, EnvLookup, SinkConfig, SmtpSecurity, Watchlist};

/// Arguments of `vigie check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Path of vigie.toml; its watchlists folder and secrets are checked too.
    #[arg(
        long,
        value_name = "FILE",
        env = "VIGIE_CONFIG",
        default_value = "/etc/vigie/vigie.toml"
    )]
    pub config: PathBuf,
}

/// Runs `vigie check` on the process environment, writing to standard output and error.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let lookup = |name: &str| std::env::var(name).ok();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(args, &lookup, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs `vigie check` with environment variables read through `env`: the summary goes to
/// `out`, warnings and errors to `err`.
pub fn run_with(
    args: &CheckArgs,
    env: EnvLookup<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match config::load_with_env(&args.config, env) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                writeln!(err, "warning: {warning}")?;
            }
            write_summary(out, &loaded.config)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            writeln!(err, "{errors}")?;
            let count = plural(errors.len(), "error");
            writeln!(err, "{count} in the configuration; vigie cannot start")?;
            Ok(ExitCode::from(2))
        }
    }
}

fn write_summary(out: &mut dyn Write, config: &Config) -> std::io::Result<()> {
    writeln!(out, "config: {}", config.path.display())?;
    writeln!(out, "state dir: {}", config.daemon.state_dir.display())?;
    writeln!(
        out,
        "watchlists dir: {}",
        config.daemon.watchlists_dir.display()
    )?;
    let servers = if config.dns.nameservers.is_empty() {
        "system resolver (/etc/resolv.conf)".to_string()
    } else {
        let list: Vec<String> = config
            .dns
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect();
        list.join(", ")
    };
    writeln!(out, "dns servers: {servers}")?;

    writeln!(out, "sinks:")?;
    for (name, sink) in &config.sinks {
        writeln!(out, "  {name}: {}", describe_sink(sink))?;
    }

    writeln!(out, "watchlists:")?;
    for watchlist in &config.watchlists {
        write_watchlist(out, config, watchlist)?;
    }

    let domains: usize = config
        .watchlists
        .iter()
        .map(|list| list.domains.len())
        .sum();
    writeln!(
        out,
        "ok: {}, {}, {}",
        plural(config.watchlists.len(), "watchlist"),
        plural(domains, "legitimate domain"),
        plural(config.sinks.len(), "sink")
    )
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Describes a sink and whether its secret is set, never the secret itself.
fn describe_sink(sink: &SinkConfig) -> String {
    match sink {
        SinkConfig::Smtp(smtp) => {
            let security = match smtp.security {
                SmtpSecurity::Plain => "plain",
                SmtpSecurity::StartTls => "starttls",
                SmtpSecurity::Tls => "tls",
            };
            let auth = match (&smtp.username, &smtp.password) {
                (Some(user), Some(_)) => format!("user {user}, password set"),
                (Some(user), None) => format!("user {user}, password not set"),
                (None, _) => "no authentication".to_string(),
            };
            format!(
                "smtp {}:{} ({security}), from {}, to {}; {auth}",
                smtp.host,
                smtp.port,
                smtp.from,
                smtp.to.join(", ")
            )
        }
        SinkConfig::Webhook(webhook) => {
            let secret = if webhook.secret.is_some() {
                "secret set"
            } else {
                "secret not set, requests unsigned"
            };
            format!("webhook {}; {secret}", webhook.url)
        }
    }
}

fn write_watchlist(out: &mut dyn Write, config: &Config, list: &Watchlist) -> std::io::Result<()> {
    let count = |status| list.domains.iter().filter(|d| d.status == status).count();
    let watched = list.domains.iter().filter(|d| d.watch).count();
    writeln!(
        out,
        "  {} ({}): brand \"{}\"",
        list.id,
        list.file.display(),
        list.brand
    )?;
    writeln!(
        out,
        "    domains: {} ({} active, {} old, {} forgotten), {watched} watched",
        list.domains.len(),
        count(DomainStatus::Active),
        count(DomainStatus::Old),
        count(DomainStatus::Forgotten),
    )?;
    writeln!(out, "    keywords: {}", none_if_empty(&list.keywords))?;
    writeln!(out, "    allow: {}", none_if_empty(&list.allow))?;
    writeln!(
        out,
        "    sinks: {}; min severity {}",
        none_if_empty(&config.sink_names_for(list)),
        list.min_severity
    )?;
    writeln!(
        out,
        "    lookalike sweep: every {} s, jitter up to {} s",
        list.lookalike.interval_secs, list.lookalike.jitter_secs
    )
}

fn none_if_empty(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}
