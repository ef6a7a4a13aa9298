//! `vigie match`: judges domains, host names or URLs, one a line, against the watchlists and
//! prints a JSON line for each one that imitates a brand.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::detect::{BrandSpec, Matcher};
use crate::model::Severity;

/// Arguments of `vigie match`.
#[derive(Debug, Clone, clap::Args)]
pub struct MatchArgs {
    /// Path of vigie.toml whose watchlists are matched; without it, only `--domain` is used.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Legitimate domain of an ad-hoc watchlist (repeatable); its registrable label is the
    /// brand keyword. Used on top of the watchlists of `--config`, or alone without it.
    #[arg(long = "domain", value_name = "LEGIT")]
    pub domains: Vec<String>,

    /// Lowest severity printed: low, medium, high or critical. Default: low.
    #[arg(long, value_name = "SEVERITY", default_value = "low", value_parser = parse_severity)]
    pub min_severity: Severity,

    /// File of domains, host names or URLs, one a line; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text)
        .ok_or_else(|| format!("invalid severity {text:?}; use one of low, medium, high, critical"))
}

/// Counts of one run over an input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MatchSummary {
    /// Lines read, blank lines and `#` comments included.
    pub lines: u64,
    /// Lines printed as matches.
    pub flagged: u64,
    /// Lines that held no usable host name.
    pub invalid: u64,
}

/// Runs `vigie match`. Exit code 0 when at least one line matched, 1 when none did.
pub fn run(args: &MatchArgs, config: Option<&Config>) -> anyhow::Result<ExitCode> {
    let matcher = build_matcher(&args.domains, config)?;
    let reader: Box<dyn BufRead> = match &args.input {
        None => Box::new(io::stdin().lock()),
        Some(path) if path.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(path) => {
            let file = File::open(path).with_context(|| {
                format!("cannot open input file {}; check the path", path.display())
            })?;
            Box::new(BufReader::new(file))
        }
    };

    let stdout = io::stdout().lock();
    let stderr = io::stderr().lock();
    let summary = match match_lines(&matcher, args.min_severity, reader, stdout, stderr) {
        Ok(summary) => summary,
        // A closed pipe (`vigie match | head`) is a normal end, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("failed to read input or write matches"),
    };
    if summary.invalid > 0 {
        eprintln!(
            "vigie match: {} invalid line(s) skipped of {}",
            summary.invalid, summary.lines
        );
    }
    Ok(if summary.flagged > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Compiles the watchlists of `config` and the ad-hoc watchlist of `domains` into a matcher.
pub fn build_matcher(domains: &[String], config: Option<&Config>) -> anyhow::Result<Matcher> {
    let mut specs: Vec<BrandSpec> = config
        .map(|c| c.watchlists.iter().map(BrandSpec::from).collect())
        .unwrap_or_default();
    if !domains.is_empty() {
        specs.push(BrandSpec {
            id: "command-line".to_string(),
            brand: domains.join(", "),
            keywords: Vec::new(),
            legitimate: domains.to_vec(),
            allow: Vec::new(),
        });
    }
    if specs.is_empty() {
        bail!("no watchlist to match against; give --config FILE or at least one --domain LEGIT");
    }
    Matcher::compile(&specs).context("invalid watchlist")
}

/// Matches every line of `input`, writes one JSON line per match at or above `min_severity`
/// to `out`, and one line per invalid input (with its line number) to `err`.
///
/// Blank lines and lines starting with `#` are skipped. An invalid line never stops the run.
pub fn match_lines(
    matcher: &Matcher,
    min_severity: Severity,
    input: impl BufRead,
    mut out: impl Write,
    mut err: impl Write,
) -> io::Result<MatchSummary> {
    let mut summary = MatchSummary::default();
    for line in input.split(b'\n') {
        let line = line?;
        summary.lines += 1;
        // Lines that are not UTF-8 are read lossily: the host part is what matters.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match matcher.check_input(text) {
            Ok(Some(found)) if found.severity >= min_severity => {
                serde_json::to_writer(&mut out, &found)?;
                out.write_all(b"\n")?;
                summary.flagged += 1;
            }
            Ok(_) => {}
            Err(e) => {
                summary.invalid += 1;
                writeln!(err, "line {}: {e}", summary.lines)?;
            }
        }
    }
    out.flush()?;
    Ok(summary)
}
