//! Benchmarks of the `ct` source.
//!
//! Usage: `cargo bench --bench ct [-- throughput|follow]` (both by default).
//!
//! - `throughput`: certificates parsed and matched per second on the calling thread. The
//!   entries are 4,000 certificates and precertificates generated with rcgen (names drawn
//!   from seed 2026, one certificate in fifty naming a lookalike) plus the real certificates
//!   of `tests/fixtures/ct` and of Debian's ca-certificates when installed, cycled to
//!   100,000 entries. Two paths are timed: `process_entries` on decoded leaves, and the
//!   whole worker job (`get-entries` JSON and base64, then `process_entries`). Run it under
//!   `taskset -c 1` to keep it on one core. The rate is given per second of the thread's
//!   CPU time as well as of wall time, because on a shared machine the thread does not
//!   get the core all the time.
//! - `follow`: a child process serves 10 RFC 6962 logs of 20,000 entries each on 127.0.0.1;
//!   this process follows them with the real source from their first entry (`backfill`) and
//!   reports the time taken, its CPU time and its peak resident memory (`VmHWM`), which do
//!   not include the logs' own.

#[path = "../tests/support/ct_log.rs"]
mod ct_log;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ct_log::{CtLog, TestCa};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::sources::ct::{LogRef, decode_body, process_entries};
use vigie::store::Store;

const UNIQUE_CERTIFICATES: usize = 4_000;
const ENTRIES: usize = 100_000;
const ROUNDS: usize = 3;
const LOGS: usize = 10;
const ENTRIES_PER_LOG: usize = 20_000;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "net", "sor", "ba", "tel", "ru", "vin", "pa", "zo", "dex", "ar", "qui",
    "men", "sol", "tra", "ve", "go", "lux", "ni", "cor", "fa", "pi", "stre", "wo", "hal", "ex",
];
const WORDS: &[&str] = &[
    "shop", "news", "cloud", "login", "secure", "home", "blog", "media", "store", "online", "api",
    "mail", "app", "cdn", "static", "dev", "staging", "auth", "portal", "status",
];
const TLDS: &[&str] = &["com", "net", "org", "io", "co.uk", "de", "fr", "xyz", "app"];
const BRANDS: &[(&str, &str)] = &[
    ("paypal", "paypal.com"),
    ("netflix", "netflix.com"),
    ("metamask", "metamask.io"),
];
const REAL_CERTIFICATES: &[&[u8]] = &[
    include_bytes!("../tests/fixtures/ct/lets-encrypt-leaf-lists.for-our.info.der"),
    include_bytes!("../tests/fixtures/ct/dfn-leaf-www.cas.dhbw.de.der"),
    include_bytes!("../tests/fixtures/ct/lets-encrypt-x3-cross-signed.der"),
    include_bytes!("../tests/fixtures/ct/igc-a-root.der"),
];

/// Returns the CPU time used so far by the calling thread (CLOCK_THREAD_CPUTIME_ID) or by
/// the process (CLOCK_PROCESS_CPUTIME_ID).
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(clock, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Names of one certificate: 1 (40 %), 2 (40 %), 3 to 5 (15 %) or 10 to 30 (5 %).
fn certificate_names(rng: &mut StdRng) -> Vec<String> {
    let apex = if rng.random_range(0..50) == 0 {
        let (brand, _) = BRANDS[rng.random_range(0..BRANDS.len())];
        format!("{brand}-{}.{}", pick(rng, WORDS), pick(rng, TLDS))
    } else {
        let label: String = (0..rng.random_range(2..5))
            .map(|_| pick(rng, SYLLABLES))
            .collect();
        format!("{label}.{}", pick(rng, TLDS))
    };
    let count = match rng.random_range(0..100) {
        0..40 => 1,
        40..80 => 2,
        80..95 => rng.random_range(3..6),
        _ => rng.random_range(10..31),
    };
    let mut names = vec![apex.clone()];
    if count >= 2 {
        names.push(format!("www.{apex}"));
    }
    while names.len() < count {
        names.push(format!("{}{}.{apex}", pick(rng, WORDS), names.len()));
    }
    names
}

/// Makes the distinct leaves: generated X509 and precertificate entries (one in three a
/// precertificate), then the real certificates.
fn unique_leaves() -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(2026);
    let ca = TestCa::new("Bench CA", "Bench CA R1");
    let mut leaves = Vec::with_capacity(UNIQUE_CERTIFICATES + 200);
    for serial in 0..UNIQUE_CERTIFICATES as u64 {
        let names = certificate_names(&mut rng);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let leaf = if serial % 3 == 0 {
            ca.precert_entry(&ca.precertificate(serial, None, &names)).0
        } else {
            ca.x509_entry(&ca.certificate(serial, None, &names)).0
        };
        leaves.push(leaf);
    }
    for der in REAL_CERTIFICATES
        .iter()
        .map(|d| d.to_vec())
        .chain(system_ca_certificates())
    {
        leaves.push(ca.x509_entry(&der).0);
    }
    leaves
}

