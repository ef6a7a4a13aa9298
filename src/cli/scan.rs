//! `vigie scan`: one-shot lookalike sweep of a domain, printed for an analyst.
//!
//! It permutes the domain, resolves every permutation with [`Resolver::sweep`], and prints
//! the registered ones with their records on stdout (aligned text, or one JSON object a
//! line), then a summary on stderr. A progress bar is drawn on stderr when it is a terminal.
//!
//! JSON keys: `domain`, `fuzzer`, `unicode`, `a`, `aaaa`, `ns`, `mx` (arrays of text); a
//! wildcard zone's line adds `wildcard_of` (the swept names it covers), and with `--all` an
//! unknown name's line adds `unknown` (the reason).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::permute::{FuzzerArgs, options_from};
use crate::config::DnsConfig;
use crate::domain::{Permutation, permute};
use crate::net::dns::{Records, Resolution, Resolver, SweepReport};

/// Arguments of `vigie scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// Legitimate domain whose lookalikes are generated and resolved, such as example.com.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// Nameserver to ask, as IP or IP:PORT (port 53 when left out); repeat for several.
    /// Default: the nameservers of /etc/resolv.conf.
    #[arg(long = "nameserver", value_name = "HOST:PORT", value_parser = parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Names resolved at once.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub concurrency: usize,
    /// Time to wait for one DNS answer, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Attempts per DNS query before a name is reported unknown.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub attempts: u32,
    /// Also print the names whose resolution failed (SERVFAIL, timeout), with the reason.
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub fuzzers: FuzzerArgs,
}

/// Output format of `vigie scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns: fuzzer, domain, A, AAAA, NS, MX.
    Text,
    /// One JSON object a line.
    Json,
}

/// Counts printed after a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Permutations generated.
    pub generated: usize,
    /// Registered permutations, those under a wildcard zone left out.
    pub registered: usize,
    /// Permutations whose resolution failed.
    pub unknown: usize,
    /// Wildcard zones found.
    pub wildcard_zones: usize,
}

/// Runs `vigie scan`.
pub async fn run(args: &ScanArgs) -> anyhow::Result<()> {
    let options = options_from(&args.fuzzers)?;
    let permutations = permute(&args.domain, &options)
        .with_context(|| format!("cannot generate the lookalikes of {:?}", args.domain))?;
    let candidates = permutations
        .iter()
        .map(Candidate::from_permutation)
        .collect();

    let stdout = std::io::stdout();
    let summary = scan(args, candidates, &mut stdout.lock()).await?;
    eprintln!(
        "{} generated, {} registered, {} unknown, {} wildcard zones",
        summary.generated, summary.registered, summary.unknown, summary.wildcard_zones
    );
    Ok(())
}

/// One name to resolve and the fuzzer that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// ASCII form of the name (punycode for IDN).
    pub domain: String,
    /// Fuzzer name as printed (dnstwist's names, such as `homoglyph`).
    pub fuzzer: String,
}

impl Candidate {
    fn from_permutation(permutation: &Permutation) -> Candidate {
        Candidate {
            domain: permutation.domain.clone(),
            fuzzer: permutation.fuzzer.as_str().to_owned(),
        }
    }
}

/// Resolves `candidates` with the settings of `args` and writes the rows to `out`.
pub async fn scan(
    args: &ScanArgs,
    candidates: Vec<Candidate>,
    out: &mut dyn Write,
) -> anyhow::Result<ScanSummary> {
    let config = DnsConfig {
        nameservers: args.nameservers.clone(),
        timeout_ms: args.timeout_ms,
        attempts: args.attempts,
        concurrency: args.concurrency,
    };
    let resolver = Resolver::new(&config).context("cannot set up DNS resolution")?;

    let progress = progress_bar(candidates.len());
    let names = candidates.iter().map(|candidate| candidate.domain.clone());
    let report = resolver.sweep(names, |_| progress.inc(1)).await;
    progress.finish_and_clear();

    let fuzzers: BTreeMap<&str, &str> = candidates
        .iter()
        .map(|candidate| (candidate.domain.as_str(), candidate.fuzzer.as_str()))
        .collect();
    let rows = rows(&report, &fuzzers, args.all);
    match args.format {
        Format::Text => write_text(out, &rows),
        Format::Json => write_json(out, &rows),
    }
    .context("cannot write the scan results to stdout")?;

    Ok(summarize(&report, candidates.len()))
}

