//! `vigie permute`: prints the lookalike names of a domain as a list, JSON lines or CSV.
//!
//! It needs no configuration and sends no query: resolving the names is `vigie scan`'s job.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::domain::lists::{self, ListResult};
use crate::domain::{Fuzzer, Permutation, PermuteOptions, permute};

/// Arguments of `vigie permute`.
#[derive(Debug, Clone, Args)]
pub struct PermuteArgs {
    /// Domain to permute, in Unicode or punycode (`example.com`, `bücher.de`).
    pub domain: String,

    /// Output format. `list` prints one ASCII name a line. `json` prints one object a line
    /// with `domain`, `fuzzer` and `unicode`, and `csv` prints the same columns after a header.
    #[arg(long, value_enum, default_value_t = OutputFormat::List)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub fuzzers: FuzzerArgs,
}

/// Fuzzer selection, shared by `vigie permute` and `vigie scan`.
#[derive(Debug, Clone, Default, Args)]
pub struct FuzzerArgs {
    /// Fuzzer to run (repeatable): addition, bitsquatting, cyrillic, homoglyph, hyphenation,
    /// insertion, omission, plural, repetition, replacement, subdomain, transposition,
    /// vowel-swap, various, dictionary, tld-swap. Default: all but dictionary and tld-swap.
    #[arg(long = "fuzzer", value_name = "NAME", value_parser = parse_fuzzer)]
    pub fuzzers: Vec<Fuzzer>,

    /// Word list for the dictionary fuzzer, one word a line, used on top of the built-in
    /// list; turns the dictionary fuzzer on.
    #[arg(long, value_name = "FILE")]
    pub dictionary: Option<PathBuf>,

    /// TLD list for the TLD-swap fuzzer, one TLD a line, used on top of the built-in list;
    /// turns the TLD-swap fuzzer on.
    #[arg(long, value_name = "FILE")]
    pub tld_file: Option<PathBuf>,

    /// Run every fuzzer, dictionary and TLD swap with their built-in lists included.
    #[arg(long, conflicts_with = "fuzzers")]
    pub all_fuzzers: bool,
}

/// Output format of `vigie permute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One ASCII (punycode) name a line.
    List,
    /// One JSON object a line: `{"domain": ..., "fuzzer": ..., "unicode": ...}`.
    Json,
    /// CSV with the header `domain,fuzzer,unicode`.
    Csv,
}

fn parse_fuzzer(name: &str) -> Result<Fuzzer, String> {
    Fuzzer::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Fuzzer::ALL.iter().map(|fuzzer| fuzzer.as_str()).collect();
        format!("unknown fuzzer {name:?}; use one of {}", known.join(", "))
    })
}

/// Runs `vigie permute`: generates the names and writes them to standard output.
pub fn run(args: &PermuteArgs) -> anyhow::Result<()> {
    let options = options_from(&args.fuzzers)?;
    let permutations = permute(&args.domain, &options)?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match write_permutations(&mut out, &permutations, args.format).and_then(|()| out.flush()) {
        // The reader went away (`vigie permute x.com | head`): nothing left to do.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to standard output"),
    }
}

/// Builds the generation options from the arguments, reading the word and TLD files.
pub fn options_from(args: &FuzzerArgs) -> anyhow::Result<PermuteOptions> {
    let mut options = PermuteOptions {
        fuzzers: if args.all_fuzzers {
            Fuzzer::ALL.to_vec()
        } else {
            args.fuzzers.clone()
        },
        ..PermuteOptions::default()
    };
    if let Some(path) = &args.dictionary {
        options.dictionary = read_list(path, "dictionary", lists::parse_words)?;
        if !options.fuzzers.is_empty() && !options.fuzzers.contains(&Fuzzer::Dictionary) {
            options.fuzzers.push(Fuzzer::Dictionary);
        }
    }
    if let Some(path) = &args.tld_file {
        options.tlds = read_list(path, "TLD file", lists::parse_tlds)?;
        if !options.fuzzers.is_empty() && !options.fuzzers.contains(&Fuzzer::TldSwap) {
            options.fuzzers.push(Fuzzer::TldSwap);
        }
    }
    Ok(options)
}

fn read_list(
    path: &Path,
    what: &str,
    parse: fn(&str, &str) -> ListResult,
) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} {}; check the path", path.display()))?;
    match parse(&text, &path.display().to_string()) {
        Ok(entries) if entries.is_empty() => {
            bail!("the {what} {} has no entry; add one a line", path.display())
        }
        Ok(entries) => Ok(entries),
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            bail!(
                "{} bad line(s) in the {what}, fix them:\n{}",
                errors.len(),
                lines.join("\n")
            )
        }
    }
}

#[derive(Serialize)]
struct Row<'a> {
    domain: &'a str,
    fuzzer: &'static str,
    unicode: String,
}

