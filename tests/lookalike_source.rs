//! The lookalike source through the library: permutations resolved against an authoritative
//! zone, findings recorded with their alerts, and a new MX that alerts again.

mod support;

use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::config::{self, Config};
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::sources::lookalike::sweep_watchlist;
use vigie::store::Store;

use support::daemon::{DaemonConfig, Endpoints};
use support::dns::TestDns;

const SOA_NS: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\nns1 3600 IN A 198.51.100.53\n";

/// A world where `examp1e.test` is registered with `extra` records, and every other name is
/// NXDOMAIN.
async fn world(extra: &str) -> TestDns {
    TestDns::builder()
        .zone(".", "@ 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300\n@ 3600 IN NS ns.test.\n")
        .zone("test.", "@ 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300\n@ 3600 IN NS ns.test.\n")
        .zone("example.test.", &format!("{SOA_NS}@ 3600 IN A 192.0.2.1\n"))
        .zone("examp1e.test.", &format!("{SOA_NS}{extra}"))
        .start()
        .await
}

fn load(dir: &DaemonConfig, dns: &TestDns) -> Config {
    dir.write(&Endpoints {
        dns: dns.addr,
        smtp_port: 2,
        webhook_url: "http://127.0.0.1:9/hook".to_string(),
        webhook_secret: "secret".to_string(),
    });
    config::load(&dir.path()).expect("the test configuration loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mx_alerts_again_with_before_and_after() {
    let dir = DaemonConfig::new();
    let first_world = world("@ 3600 IN A 198.51.100.10\n").await;
    let config = load(&dir, &first_world);
    let store = Arc::new(Store::open(&dir.store_path()).expect("open the store"));
    let (config_tx, config_rx) = watch::channel(Arc::new(config.clone()));
    let wake = Arc::new(Notify::new());
    let context = SourceContext {
        pipeline: Pipeline::new(store.clone(), config_rx.clone(), wake.clone()),
        config: config_rx,
        shutdown: CancellationToken::new(),
    };
    let watchlist = config.watchlists[0].clone();

    let (stats, unknown) = sweep_watchlist(&context, &config, &watchlist)
        .await
        .expect("first sweep");
    assert_eq!(stats.registered, 1, "{stats:?}");
    assert_eq!(stats.alerted, 1, "{stats:?}");
    assert!(unknown.is_empty(), "unknown names: {}", unknown.len());

    let finding = store
        .findings()
        .expect("list findings")
        .into_iter()
        .find(|f| f.subject == "examp1e.test")
        .expect("examp1e.test recorded");
    assert!(finding.facts["mx"].is_empty());
    let rows = store.outbox_for_finding(finding.id).expect("outbox rows");
    assert_eq!(rows.len(), 2, "one alert row per sink");

    // The same world again: no new alert.
    let (stats, _) = sweep_watchlist(&context, &config, &watchlist)
        .await
        .expect("second sweep");
    assert_eq!(stats.alerted, 0, "an unchanged lookalike alerted again");

    // The lookalike gets an MX: it alerts again, with the change spelled out.
    let second_world =
        world("@ 3600 IN A 198.51.100.10\n@ 3600 IN MX 10 mail\nmail 3600 IN A 198.51.100.25\n")
            .await;
    let config = load(&dir, &second_world);
    config_tx.send_replace(Arc::new(config.clone()));
    let (stats, _) = sweep_watchlist(&context, &config, &watchlist_of(&config))
        .await
        .expect("third sweep");
    assert_eq!(stats.alerted, 1, "{stats:?}");

    let rows = store.outbox_for_finding(finding.id).expect("outbox rows");
    assert_eq!(rows.len(), 4, "a second alert row per sink");
    let changed = rows
        .iter()
        .find(|row| row.payload["event"] == "changed")
        .expect("a changed alert");
    assert_eq!(changed.payload["revision"], 2);
    let changes = changed.payload["changes"].as_array().expect("changes");
    let mx = changes
        .iter()
        .find(|c| c["fact"] == "mx")
        .unwrap_or_else(|| panic!("no mx change in {changes:?}"));
    assert_eq!(
        mx["after"],
        serde_json::json!(["mail.examp1e.test"]),
        "{mx}"
    );
    assert_eq!(mx["before"], serde_json::json!([]), "{mx}");
    assert!(
        changed.idempotency_key.ends_with("-r2"),
        "{}",
        changed.idempotency_key
    );
    let history = store.history(finding.id).expect("history");
    assert!(history.len() >= 2, "history: {history:?}");
}

fn watchlist_of(config: &Config) -> vigie::config::Watchlist {
    config.watchlists[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legitimate_and_allow_listed_names_stay_silent() {
    // exampie.test is allow-listed by the test watchlist; example.test is the legitimate one.
    let dns = TestDns::builder()
        .zone(".", "@ 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300\n@ 3600 IN NS ns.test.\n")
        .zone("example.test.", &format!("{SOA_NS}@ 3600 IN A 192.0.2.1\n"))
        .zone("exampie.test.", &format!("{SOA_NS}@ 3600 IN A 198.51.100.77\n"))
        .start()
        .await;
    let dir = DaemonConfig::new();
    let config = load(&dir, &dns);
    let store = Arc::new(Store::open(&dir.store_path()).expect("open the store"));
    let (_config_tx, config_rx) = watch::channel(Arc::new(config.clone()));
    let context = SourceContext {
        pipeline: Pipeline::new(store.clone(), config_rx.clone(), Arc::new(Notify::new())),
        config: config_rx,
        shutdown: CancellationToken::new(),
    };

    let (stats, _) = sweep_watchlist(&context, &config, &config.watchlists[0])
        .await
        .expect("sweep");
    assert_eq!(stats.registered, 0, "{stats:?}");
    assert!(store.findings().expect("findings").is_empty());
}