/// Creates a progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(length: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} names, {per_sec}, eta {eta}")
        .expect("the progress template is valid");
    ProgressBar::new(length as u64).with_style(style)
}

fn summarize(report: &SweepReport, generated: usize) -> ScanSummary {
    let registered = report
        .entries
        .iter()
        .filter(|entry| entry.is_registration())
        .count();
    let unknown = report
        .entries
        .iter()
        .filter(|entry| matches!(entry.resolution, Resolution::Unknown(_)))
        .count();
    ScanSummary {
        generated,
        registered,
        unknown,
        wildcard_zones: report.wildcard_zones.len(),
    }
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Row {
    domain: String,
    fuzzer: String,
    /// Unicode form of `domain` (equal to it when it is not an IDN).
    unicode: String,
    a: Vec<String>,
    aaaa: Vec<String>,
    ns: Vec<String>,
    mx: Vec<String>,
    /// Names of this wildcard zone that were swept and folded into this row.
    #[serde(skip_serializing_if = "Option::is_none")]
    wildcard_of: Option<Vec<String>>,
    /// Reason the resolution failed (with `--all` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown: Option<String>,
}

impl Row {
    fn new(domain: &str, fuzzer: &str, records: &Records) -> Row {
        let (unicode, _errors) = idna::domain_to_unicode(domain);
        Row {
            domain: domain.to_owned(),
            fuzzer: fuzzer.to_owned(),
            unicode,
            a: records.a.iter().cloned().collect(),
            aaaa: records.aaaa.iter().cloned().collect(),
            ns: records.ns.iter().cloned().collect(),
            mx: records.mx.iter().cloned().collect(),
            wildcard_of: None,
            unknown: None,
        }
    }
}

/// Rows in sweep order: registrations, unknown names with `all`, then one row a wildcard
/// zone listing the candidates folded into it.
fn rows(report: &SweepReport, fuzzers: &BTreeMap<&str, &str>, all: bool) -> Vec<Row> {
    let fuzzer_of = |name: &str| fuzzers.get(name).copied().unwrap_or("").to_owned();
    let mut rows = Vec::new();
    for entry in &report.entries {
        match &entry.resolution {
            Resolution::Registered(records) if entry.wildcard_zone.is_none() => {
                rows.push(Row::new(&entry.name, &fuzzer_of(&entry.name), records));
            }
            Resolution::Unknown(reason) if all => {
                let mut row = Row::new(&entry.name, &fuzzer_of(&entry.name), &Records::default());
                row.unknown = Some(reason.clone());
                rows.push(row);
            }
            _ => {}
        }
    }

    for (zone, records) in &report.wildcard_zones {
        let folded: Vec<&str> = report
            .entries
            .iter()
            .filter(|entry| entry.wildcard_zone.as_deref() == Some(zone.as_str()))
            .map(|entry| entry.name.as_str())
            .collect();
        let fuzzer = folded
            .first()
            .map(|name| fuzzer_of(name))
            .unwrap_or_default();
        let mut row = Row::new(&format!("*.{zone}"), &fuzzer, records);
        row.domain = zone.clone();
        row.wildcard_of = Some(folded.iter().map(|name| (*name).to_owned()).collect());
        rows.push(row);
    }
    rows
}

fn write_json(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes aligned columns: fuzzer, domain, A, AAAA, NS, MX (values joined by commas, `-`
/// when empty). A wildcard zone shows as `*.zone`; an unknown name shows its reason.
fn write_text(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    let cells: Vec<[String; 6]> = rows.iter().map(text_cells).collect();
    let mut widths = [0usize; 6];
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    for row in &cells {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column == row.len() - 1 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()
}

fn text_cells(row: &Row) -> [String; 6] {
    let join = |values: &[String]| {
        if values.is_empty() {
            "-".to_owned()
        } else {
            values.join(",")
        }
    };
    let domain = match (&row.wildcard_of, row.unicode != row.domain) {
        (Some(_), _) => format!("*.{}", row.domain),
        (None, true) => format!("{} ({})", row.domain, row.unicode),
        (None, false) => row.domain.clone(),
    };
    if let Some(reason) = &row.unknown {
        let unknown = format!("unknown: {reason}");
        return [
            row.fuzzer.clone(),
            domain,
            unknown,
            String::new(),
            String::new(),
            String::new(),
        ];
    }
    [
        row.fuzzer.clone(),
        domain,
        join(&row.a),
        join(&row.aaaa),
        join(&row.ns),
        join(&row.mx),
    ]
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`; a bare IP gets port 53.
fn parse_nameserver(value: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = value.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "invalid nameserver {value:?}: expected an IP address with an optional port, \
         such as 127.0.0.1:5353 or [::1]:53"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::dns::SweepEntry;

    fn records(a: &[&str], mx: &[&str]) -> Records {
        Records {
            a: a.iter().map(|value| (*value).to_owned()).collect(),
            mx: mx.iter().map(|value| (*value).to_owned()).collect(),
            ..Records::default()
        }
    }

    fn entry(name: &str, resolution: Resolution, wildcard_zone: Option<&str>) -> SweepEntry {
        SweepEntry {
            name: name.to_owned(),
            resolution,
            wildcard_zone: wildcard_zone.map(str::to_owned),
        }
    }

    fn report() -> SweepReport {
        SweepReport {
            entries: vec![
                entry(
                    "examp1e.test",
                    Resolution::Registered(records(&["192.0.2.1"], &["mx.examp1e.test"])),
                    None,
                ),
                entry("exampl.test", Resolution::NotRegistered, None),
                entry(
                    "xn--exmple-qta.test",
                    Resolution::Registered(records(&[], &[])),
                    None,
                ),
                entry(
                    "broken.test",
                    Resolution::Unknown("A query: timed out".to_owned()),
                    None,
                ),
                entry(
                    "www.wild.test",
                    Resolution::Registered(records(&["203.0.113.7"], &[])),
                    Some("wild.test"),
                ),
            ],
            wildcard_zones: BTreeMap::from([(
                "wild.test".to_owned(),
                records(&["203.0.113.7"], &[]),
            )]),
            queries: 12,
        }
    }

    fn fuzzers() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            ("examp1e.test", "replacement"),
            ("exampl.test", "omission"),
            ("xn--exmple-qta.test", "homoglyph"),
            ("broken.test", "various"),
            ("www.wild.test", "subdomain"),
        ])
    }

    #[test]
    fn json_rows_have_the_documented_keys() {
        let mut out = Vec::new();
        write_json(&mut out, &rows(&report(), &fuzzers(), false)).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();

        assert_eq!(lines.len(), 3, "{lines:?}");
        for key in ["domain", "fuzzer", "unicode", "a", "aaaa", "ns", "mx"] {
            assert!(lines[0].get(key).is_some(), "missing {key} in {}", lines[0]);
        }
        assert_eq!(lines[0]["domain"], "examp1e.test");
        assert_eq!(lines[0]["fuzzer"], "replacement");
        assert_eq!(lines[0]["mx"], serde_json::json!(["mx.examp1e.test"]));
        assert_eq!(lines[1]["unicode"], "exámple.test");
        assert_eq!(lines[2]["domain"], "wild.test");
        assert_eq!(lines[2]["fuzzer"], "subdomain");
        assert_eq!(
            lines[2]["wildcard_of"],
            serde_json::json!(["www.wild.test"])
        );
    }

    #[test]
    fn text_rows_are_aligned() {
        let mut out = Vec::new();
        write_text(&mut out, &rows(&report(), &fuzzers(), true)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("replacement  examp1e.test "), "{text}");
        assert!(
            lines[1].contains("xn--exmple-qta.test (exámple.test)"),
            "{text}"
        );
        assert!(lines[2].contains("unknown: A query: timed out"), "{text}");
        assert!(lines[3].contains("*.wild.test"), "{text}");
        // The A column starts at the same place in every registered row.
        assert_eq!(
            lines[0].find("192.0.2.1"),
            lines[3].find("203.0.113.7"),
            "{text}"
        );
    }

    #[test]
    fn unknown_rows_only_with_all() {
        let without = rows(&report(), &fuzzers(), false);
        assert!(without.iter().all(|row| row.unknown.is_none()));
        let with = rows(&report(), &fuzzers(), true);
        assert_eq!(with.iter().filter(|row| row.unknown.is_some()).count(), 1);
    }

    #[test]
    fn summary_leaves_out_wildcard_names() {
        let summary = summarize(&report(), 5);
        assert_eq!(
            summary,
            ScanSummary {
                generated: 5,
                registered: 2,
                unknown: 1,
                wildcard_zones: 1
            }
        );
    }

    #[test]
    fn nameserver_forms() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("127.0.0.1"),
            Ok("127.0.0.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("[::1]:53"),
            Ok("[::1]:53".parse().unwrap())
        );
        let error = parse_nameserver("ns1.example.test:53").unwrap_err();
        assert!(error.contains("ns1.example.test:53"), "{error}");
    }
}
