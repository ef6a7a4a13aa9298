//! Cost of one text-matcher check as the watchlists grow: the automatons are built once, so a
//! check of the same text should cost about the same with 1 or 2,000 watchlists.
//!
//! Run with `cargo test --test feed_text_cost -- --ignored --nocapture` (debug build; add
//! `--release` for production figures). It is ignored by default because timings on a shared
//! machine vary.

use std::time::{Duration, Instant};

use vigie::detect::{TextMatcher, TextSpec};

fn spec(n: usize) -> TextSpec {
    TextSpec {
        id: format!("brand{n}"),
        brand: format!("Brandname{n} Holdings"),
        keywords: vec![format!("brandname{n}")],
        executives: vec![
            format!("Alexandra{n} Martin"),
            format!("Benedikt{n} Okafor"),
        ],
        products: vec![format!("Paywise{n}")],
        addresses: vec![format!("{n} Harbour Street, Springfield")],
        phones: vec![("44".to_string(), format!("20{n:08}"))],
        ibans: vec![format!("GB{:02}TEST{n:014}", n % 97)],
        scam_words: None,
    }
}

/// Returns the fastest of `runs` checks of `text`.
fn fastest_check(matcher: &TextMatcher, text: &str, runs: usize) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(matcher.check(text));
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
#[ignore = "timing figures; run by hand"]
fn check_cost_does_not_grow_with_watchlists() {
    let mut text = String::new();
    for fixture in ["heise.atom", "reddit.rss", "craigslist.rss"] {
        let path = format!(
            "{}/tests/fixtures/feeds/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        text.push_str(&std::fs::read_to_string(path).unwrap());
    }
    // One hit of the first brand, so that both matchers do the same work on hits.
    text.push_str("\nA letter signed Alexandra0 Martin, Brandname0 Holdings.\n");

    let mut figures = Vec::new();
    for brands in [1, 100, 2000] {
        let specs: Vec<TextSpec> = (0..brands).map(spec).collect();
        let start = Instant::now();
        let matcher = TextMatcher::compile(&specs).unwrap();
        let compile = start.elapsed();
        let check = fastest_check(&matcher, &text, 20);
        let found = matcher.check(&text);
        assert_eq!(found.len(), 1, "{brands} watchlists");
        eprintln!(
            "{brands:>5} watchlists: compile {compile:>10.2?}, check of {} KB {check:>10.2?}",
            text.len() / 1024
        );
        figures.push(check);
    }
    let (one, many) = (figures[0], figures[2]);
    assert!(
        many < one * 3,
        "a check with 2000 watchlists took {many:?}, with 1 {one:?}"
    );
}
