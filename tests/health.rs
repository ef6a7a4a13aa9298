//! Health of the sources: the `/healthz` and `/metrics` endpoint of the running daemon, and the
//! blind-source alert with its recovery notice, across a restart.

mod support;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use vigie::alert::{AlertPayload, mail};
use vigie::health::watch::check_once;
use vigie::pipeline::Pipeline;
use vigie::store::Store;

use support::daemon::{DaemonConfig, Endpoints};
use support::dns::TestDns;
use support::webhook::WebhookReceiver;

const SECRET: &str = "health-test-secret";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

async fn get(url: &str) -> (u16, String) {
    vigie::init_tls();
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Returns the value of the first sample line that starts with `series`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_metrics_and_healthz() {
    let mut builder = TestDns::builder();
    for (origin, text) in support::dns::STANDARD_ZONES {
        builder = builder.zone(origin, text);
    }
    let dns = builder.start().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    // The SMTP sink points at a closed port: its failures must show in the metrics.
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: free_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    let port = free_port();
    let mut text = std::fs::read_to_string(config.path()).unwrap();
    text.push_str(&format!("\n[health]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(config.path(), text).unwrap();
    let _daemon = config.start(None, None);

    let received = webhook.wait_for_count(3, Duration::from_secs(60)).await;
    assert!(
        received >= 3,
        "webhook got {received}; log:\n{}",
        config.log()
    );
    let base = format!("http://127.0.0.1:{port}");
    let failed = "vigie_alerts_failed_total{sink=\"soc-mail\"}";
    let mut metrics;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 200, "{body}");
        metrics = body;
        if sample(&metrics, failed).is_some_and(|n| n >= 1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed SMTP attempt counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let polls = sample(
        &metrics,
        "vigie_source_polls_total{source=\"lookalike:example\"}",
    );
    assert_eq!(polls, Some(1.0), "{metrics}");
    let items = sample(
        &metrics,
        "vigie_source_items_total{source=\"lookalike:example\"}",
    );
    assert!(items.is_some_and(|n| n > 100.0), "{metrics}");
    let sent = sample(&metrics, "vigie_alerts_sent_total{sink=\"soc-webhook\"}");
    assert!(sent.is_some_and(|n| n >= 3.0), "{metrics}");
    assert!(sample(&metrics, "vigie_outbox_depth").is_some_and(|n| n >= 3.0));
    assert!(sample(&metrics, "vigie_outbox_oldest_age_seconds").is_some());
    let findings: f64 = ["low", "medium", "high", "critical"]
        .iter()
        .filter_map(|s| sample(&metrics, &format!("vigie_findings{{severity=\"{s}\"}}")))
        .sum();
    assert!(findings >= 3.0, "{metrics}");
    assert_eq!(
        sample(&metrics, "vigie_source_blind{source=\"lookalike:example\"}"),
        Some(0.0)
    );
    assert!(metrics.contains("# TYPE vigie_alerts_sent_total counter"));

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["sources"]["lookalike:example"]["ok"], true);
    assert_eq!(json["blind_sources"].as_array().unwrap().len(), 0);
}

/// A pipeline over the store at `path` with the configuration the daemon harness writes.
fn pipeline(config: &DaemonConfig, store: &Arc<Store>) -> Pipeline {
    let loaded = vigie::config::load(&config.path()).expect("config loads");
    let (_tx, rx) = watch::channel(Arc::new(loaded));
    // The sender may go: the pipeline keeps the last configuration.
    Pipeline::new(store.clone(), rx, Arc::new(Notify::new()))
}

fn alerts(store: &Store) -> Vec<AlertPayload> {
    let mut payloads = Vec::new();
    for finding in store.findings().unwrap() {
        for row in store.outbox_for_finding(finding.id).unwrap() {
            if row.sink == "soc-webhook" {
                payloads.push(serde_json::from_value(row.payload).unwrap());
            }
        }
    }
    payloads.sort_by_key(|p: &AlertPayload| (p.observed_at, p.revision));
    payloads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_source_alerts_once_then_recovers_after_restart() {
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: "127.0.0.1:53".parse().unwrap(),
        smtp_port: free_port(),
        webhook_url: "http://127.0.0.1:9/hook".into(),
        webhook_secret: SECRET.into(),
    });
    let store = Arc::new(Store::open(&config.store_path()).unwrap());
    let blind_after = Duration::from_secs(3600);
    let now = OffsetDateTime::now_utc();

    let first = pipeline(&config, &store);
    let health = first.health().clone();
    health.poll_succeeded_at("feed:news", 10, now - time::Duration::hours(3));
    health.poll_failed("feed:news", "HTTP status 503 from the feed");
    check_once(&health, &first, blind_after, now).await;
    check_once(
        &health,
        &first,
        blind_after,
        now + time::Duration::minutes(1),
    )
    .await;

    let sent = alerts(&store);
    assert_eq!(sent.len(), 1, "one alert for one blind spell: {sent:?}");
    let subject = mail::subject(&sent[0]);
    assert_eq!(subject, "[vigie] HIGH: source feed:news is blind");
    assert!(sent[0].reasons[0].contains("no successful poll for 180 min"));
    assert!(
        sent[0]
            .reasons
            .iter()
            .any(|r| r.contains("HTTP status 503")),
        "recent errors quoted: {:?}",
        sent[0].reasons
    );

    // Restart: a new pipeline and registry over the same store; the source now works.
    drop(first);
    let second = pipeline(&config, &store);
    let health = second.health().clone();
    health.poll_succeeded("feed:news", 12);
    check_once(&health, &second, blind_after, OffsetDateTime::now_utc()).await;
    check_once(&health, &second, blind_after, OffsetDateTime::now_utc()).await;

    let sent = alerts(&store);
    assert_eq!(sent.len(), 2, "one recovery notice: {sent:?}");
    assert_eq!(
        mail::subject(&sent[1]),
        "[vigie] source feed:news works again"
    );
    assert_eq!(sent[0].fingerprint, sent[1].fingerprint);

    // A second spell is a new finding and alerts again.
    health.poll_succeeded_at(
        "feed:news",
        1,
        OffsetDateTime::now_utc() - time::Duration::hours(2),
    );
    check_once(&health, &second, blind_after, OffsetDateTime::now_utc()).await;
    let sent = alerts(&store);
    assert_eq!(sent.len(), 3);
    assert_ne!(sent[2].fingerprint, sent[0].fingerprint);
}
