//! Runs the matcher over a list of inputs for `scripts/eval-matcher.py`, which computes
//! precision and recall from the output.
//!
//! Usage: `cargo bench --bench match_eval -- WATCHLISTS.json INPUTS.txt > RESULTS.jsonl`.
//! WATCHLISTS.json is an array of `{id, brand, keywords: [{text, word_boundary}], legitimate,
//! allow}`. INPUTS.txt contains one domain, host name or URL a line. Each output line is the
//! match as `vigie match` prints it plus `line`, or `{"line": N}` when nothing matched, or
//! `{"line": N, "error": "..."}` for an invalid input.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use serde::Deserialize;
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};

#[derive(Deserialize)]
struct KeywordFile {
    text: String,
    #[serde(default)]
    word_boundary: bool,
}

#[derive(Deserialize)]
struct WatchlistFile {
    id: String,
    brand: String,
    #[serde(default)]
    keywords: Vec<KeywordFile>,
    #[serde(default)]
    legitimate: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [watchlists, inputs] = args.as_slice() else {
        eprintln!("usage: match_eval WATCHLISTS.json INPUTS.txt");
        std::process::exit(2);
    };

    let files: Vec<WatchlistFile> = serde_json::from_reader(std::fs::File::open(watchlists)?)?;
    let specs: Vec<BrandSpec> = files
        .into_iter()
        .map(|w| BrandSpec {
            id: w.id,
            brand: w.brand,
            keywords: w
                .keywords
                .into_iter()
                .map(|k| KeywordSpec {
                    text: k.text,
                    word_boundary: k.word_boundary,
                })
                .collect(),
            legitimate: w.legitimate,
            allow: w.allow,
        })
        .collect();
    let started = Instant::now();
    let matcher = Matcher::compile(&specs)?;
    eprintln!(
        "match_eval: compiled {} brands ({} patterns) in {:.2?}",
        matcher.brand_count(),
        matcher.pattern_count(),
        started.elapsed()
    );

    let started = Instant::now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut count = 0u64;
    for (index, line) in BufReader::new(std::fs::File::open(inputs)?)
        .lines()
        .enumerate()
    {
        let line = line?;
        let number = index + 1;
        count += 1;
        let value = match matcher.check_input(&line) {
            Ok(Some(found)) => {
                let mut value = serde_json::to_value(&found)?;
                value["line"] = number.into();
                value
            }
            Ok(None) => serde_json::json!({ "line": number }),
            Err(e) => serde_json::json!({ "line": number, "error": e.to_string() }),
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "match_eval: checked {count} inputs in {:.2?}",
        started.elapsed()
    );
    Ok(())
}
