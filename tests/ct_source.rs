//! The `ct` source against RFC 6962 logs served on 127.0.0.1: lookalike certificates found,
//! legitimate and real certificates silent, malformed entries kept aside, positions kept
//! across restarts, 429 honoured, short answers, a log that goes back in size, and a log list
//! read over HTTPS from a server with a lab CA's certificate.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::config::{self, Config};
use vigie::ct::leaf::encode_x509_leaf;
use vigie::model::Finding;
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::sources::ct;
use vigie::store::Store;

use support::ct_log::{CtLog, TestCa, wait_for};
use support::tls::{LabTls, serve};

const CRTSH_SAMPLE: &str = include_str!("fixtures/ct/crtsh-paypal-sample.json");

/// Real certificates (X509 entries) that name no watched brand.
const REAL_CERTIFICATES: &[&[u8]] = &[
    include_bytes!("fixtures/ct/lets-encrypt-leaf-lists.for-our.info.der"),
    include_bytes!("fixtures/ct/dfn-leaf-www.cas.dhbw.de.der"),
    include_bytes!("fixtures/ct/lets-encrypt-x3-cross-signed.der"),
    include_bytes!("fixtures/ct/igc-a-root.der"),
];

const WAIT: Duration = Duration::from_secs(30);

/// Writes vigie.toml with `ct` as its `[ct]` section and a PayPal watchlist whose
/// legitimate domains are paypal.com and `extra_domains`, and loads it.
fn write_config(dir: &Path, ct: &str, extra_domains: &[String]) -> Config {
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(
        dir.join("vigie.toml"),
        format!(
            "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n\
             [sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n{ct}\n"
        ),
    )
    .unwrap();
    let mut watchlist =
        "[brand]\nname = \"PayPal\"\nkeywords = [\"paypal\"]\n\n[[domains]]\nname = \"paypal.com\"\n"
            .to_string();
    for domain in extra_domains {
        watchlist.push_str(&format!("\n[[domains]]\nname = \"{domain}\"\n"));
    }
    std::fs::write(dir.join("watchlists/paypal.toml"), watchlist).unwrap();
    config::load(&dir.join("vigie.toml")).unwrap_or_else(|e| panic!("config does not load:\n{e}"))
}

/// A `[ct]` section that follows the logs at `urls` through `[ct.logs]` tables.
fn ct_section(urls: &[&str], extra: &str) -> String {
    let mut text = format!("[ct]\npoll_interval_secs = 1\nretry_max_secs = 2\n{extra}\n");
    for (index, url) in urls.iter().enumerate() {
        text.push_str(&format!("\n[ct.logs.test{index}]\nurl = \"{url}\"\n"));
    }
    text
}

fn open_store(config: &Config) -> Arc<Store> {
    Arc::new(Store::open(&config.daemon.state_dir.join("vigie.db")).expect("open the store"))
}

/// The source running in a task, stopped on drop of [`Running::stop`].
struct Running {
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
    health: vigie::health::Health,
}

