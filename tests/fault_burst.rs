//! Fault test: the daemon killed with SIGKILL again and again while a burst of 1,000 findings
//! goes through it. Every alert must arrive, and an alert that arrives twice must carry the
//! same idempotency key both times.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::daemon::{DaemonConfig, Endpoints};
use support::dns::TestDns;
use support::webhook::WebhookReceiver;

const SECRET: &str = "burst-test-secret";
const BURST: usize = 1_000;
const KILLS: usize = 6;

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_burst_loses_nothing() {
    let mut builder = TestDns::builder();
    for (origin, text) in support::dns::STANDARD_ZONES {
        builder = builder.zone(origin, text);
    }
    let dns = builder.start().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    // The mail sink is down for the whole test; its alerts wait in the outbox.
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    // A list of 1,000 newly registered domains that all carry the brand.
    let list: String = (0..BURST)
        .map(|i| format!("example-account-{i:04}.test\n"))
        .collect();
    std::fs::write(config.dir.path().join("burst.txt"), list).unwrap();
    let mut text = std::fs::read_to_string(config.path()).unwrap();
    text.push_str("\n[nrd.burst]\npath = \"burst.txt\"\ninterval_secs = 86400\n");
    std::fs::write(config.path(), text).unwrap();

    let burst_keys = |webhook: &WebhookReceiver| -> Vec<String> {
        webhook
            .keys()
            .into_iter()
            .zip(webhook_subjects(webhook))
            .filter(|(_, subject)| subject.starts_with("example-account-"))
            .map(|(key, _)| key)
            .collect()
    };

    // Kill the daemon at growing depths into the burst.
    for round in 0..KILLS {
        let daemon = config.start(None, None);
        let target = (round + 1) * BURST / (KILLS + 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while burst_keys(&webhook).len() < target && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        daemon.kill_hard();
    }

    let _daemon = config.start(None, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let unique: BTreeSet<String> = burst_keys(&webhook).into_iter().collect();
        if unique.len() >= BURST {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {BURST} alerts arrived; log tail:\n{}",
            unique.len(),
            tail(&config.log())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let keys = burst_keys(&webhook);
    let mut per_subject: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, subject) in webhook.keys().into_iter().zip(webhook_subjects(&webhook)) {
        per_subject.entry(subject).or_default().insert(key);
    }
    let burst_subjects = per_subject
        .iter()
        .filter(|(subject, _)| subject.starts_with("example-account-"))
        .count();
    assert_eq!(burst_subjects, BURST, "every domain of the list alerted");
    for (subject, keys) in &per_subject {
        assert_eq!(
            keys.len(),
            1,
            "{subject} alerted under several keys: {keys:?}"
        );
    }
    let unique: BTreeSet<&String> = keys.iter().collect();
    let duplicates = keys.len() - unique.len();
    println!(
        "burst: {BURST} alerts, {KILLS} kills, {} requests, {duplicates} repeated deliveries",
        keys.len()
    );
    assert_eq!(webhook.bad_signatures(), 0);
}

fn webhook_subjects(webhook: &WebhookReceiver) -> Vec<String> {
    webhook.subjects()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