fn system_ca_certificates() -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir("/usr/share/ca-certificates/mozilla") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .filter_map(|text| {
            let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            STANDARD.decode(body).ok()
        })
        .collect()
}

fn brands(count: usize) -> Vec<BrandSpec> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut specs: Vec<BrandSpec> = BRANDS
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
            .map(|_| pick(&mut rng, SYLLABLES))
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

fn throughput() {
    let started = Instant::now();
    let unique = unique_leaves();
    println!(
        "{} distinct leaves made in {:.1?}, cycled to {ENTRIES} entries.",
        unique.len(),
        started.elapsed()
    );
    let entries: Vec<Result<Vec<u8>, String>> = unique
        .iter()
        .cycle()
        .take(ENTRIES)
        .map(|leaf| Ok(leaf.clone()))
        .collect();
    // get-entries bodies of 256 entries, as logs serve them.
    let bodies: Vec<String> = entries
        .chunks(256)
        .map(|chunk| {
            let items: Vec<String> = chunk
                .iter()
                .map(|leaf| {
                    format!(
                        r#"{{"leaf_input":"{}","extra_data":""}}"#,
                        STANDARD.encode(leaf.as_ref().unwrap())
                    )
                })
                .collect();
            format!(r#"{{"entries":[{}]}}"#, items.join(","))
        })
        .collect();
    let log = LogRef {
        name: "bench".to_string(),
        url: "http://127.0.0.1:1/".to_string(),
    };

    println!();
    println!(
        "| brands | path | {ENTRIES} entries, wall (best of {ROUNDS}) | CPU (best of {ROUNDS}) | certificates/s (wall) | certificates/s (CPU) | names/s (CPU) | findings |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for count in [3, 300] {
        let matcher = Matcher::compile(&brands(count)).expect("brands compile");
        let now = time::OffsetDateTime::now_utc();

        let mut best = (Duration::MAX, Duration::MAX);
        let (mut certificates, mut names, mut findings) = (0, 0, 0);
        for _ in 0..ROUNDS {
            let (started, cpu) = (Instant::now(), cpu_time(libc::CLOCK_THREAD_CPUTIME_ID));
            let outcome = process_entries(&matcher, &log, 0, &entries, now);
            best.0 = best.0.min(started.elapsed());
            best.1 = best.1.min(cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - cpu);
            certificates = outcome.certificates;
            names = outcome.names;
            findings = outcome.findings.len();
        }
        print_row(count, "leaves", best, certificates, names, findings);

        let mut best = (Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            let (started, cpu) = (Instant::now(), cpu_time(libc::CLOCK_THREAD_CPUTIME_ID));
            let mut total = 0;
            for (at, body) in bodies.iter().enumerate() {
                let decoded = decode_body(body.as_bytes()).expect("bodies decode");
                total +=
                    process_entries(&matcher, &log, at as u64 * 256, &decoded, now).certificates;
            }
            best.0 = best.0.min(started.elapsed());
            best.1 = best.1.min(cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - cpu);
            assert_eq!(total, certificates);
        }
        print_row(count, "JSON + leaves", best, certificates, names, findings);
    }
}

fn print_row(
    brands: usize,
    path: &str,
    (wall, cpu): (Duration, Duration),
    certs: u64,
    names: u64,
    findings: usize,
) {
    println!(
        "| {brands} | {path} | {wall:.2?} | {cpu:.2?} | {:.0} | {:.0} | {:.0} | {findings} |",
        certs as f64 / wall.as_secs_f64(),
        certs as f64 / cpu.as_secs_f64(),
        names as f64 / cpu.as_secs_f64()
    );
}

/// Child process: serves `LOGS` logs of `ENTRIES_PER_LOG` entries, prints their URLs, and
/// runs until killed.
fn serve_logs() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let unique = unique_leaves();
        let mut stdout = std::io::stdout();
        for index in 0..LOGS {
            let log = CtLog::start().await;
            for entry in 0..ENTRIES_PER_LOG {
                log.push(&unique[(entry * 7 + index) % unique.len()], b"");
            }
            writeln!(stdout, "{}", log.url).unwrap();
        }
        writeln!(stdout, "ready").unwrap();
        stdout.flush().unwrap();
        std::future::pending::<()>().await;
    });
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn follow() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .arg("--serve-logs")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the log server process");
    let mut urls = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        urls.push(line);
    }
    assert_eq!(urls.len(), LOGS, "the child serves every log");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    for (brand, domain) in BRANDS {
        std::fs::write(
            dir.path().join(format!("watchlists/{brand}.toml")),
            format!("[brand]\nname = \"{brand}\"\n\n[[domains]]\nname = \"{domain}\"\n"),
        )
        .unwrap();
    }
    let mut toml = "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n\
                    [sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n\n\
                    [ct]\nbackfill = true\npoll_interval_secs = 3600\n"
        .to_string();
    for (index, url) in urls.iter().enumerate() {
        toml.push_str(&format!("\n[ct.logs.log{index}]\nurl = \"{url}\"\n"));
    }
    std::fs::write(dir.path().join("vigie.toml"), toml).unwrap();
    let config = vigie::config::load(&dir.path().join("vigie.toml")).expect("config loads");
    let workers = vigie::sources::ct::Workers::new(0).size();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (elapsed, cpu, findings, before) = runtime.block_on(async {
        let store = Arc::new(Store::open(&config.daemon.state_dir.join("vigie.db")).unwrap());
        let (_tx, rx) = watch::channel(Arc::new(config.clone()));
        let shutdown = CancellationToken::new();
        let ctx = SourceContext {
            pipeline: Pipeline::new(store.clone(), rx.clone(), Arc::new(Notify::new())),
            config: rx,
            shutdown: shutdown.clone(),
        };
        let before = status_kib("VmHWM:");
        let cpu_before = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID);
        let started = Instant::now();
        let handle = tokio::spawn(vigie::sources::ct::run(ctx));
        let target = ENTRIES_PER_LOG.to_string();
        loop {
            let done = urls.iter().all(|url| {
                store
                    .cursor("ct", &format!("position:{url}"))
                    .unwrap()
                    .as_deref()
                    == Some(target.as_str())
            });
            if done {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1200),
                "the logs are not read within 20 minutes"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();
        shutdown.cancel();
        let _ = handle.await;
        let findings: BTreeSet<String> = store
            .findings()
            .unwrap()
            .into_iter()
            .map(|f| f.subject)
            .collect();
        let cpu = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu_before;
        (elapsed, cpu, findings.len(), before)
    });
    let _ = child.kill();
    let _ = child.wait();

    let total = (LOGS * ENTRIES_PER_LOG) as f64;
    println!();
    println!(
        "| logs | entries | workers | time | entries/s | CPU time | entries per CPU second | findings | VmHWM before | VmHWM after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {LOGS} | {} | {workers} | {elapsed:.2?} | {:.0} | {cpu:.2?} | {:.0} | {findings} | {} MiB | {} MiB |",
        LOGS * ENTRIES_PER_LOG,
        total / elapsed.as_secs_f64(),
        total / cpu.as_secs_f64(),
        before / 1024,
        status_kib("VmHWM:") / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve-logs") {
        serve_logs();
        return;
    }
    vigie::init_tls();
    let wanted = |name: &str| {
        let picked: Vec<&String> = args[1..]
            .iter()
            .filter(|a| a.as_str() == "throughput" || a.as_str() == "follow")
            .collect();
        picked.is_empty() || picked.iter().any(|a| a.as_str() == name)
    };
    if wanted("throughput") {
        throughput();
    }
    if wanted("follow") {
        follow();
    }
}