impl Running {
    fn start(config: &Config, store: &Arc<Store>) -> Running {
        // The source's log lines are printed with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("vigie=debug")
            .try_init();
        let (_tx, rx) = watch::channel(Arc::new(config.clone()));
        let shutdown = CancellationToken::new();
        let pipeline = Pipeline::new(store.clone(), rx.clone(), Arc::new(Notify::new()));
        let health = pipeline.health().clone();
        let ctx = SourceContext {
            pipeline,
            config: rx,
            shutdown: shutdown.clone(),
        };
        Running {
            shutdown,
            handle: tokio::spawn(ct::run(ctx)),
            health,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("the source stops within 10 s")
            .expect("the source task does not panic");
    }
}

fn position(store: &Store, url: &str) -> Option<u64> {
    store
        .cursor("ct", &format!("position:{url}"))
        .unwrap()
        .map(|v| v.parse().unwrap())
}

async fn wait_for_position(store: &Store, url: &str, expected: u64) {
    let reached = wait_for(WAIT, || position(store, url) == Some(expected)).await;
    assert!(
        reached,
        "position of {url} is {:?}, expected {expected}",
        position(store, url)
    );
}

fn subjects(store: &Store) -> BTreeSet<String> {
    store
        .findings()
        .unwrap()
        .into_iter()
        .map(|f| f.subject)
        .collect()
}

/// Registrable domains of the names in the crt.sh sample of PayPal's own certificates.
fn crtsh_domains() -> (Vec<Vec<String>>, BTreeSet<String>) {
    let entries: Vec<Value> = serde_json::from_str(CRTSH_SAMPLE).unwrap();
    let mut certificates = Vec::new();
    let mut domains = BTreeSet::new();
    for entry in entries {
        let names: Vec<String> = entry["name_value"]
            .as_str()
            .unwrap()
            .lines()
            .map(str::to_lowercase)
            .filter(|name| name.contains('.') && !name.contains(' '))
            .collect();
        for name in &names {
            let name = name.trim_start_matches("*.");
            domains.insert(psl::domain_str(name).unwrap().to_string());
        }
        if !names.is_empty() {
            certificates.push(names);
        }
    }
    (certificates, domains)
}

/// Debian's CA certificates (the `ca-certificates` package), when installed.
fn system_ca_certificates() -> Vec<Vec<u8>> {
    use base64::Engine;
    let Ok(dir) = std::fs::read_dir("/usr/share/ca-certificates/mozilla") else {
        return Vec::new();
    };
    let mut certificates = Vec::new();
    for entry in dir.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
            certificates.push(der);
        }
    }
    certificates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookalikes_found_and_legitimate_silent() {
    let log = CtLog::start().await;
    let lookalike_ca = TestCa::new("Test Lookalike CA", "Test Issuing CA R1");
    let ca = &lookalike_ca;
    let mut serial = 0;
    let mut next = || {
        serial += 1;
        serial
    };

    // Real certificates, X509 entries.
    let system = system_ca_certificates();
    for der in REAL_CERTIFICATES
        .iter()
        .copied()
        .chain(system.iter().map(Vec::as_slice))
    {
        let (leaf, extra) = ca.x509_entry(der);
        log.push(&leaf, &extra);
    }
    // PayPal's own certificates (names from crt.sh), as precertificates and certificates.
    let (crtsh, crtsh_domains) = crtsh_domains();
    for (at, names) in crtsh.iter().enumerate() {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if at % 2 == 0 {
            let (leaf, extra) = ca.x509_entry(&ca.certificate(next(), None, &names));
            log.push(&leaf, &extra);
        } else {
            let precert = ca.precertificate(next(), None, &names);
            let (leaf, extra) = ca.precert_entry(&precert);
            log.push(&leaf, &extra);
        }
    }
    // Legitimate names.
    let legit = ca.certificate(
        next(),
        None,
        &["www.paypal.com", "paypal.com", "*.paypal.com"],
    );
    let (leaf, extra) = ca.x509_entry(&legit);
    log.push(&leaf, &extra);

    // Lookalikes: a typo (certificate and its precertificate), a combosquat, a wildcard, an
    // IDN homograph with a Unicode CN, and a precertificate alone.
    let typo_names = ["paypa1.com", "www.paypa1.com"];
    let precert = ca.precertificate(next(), None, &typo_names);
    let (leaf, extra) = ca.precert_entry(&precert);
    log.push(&leaf, &extra);
    let (leaf, extra) = ca.x509_entry(&ca.certificate(next(), None, &typo_names));
    log.push(&leaf, &extra);
    let combo = ca.certificate(
        next(),
        None,
        &["paypal-login-secure.com", "cdn.example.org"],
    );
    let (leaf, extra) = ca.x509_entry(&combo);
    log.push(&leaf, &extra);
    let wildcard = ca.certificate(next(), None, &["*.paypal-verify.net"]);
    let (leaf, extra) = ca.x509_entry(&wildcard);
    log.push(&leaf, &extra);
    let idn = ca.certificate(next(), Some("p\u{0430}ypal.com"), &["xn--pypal-4ve.com"]);
    let (leaf, extra) = ca.x509_entry(&idn);
    log.push(&leaf, &extra);
    let help = ca.precertificate(next(), None, &["paypal-account-help.com"]);
    let (leaf, extra) = ca.precert_entry(&help);
    log.push(&leaf, &extra);

    // Malformed entries: not base64, a truncated leaf, a leaf of an unknown entry type, and
    // a leaf whose certificate is not DER.
    let malformed_from = log.len();
    log.push_raw("not base64!");
    let good_leaf = ca.x509_entry(&combo).0;
    log.push(&good_leaf[..40], b"");
    let mut unknown_type = good_leaf.clone();
    unknown_type[11] = 7;
    log.push(&unknown_type, b"");
    log.push(
        &encode_x509_leaf(1, b"\x30\x82\xff\xffnot a certificate"),
        b"",
    );
    // The log goes on after them.
    let after = ca.certificate(next(), None, &["paypal-after-malformed.com"]);
    let (leaf, extra) = ca.x509_entry(&after);
    log.push(&leaf, &extra);

    // The log list names the test log; the watchlist owns PayPal's other domains.
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        r#"{{"operators": [{{"name": "Test", "logs": [
            {{"description": "Test log", "log_id": "AA==", "url": "{}", "state": {{"usable": {{}}}}}}]}}]}}"#,
        log.url
    );
    std::fs::write(dir.path().join("list.json"), list).unwrap();
    let extra_domains: Vec<String> = crtsh_domains
        .into_iter()
        .filter(|d| d != "paypal.com")
        .collect();
    let config = write_config(
        dir.path(),
        "[ct]\nlog_list_path = \"list.json\"\nbackfill = true\nbatch_size = 16\npoll_interval_secs = 1\n",
        &extra_domains,
    );
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, log.len()).await;
    running.stop().await;

    let expected: BTreeSet<String> = [
        "paypa1.com",
        "paypal-login-secure.com",
        "paypal-verify.net",
        "xn--pypal-4ve.com",
        "paypal-account-help.com",
        "paypal-after-malformed.com",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(subjects(&store), expected);

    let findings = store.findings().unwrap();
    let typo = findings.iter().find(|f| f.subject == "paypa1.com").unwrap();
    assert_eq!(
        typo.fingerprint,
        Finding::fingerprint_for("paypal", "domain", "paypa1.com"),
        "same fingerprint as the lookalike watch and the nrd source"
    );
    assert_eq!(typo.source, "ct");
    assert_eq!(typo.imitates, "paypal.com");
    assert_eq!(typo.sightings, 2, "precertificate and certificate");
    assert_eq!(typo.evidence["log"], "Test log");
    assert_eq!(typo.evidence["log_url"], log.url.as_str());
    assert_eq!(typo.evidence["entry_type"], "x509_entry");
    assert_eq!(
        typo.evidence["issuer"],
        "CN=Test Issuing CA R1, C=US, O=Test Lookalike CA"
    );
    assert_eq!(typo.evidence["not_before"], "2026-01-01T00:00:00Z");
    assert_eq!(typo.evidence["not_after"], "2026-04-01T00:00:00Z");
    assert_eq!(
        typo.evidence["names"],
        serde_json::json!(["paypa1.com", "www.paypa1.com"])
    );
    assert!(typo.evidence["index"].as_u64().is_some());
    assert_eq!(
        typo.facts.get(ct::ISSUER_FACT),
        Some(&BTreeSet::from(["Test Lookalike CA".to_string()]))
    );

    let help = findings
        .iter()
        .find(|f| f.subject == "paypal-account-help.com")
        .unwrap();
    assert_eq!(help.evidence["entry_type"], "precert_entry");
    let wildcard = findings
        .iter()
        .find(|f| f.subject == "paypal-verify.net")
        .unwrap();
    assert_eq!(
        wildcard.evidence["matched"][0]["name"],
        "*.paypal-verify.net"
    );
    assert_eq!(wildcard.evidence["matched"][0]["wildcard"], true);
    let idn = findings
        .iter()
        .find(|f| f.subject == "xn--pypal-4ve.com")
        .unwrap();
    assert_eq!(idn.evidence["matched"][0]["unicode"], "p\u{0430}ypal.com");
    let combo = findings
        .iter()
        .find(|f| f.subject == "paypal-login-secure.com")
        .unwrap();
    assert_eq!(
        combo.evidence["names"],
        serde_json::json!(["paypal-login-secure.com", "cdn.example.org"])
    );

    // Every finding alerted once; the typo's second sighting did not.
    assert_eq!(store.outbox_stats().unwrap().pending, expected.len() as u64);

    let quarantined = store
        .quarantined("ct", Some(log.url.as_str()), 100)
        .unwrap();
    let items: Vec<u64> = quarantined
        .iter()
        .map(|q| q.item.parse().unwrap())
        .collect();
    assert_eq!(
        items,
        (malformed_from..malformed_from + 4).collect::<Vec<_>>()
    );
    assert!(quarantined[0].reason.contains("base64"), "{quarantined:?}");
    assert!(
        quarantined[1].reason.contains("truncated"),
        "{quarantined:?}"
    );
    assert!(
        quarantined[2].reason.contains("entry type 7"),
        "{quarantined:?}"
    );
    assert!(
        quarantined[3].reason.contains("certificate"),
        "{quarantined:?}"
    );
    assert_eq!(quarantined[1].raw, good_leaf[..40].to_vec());
}

