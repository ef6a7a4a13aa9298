//! Throughput of the matcher: 200,000 host names against 3 brands and against 300 brands,
//! on one thread, in the same run.
//!
//! Usage: `cargo bench --bench match_throughput`. The names are generated from a fixed seed:
//! nine in ten are random multi-word hosts, one in ten a lookalike of one of the three
//! first brands, so that both the silent path and the scoring path are timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};

const NAMES: usize = 200_000;
const ROUNDS: usize = 5;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "net", "sor", "ba", "tel", "ru", "vin", "pa", "zo", "dex", "ar", "qui",
    "men", "sol", "tra", "ve", "go", "lux", "ni", "cor", "fa", "pi", "stre", "wo", "hal", "ex",
];
const WORDS: &[&str] = &[
    "shop", "news", "cloud", "login", "secure", "home", "blog", "media", "store", "online",
    "account", "support", "mail", "app", "city", "travel", "bank", "data", "web", "group",
];
const TLDS: &[&str] = &[
    "com", "net", "org", "io", "co.uk", "de", "fr", "xyz", "online", "app",
];
const REAL: &[(&str, &str)] = &[
    ("paypal", "paypal.com"),
    ("netflix", "netflix.com"),
    ("metamask", "metamask.io"),
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn brands(count: usize, rng: &mut StdRng) -> Vec<BrandSpec> {
    let mut specs: Vec<BrandSpec> = REAL
        .iter()
        .map(|(keyword, domain)| BrandSpec {
            id: keyword.to_string(),
            brand: keyword.to_string(),
            keywords: vec![KeywordSpec::new(*keyword)],
            legitimate: vec![domain.to_string()],
            allow: Vec::new(),
        })
        .collect();
    while specs.len() < count {
        let name: String = (0..rng.random_range(3..5))
            .map(|_| pick(rng, SYLLABLES))
            .collect();
        specs.push(BrandSpec {
            id: format!("brand{}", specs.len()),
            brand: name.clone(),
            keywords: vec![KeywordSpec::new(name.clone())],
            legitimate: vec![format!("{name}.com")],
            allow: Vec::new(),
        });
    }
    specs
}

fn lookalike(rng: &mut StdRng) -> String {
    let (keyword, _) = REAL[rng.random_range(0..REAL.len())];
    let mut label: Vec<char> = keyword.chars().collect();
    match rng.random_range(0..4) {
        0 => {
            let at = rng.random_range(0..label.len());
            label.remove(at);
        }
        1 => label.push('s'),
        2 => label.extend(format!("-{}", pick(rng, WORDS)).chars()),
        _ => label.insert(0, '0'),
    }
    format!(
        "{}.{}",
        label.into_iter().collect::<String>(),
        pick(rng, TLDS)
    )
}

fn names(rng: &mut StdRng) -> Vec<String> {
    (0..NAMES)
        .map(|_| {
            if rng.random_range(0..10) == 0 {
                return lookalike(rng);
            }
            let mut label: String = (0..rng.random_range(2..5))
                .map(|_| pick(rng, SYLLABLES))
                .collect();
            if rng.random_bool(0.5) {
                label = format!("{label}-{}", pick(rng, WORDS));
            }
            let host = format!("{label}.{}", pick(rng, TLDS));
            if rng.random_bool(0.3) {
                format!("{}.{host}", pick(rng, WORDS))
            } else {
                host
            }
        })
        .collect()
}

fn run(matcher: &Matcher, names: &[String]) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut flagged = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        flagged = names
            .iter()
            .filter(|n| black_box(matcher.check(n)).is_some())
            .count();
        best = best.min(started.elapsed());
    }
    (best, flagged)
}

fn main() {
    let mut rng = StdRng::seed_from_u64(2026);
    let names = names(&mut rng);
    println!(
        "| brands | patterns | compile | {NAMES} names (best of {ROUNDS}) | names/s | flagged |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for count in [3, 300] {
        let specs = brands(count, &mut StdRng::seed_from_u64(7));
        let started = Instant::now();
        let matcher = Matcher::compile(&specs).expect("generated brands compile");
        let compile = started.elapsed();
        let (elapsed, flagged) = run(&matcher, &names);
        println!(
            "| {count} | {} | {compile:.2?} | {elapsed:.2?} | {:.0} | {flagged} |",
            matcher.pattern_count(),
            NAMES as f64 / elapsed.as_secs_f64()
        );
    }
}
