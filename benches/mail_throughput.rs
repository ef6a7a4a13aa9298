//! Throughput of mail analysis on one thread: every mail of the shared test set (SpamAssassin,
//! phishing_pot, Nazario's mbox, ARF reports) through `vigie::mail::analyze`, against ten
//! brands, best of five passes.
//!
//! Usage: `taskset -c 1 cargo bench --bench mail_throughput` (one core). The mails are read
//! from `$VIGIE_DATA/emails`, else from `../shared/data/emails` beside the repository; the
//! bench prints a note and exits when neither exists, because that data is not part of the
//! repository (its licences do not allow it).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigie::detect::{BrandSpec, Matcher};
use vigie::mail::{MailSettings, analyze};

const ROUNDS: usize = 5;

/// Brands most imitated in the shared set, by their legitimate domain.
const BRANDS: &[&str] = &[
    "paypal.com",
    "ebay.com",
    "amazon.com",
    "chase.com",
    "correios.com.br",
    "bradesco.com.br",
    "microsoft.com",
    "facebook.com",
    "netflix.com",
    "wellsfargo.com",
];

/// Mail servers of the recipients of the shared set's corpora.
const OWN_HOSTS: &[&str] = &[
    "mail.protection.outlook.com",
    "prod.protection.outlook.com",
    "prod.outlook.com",
    "outlook.office365.com",
    "spamassassin.taint.org",
    "netnoteinc.com",
    "slashnull.org",
    "webnote.net",
    "domain.com",
];

fn data_dir() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("VIGIE_DATA").map(|d| PathBuf::from(d).join("emails")),
        Some(repo.join("../shared/data/emails")),
    ];
    candidates.into_iter().flatten().find(|dir| dir.is_dir())
}

fn collect(dir: &Path, mails: &mut Vec<Vec<u8>>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, mails);
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".eml") {
            mails.push(std::fs::read(&path).expect("readable mail"));
        } else if name.ends_with(".mbox") {
            let data = std::fs::read(&path).expect("readable mbox");
            mails.extend(vigie::cli::mail::split_mbox(&data));
        }
    }
}

fn main() {
    let Some(dir) = data_dir() else {
        println!(
            "mail_throughput: no shared data (set VIGIE_DATA or place shared/ beside the repository); skipped"
        );
        return;
    };
    let mut mails = Vec::new();
    collect(&dir, &mut mails);
    let bytes: usize = mails.iter().map(Vec::len).sum();

    let specs: Vec<BrandSpec> = BRANDS
        .iter()
        .map(|domain| BrandSpec {
            id: domain.split('.').next().unwrap_or(domain).to_string(),
            brand: domain.to_string(),
            keywords: Vec::new(),
            legitimate: vec![domain.to_string()],
            allow: Vec::new(),
        })
        .collect();
    let matcher = Matcher::compile(&specs).expect("brands compile");
    let settings = MailSettings::new(
        Vec::new(),
        OWN_HOSTS.iter().map(|h| h.to_string()).collect(),
        vigie::mail::settings::BUILTIN_FREE_MAIL.iter().copied(),
    );

    let mut best = Duration::MAX;
    let mut analysed = 0;
    let mut findings = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        analysed = 0;
        findings = 0;
        for mail in &mails {
            if let Ok(report) = analyze(black_box(mail), &matcher, &settings) {
                analysed += 1;
                findings += usize::from(!report.findings.is_empty());
                black_box(&report);
            }
        }
        best = best.min(start.elapsed());
    }

    let seconds = best.as_secs_f64();
    println!(
        "mail_throughput: {} mails ({:.1} MB), {analysed} analysed, {findings} with findings",
        mails.len(),
        bytes as f64 / 1e6
    );
    println!(
        "best of {ROUNDS} passes: {:.1} ms, {:.0} mails/s, {:.1} MB/s, {:.0} us per mail",
        seconds * 1e3,
        mails.len() as f64 / seconds,
        bytes as f64 / 1e6 / seconds,
        seconds * 1e6 / mails.len() as f64
    );
}