/// Pushes a certificate for `names` as an X509 entry.
fn push_certificate(log: &CtLog, ca: &TestCa, serial: u64, names: &[&str]) {
    let (leaf, extra) = ca.x509_entry(&ca.certificate(serial, None, names));
    log.push(&leaf, &extra);
}

/// Pushes `count` certificates for unrelated names.
fn push_filler(log: &CtLog, ca: &TestCa, from_serial: u64, count: u64) {
    for serial in from_serial..from_serial + count {
        let name = format!("host{serial}.example.org");
        push_certificate(log, ca, serial, &[&name]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn position_resumes_after_restart() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_filler(&log, &ca, 1, 20);
    push_certificate(&log, &ca, 100, &["paypal-restart.com"]);
    push_filler(&log, &ca, 21, 20);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &ct_section(&[&log.url], "backfill = true\nbatch_size = 8"),
        &[],
    );
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 41).await;
    running.stop().await;
    let first_requests = log.requests().len();

    // New entries while vigie is stopped: the same lookalike again and a new one.
    push_filler(&log, &ca, 41, 10);
    push_certificate(&log, &ca, 101, &["paypal-restart.com"]);
    push_certificate(&log, &ca, 102, &["paypal-after-restart.com"]);

    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 53).await;
    let health = running.health.snapshot()["ct:test0"].clone();
    running.stop().await;
    assert_eq!(health.items, 12, "entries read after the restart");
    assert_eq!(health.errors, 0);
    assert!(health.last_success.is_some());

    let entries_read: Vec<(u64, u64)> = log.requests()[first_requests..]
        .iter()
        .filter(|r| r.call == "get-entries")
        .map(|r| (r.start, r.end))
        .collect();
    assert_eq!(
        entries_read.iter().map(|r| r.0).min(),
        Some(41),
        "the second run reads nothing before entry 41: {entries_read:?}"
    );
    let findings = store.findings().unwrap();
    assert_eq!(findings.len(), 2, "{findings:?}");
    let repeated = findings
        .iter()
        .find(|f| f.subject == "paypal-restart.com")
        .unwrap();
    assert_eq!(
        repeated.sightings, 2,
        "once before and once after the restart"
    );
    assert!(subjects(&store).contains("paypal-after-restart.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_log_starts_at_head() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_certificate(&log, &ca, 1, &["paypal-before-start.com"]);
    push_filler(&log, &ca, 2, 4);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &ct_section(&[&log.url], ""), &[]);
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 5).await;

    push_certificate(&log, &ca, 10, &["paypal-after-start.com"]);
    wait_for_position(&store, &log.url, 6).await;
    running.stop().await;

    assert_eq!(
        subjects(&store),
        BTreeSet::from(["paypal-after-start.com".to_string()])
    );
    let read: Vec<u64> = log
        .requests()
        .iter()
        .filter(|r| r.call == "get-entries")
        .map(|r| r.start)
        .collect();
    assert_eq!(read, vec![5], "only the entry after the head is read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_answers_shrink_the_batch() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_filler(&log, &ca, 1, 40);
    push_certificate(&log, &ca, 100, &["paypal-short.com"]);
    log.set_max_per_request(7);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &ct_section(
            &[&log.url],
            "backfill = true\nbatch_size = 20\nparallel_requests = 1",
        ),
        &[],
    );
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 41).await;
    running.stop().await;

    let asked: Vec<u64> = log
        .requests()
        .iter()
        .filter(|r| r.call == "get-entries")
        .map(|r| r.end - r.start + 1)
        .collect();
    assert_eq!(asked[0], 20, "{asked:?}");
    assert!(
        asked[1..].iter().all(|n| *n <= 7),
        "requests after the first short answer ask for 7 at most: {asked:?}"
    );
    let served: u64 = log.requests().iter().map(|r| r.served).sum();
    assert_eq!(served, 41, "each entry served once");
    assert!(subjects(&store).contains("paypal-short.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_honoured() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_filler(&log, &ca, 1, 10);
    push_certificate(&log, &ca, 100, &["paypal-throttled.com"]);
    log.throttle(1, 2);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &ct_section(&[&log.url], "backfill = true\nparallel_requests = 1"),
        &[],
    );
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 11).await;
    running.stop().await;

    let requests = log.requests();
    let throttled = requests
        .iter()
        .position(|r| r.status == 429)
        .expect("one request was throttled");
    let next = requests[throttled + 1..]
        .iter()
        .find(|r| r.call == "get-entries")
        .expect("a get-entries request after the 429");
    let waited = next.at - requests[throttled].at;
    assert!(
        waited >= Duration::from_secs(2),
        "waited {waited:?} after Retry-After: 2"
    );
    assert!(subjects(&store).contains("paypal-throttled.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_that_shrinks_is_not_trusted() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_filler(&log, &ca, 1, 10);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &ct_section(&[&log.url], "backfill = true"), &[]);
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 10).await;

    // A lagging frontend serves an older, smaller head: skipped, not a broken log.
    let old = log.last_timestamp() - 60_000;
    log.override_head(Some((4, Some(old))));
    let before = log.requests().len();
    assert!(
        wait_for(WAIT, || log.requests().len() >= before + 2).await,
        "the source keeps polling"
    );
    assert_eq!(
        store.cursor("ct", &format!("broken:{}", log.url)).unwrap(),
        None
    );

    // Now the log's newest head is smaller than the trusted one.
    log.override_head(Some((4, None)));
    let broken_key = format!("broken:{}", log.url);
    assert!(
        wait_for(WAIT, || store.cursor("ct", &broken_key).unwrap().is_some()).await,
        "the log is marked broken"
    );
    let health = running.health.snapshot();
    let collapsed = health["ct:test0"].collapsed.clone().unwrap_or_default();
    assert!(
        collapsed.contains("append-only"),
        "the broken log is reported to the health check: {collapsed:?}"
    );
    let mark: Value =
        serde_json::from_str(&store.cursor("ct", &broken_key).unwrap().unwrap()).unwrap();
    assert!(
        mark["reason"]
            .as_str()
            .unwrap()
            .contains("went back from 10 to 4"),
        "{mark}"
    );

    // Entries it adds later are not read, now or after a restart.
    log.override_head(None);
    push_certificate(&log, &ca, 100, &["paypal-untrusted.com"]);
    running.stop().await;
    let before = log.requests().len();
    let running = Running::start(&config, &store);
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.stop().await;
    assert_eq!(log.requests().len(), before, "no request to a broken log");
    assert_eq!(position(&store, &log.url), Some(10));
    assert!(subjects(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_size_with_another_root_is_not_trusted() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_filler(&log, &ca, 1, 3);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &ct_section(&[&log.url], "backfill = true"), &[]);
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 3).await;

    log.override_root(Some([9u8; 32]));
    let broken_key = format!("broken:{}", log.url);
    assert!(
        wait_for(WAIT, || store.cursor("ct", &broken_key).unwrap().is_some()).await,
        "the log is marked broken"
    );
    running.stop().await;
    let mark = store.cursor("ct", &broken_key).unwrap().unwrap();
    assert!(mark.contains("two root hashes for tree size 3"), "{mark}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_lookalike_alerts_on_its_first_certificate() {
    use std::collections::BTreeMap;
    use vigie::model::{Indicator, IndicatorKind, Severity};

    let log = CtLog::start().await;
    let ca = TestCa::new("Test CA", "Test CA R1");
    push_certificate(&log, &ca, 1, &["paypa1.com", "www.paypa1.com"]);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &ct_section(&[&log.url], "backfill = true"), &[]);
    let store = open_store(&config);

    // The lookalike watch found the domain first, with an A record.
    let (_tx, rx) = watch::channel(Arc::new(config.clone()));
    let pipeline = Pipeline::new(store.clone(), rx, Arc::new(Notify::new()));
    let swept = Finding {
        fingerprint: Finding::fingerprint_for("paypal", "domain", "paypa1.com"),
        kind: "lookalike-domain".to_string(),
        source: "lookalike".to_string(),
        watchlist: "paypal".to_string(),
        subject: "paypa1.com".to_string(),
        imitates: "paypal.com".to_string(),
        techniques: vec!["replacement".to_string()],
        reasons: vec!["replacement of paypal.com".to_string()],
        severity: Severity::High,
        score: 80,
        indicators: vec![Indicator::new(IndicatorKind::Domain, "paypa1.com")],
        facts: BTreeMap::from([("a".to_string(), BTreeSet::from(["192.0.2.10".to_string()]))]),
        evidence: serde_json::json!({}),
        observed_at: time::OffsetDateTime::now_utc(),
    };
    pipeline.submit(swept).await.unwrap();

    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, 1).await;
    running.stop().await;

    let findings = store.findings().unwrap();
    assert_eq!(findings.len(), 1, "one finding for both sources");
    let finding = &findings[0];
    assert_eq!(finding.source, "ct");
    assert_eq!(finding.sightings, 2);
    assert_eq!(finding.revision, 2, "the certificate alerted again");
    assert_eq!(
        finding.facts.get("a"),
        Some(&BTreeSet::from(["192.0.2.10".to_string()])),
        "the DNS fact is kept"
    );
    let history = store.history(finding.id).unwrap();
    let changes = &history.last().unwrap().changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].fact, ct::ISSUER_FACT);
    assert_eq!(changes[0].added(), BTreeSet::from(["Test CA".to_string()]));
    assert_eq!(store.outbox_stats().unwrap().pending, 2);
}