impl<'a> Row<'a> {
    fn new(permutation: &'a Permutation) -> Row<'a> {
        Row {
            domain: &permutation.domain,
            fuzzer: permutation.fuzzer.as_str(),
            unicode: idna::domain_to_unicode(&permutation.domain).0,
        }
    }
}

/// Writes permutations in one of the output formats.
pub fn write_permutations(
    out: &mut impl Write,
    permutations: &[Permutation],
    format: OutputFormat,
) -> io::Result<()> {
    match format {
        OutputFormat::List => {
            for permutation in permutations {
                writeln!(out, "{}", permutation.domain)?;
            }
        }
        OutputFormat::Json => {
            for permutation in permutations {
                serde_json::to_writer(&mut *out, &Row::new(permutation))?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for permutation in permutations {
                writer
                    .serialize(Row::new(permutation))
                    .map_err(io::Error::other)?;
            }
            // An empty output still gets its header.
            if permutations.is_empty() {
                writer
                    .write_record(["domain", "fuzzer", "unicode"])
                    .map_err(io::Error::other)?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PermuteArgs,
    }

    fn parse(argv: &[&str]) -> Result<PermuteArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("permute").chain(argv.iter().copied()))
            .map(|cli| cli.args)
    }

    fn sample() -> Vec<Permutation> {
        vec![
            Permutation {
                domain: "paypa1.com".to_owned(),
                fuzzer: Fuzzer::Homoglyph,
            },
            Permutation {
                domain: "xn--bcher-kva.de".to_owned(),
                fuzzer: Fuzzer::Homoglyph,
            },
        ]
    }

    fn render(format: OutputFormat) -> String {
        let mut out = Vec::new();
        write_permutations(&mut out, &sample(), format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn list_format() {
        assert_eq!(render(OutputFormat::List), "paypa1.com\nxn--bcher-kva.de\n");
    }

    #[test]
    fn json_format() {
        let text = render(OutputFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["domain"], "xn--bcher-kva.de");
        assert_eq!(second["fuzzer"], "homoglyph");
        assert_eq!(second["unicode"], "bücher.de");
    }

    #[test]
    fn csv_format() {
        assert_eq!(
            render(OutputFormat::Csv),
            "domain,fuzzer,unicode\npaypa1.com,homoglyph,paypa1.com\nxn--bcher-kva.de,homoglyph,bücher.de\n"
        );
        let mut out = Vec::new();
        write_permutations(&mut out, &[], OutputFormat::Csv).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "domain,fuzzer,unicode\n");
    }

    #[test]
    fn arguments_parse() {
        let args = parse(&[
            "example.com",
            "--format",
            "json",
            "--fuzzer",
            "vowel-swap",
            "--fuzzer",
            "tld-swap",
        ])
        .unwrap();
        assert_eq!(args.format, OutputFormat::Json);
        assert_eq!(args.fuzzers.fuzzers, [Fuzzer::VowelSwap, Fuzzer::TldSwap]);

        let error = parse(&["example.com", "--fuzzer", "typo"]).unwrap_err();
        assert!(
            error.to_string().contains("unknown fuzzer \"typo\""),
            "{error}"
        );
        assert!(parse(&["example.com", "--all-fuzzers", "--fuzzer", "omission"]).is_err());
    }

    #[test]
    fn all_runs_every_fuzzer() {
        let args = parse(&["example.com", "--all-fuzzers"]).unwrap();
        assert_eq!(options_from(&args.fuzzers).unwrap().fuzzers, Fuzzer::ALL);
    }

    #[test]
    fn dictionary_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("words.txt");
        std::fs::write(&good, "# brand words\nacme\n").unwrap();
        let args = parse(&[
            "example.com",
            "--fuzzer",
            "omission",
            "--dictionary",
            good.to_str().unwrap(),
        ])
        .unwrap();
        let options = options_from(&args.fuzzers).unwrap();
        assert_eq!(options.dictionary, ["acme"]);
        assert_eq!(options.fuzzers, [Fuzzer::Omission, Fuzzer::Dictionary]);

        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, "acme\nno way\n").unwrap();
        let args = parse(&["example.com", "--dictionary", bad.to_str().unwrap()]).unwrap();
        let error = options_from(&args.fuzzers).unwrap_err().to_string();
        assert!(
            error.contains(&format!("{}:2: invalid word \"no way\"", bad.display())),
            "{error}"
        );

        let missing = dir.path().join("missing.txt");
        let args = parse(&["example.com", "--tld-file", missing.to_str().unwrap()]).unwrap();
        let error = options_from(&args.fuzzers).unwrap_err().to_string();
        assert!(error.contains("cannot read the TLD file"), "{error}");
    }

    #[test]
    fn invalid_domain_is_an_error() {
        let args = parse(&["https://example.com/"]).unwrap();
        let error = run(&args).unwrap_err().to_string();
        assert!(error.contains("this is a URL"), "{error}");
    }
}