/// Four logs followed at once: two respond at once, one takes 8 s for every `get-entries`
/// and one responds to its first `get-entries` with 429 and `Retry-After: 10`. The two quick logs
/// are read to their head, and read a new entry after that, while the other two have not
/// served a batch yet. In the end each log has its own finding, saved position and health row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_logs_followed_in_parallel() {
    let ca = TestCa::new("Test CA", "Test CA R1");
    let lookalikes = [
        "paypal-first.com",
        "paypal-second.com",
        "paypal-slow.com",
        "paypal-throttled.com",
    ];
    let mut logs = Vec::new();
    for (index, lookalike) in lookalikes.iter().enumerate() {
        let log = CtLog::start().await;
        let base = 1000 * index as u64;
        push_filler(&log, &ca, base + 1, 10);
        push_certificate(&log, &ca, base + 100, &[lookalike]);
        push_filler(&log, &ca, base + 11, 5);
        logs.push(log);
    }
    let (quick, held) = logs.split_at(2);
    let (slow, throttled) = (&held[0], &held[1]);
    slow.set_entries_delay(Duration::from_secs(8));
    throttled.throttle(1, 10);

    let urls: Vec<&str> = logs.iter().map(|log| log.url.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &ct_section(
            &urls,
            "backfill = true\nbatch_size = 8\nparallel_requests = 1",
        ),
        &[],
    );
    let store = open_store(&config);
    let started = std::time::Instant::now();
    let running = Running::start(&config, &store);

    for log in quick {
        wait_for_position(&store, &log.url, 16).await;
    }
    let quick_done = started.elapsed();
    push_certificate(&quick[0], &ca, 500, &["paypal-later.com"]);
    wait_for_position(&store, &quick[0].url, 17).await;
    let quick_again = started.elapsed();
    eprintln!(
        "quick logs at their head after {:.2} s, new entry read after {:.2} s",
        quick_done.as_secs_f64(),
        quick_again.as_secs_f64()
    );
    for log in [slow, throttled] {
        let served: u64 = log.requests().iter().map(|r| r.served).sum();
        assert_eq!(
            served, 0,
            "{} served entries before the quick logs were done ({quick_again:?})",
            log.url
        );
        assert!(
            position(&store, &log.url).unwrap_or(0) < 16,
            "{} was read before the quick logs were done",
            log.url
        );
    }

    wait_for_position(&store, &slow.url, 16).await;
    wait_for_position(&store, &throttled.url, 16).await;
    let all_done = started.elapsed();
    eprintln!(
        "slow and rate-limited logs at their head after {:.2} s",
        all_done.as_secs_f64()
    );
    let health = running.health.snapshot();
    running.stop().await;

    assert!(
        throttled.requests().iter().any(|r| r.status == 429),
        "the rate-limited log answered 429"
    );
    let findings = store.findings().unwrap();
    let mut expected: Vec<(&str, &str)> = lookalikes
        .iter()
        .zip(&urls)
        .map(|(subject, url)| (*subject, *url))
        .collect();
    expected.push(("paypal-later.com", urls[0]));
    expected.sort_unstable();
    let mut found: Vec<(&str, &str)> = findings
        .iter()
        .map(|finding| {
            (
                finding.subject.as_str(),
                finding.evidence["log_url"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    found.sort_unstable();
    assert_eq!(found, expected, "each lookalike found once, in its own log");

    let sizes = [17, 16, 16, 16];
    for (index, (log, size)) in logs.iter().zip(sizes).enumerate() {
        assert_eq!(position(&store, &log.url), Some(size), "{}", log.url);
        let name = format!("ct:test{index}");
        let figures = &health[&name];
        assert_eq!(figures.items, size, "{name}: {figures:?}");
        let expected_errors = u64::from(index == 3);
        assert_eq!(figures.errors, expected_errors, "{name}: {figures:?}");
    }
}

/// The log list read from an HTTPS URL. A certificate of an unknown CA is rejected and no
/// log of the list is followed. With that CA in `[ct] ca_file`, the list loads and its log
/// is read.
#[tokio::test]
async fn log_list_over_https() {
    let log = CtLog::start().await;
    let ca = TestCa::new("Test Lookalike CA", "Test Issuing CA R1");
    let lookalike = ca.certificate(1, None, &["paypal-secure-login.com"]);
    let (leaf, extra) = ca.x509_entry(&lookalike);
    log.push(&leaf, &extra);
    let list = format!(
        r#"{{"operators": [{{"name": "Test", "logs": [
            {{"description": "HTTPS-listed log", "log_id": "AA==", "url": "{}", "state": {{"usable": {{}}}}}}]}}]}}"#,
        log.url
    );
    let tls = LabTls::new("Lab CT Root CA", "ct-list.lab.test", &["127.0.0.1"]);
    let https = serve(&tls, "application/json", list).await;
    let section = format!(
        "[ct]\nlog_list_url = \"https://127.0.0.1:{}/log_list.json\"\n\
         backfill = true\npoll_interval_secs = 1\n",
        https.port
    );

    // Without the lab CA the handshake fails and nothing is followed.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &section, &[]);
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    let tried = wait_for(WAIT, || https.rejected() > 0).await;
    assert!(tried, "the source did not ask for the log list");
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;
    assert_eq!(https.served(), 0);
    assert_eq!(position(&store, &log.url), None);
    assert!(subjects(&store).is_empty());

    // With it, the list loads and its log is read to the end.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab-ca.pem"), &tls.ca_pem).unwrap();
    let config = write_config(
        dir.path(),
        &format!("{section}ca_file = \"lab-ca.pem\"\n"),
        &[],
    );
    assert_eq!(
        config
            .ct
            .as_ref()
            .unwrap()
            .ca_file
            .as_ref()
            .unwrap()
            .certificates
            .len(),
        1
    );
    let store = open_store(&config);
    let running = Running::start(&config, &store);
    wait_for_position(&store, &log.url, log.len()).await;
    running.stop().await;
    assert!(https.served() >= 1);
    assert_eq!(
        subjects(&store),
        BTreeSet::from(["paypal-secure-login.com".to_string()])
    );
}
