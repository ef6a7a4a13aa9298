//! Per-sink rate limits and quiet hours: held alerts leave as one digest, critical alerts
//! never wait. Real store, real HTTP receiver on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use time::{OffsetDateTime, UtcOffset};
use vigie::alert::policy::{QuietHours, SinkPolicy};
use vigie::alert::{self, Dispatcher, Sink};
use vigie::config::{DispatcherConfig, SinkConfig, WebhookFormat, WebhookSinkConfig};
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::Store;

type Posted = Arc<Mutex<Vec<serde_json::Value>>>;

async fn receiver() -> (Posted, u16) {
    async fn take(State(posted): State<Posted>, body: Bytes) -> StatusCode {
        match serde_json::from_slice(&body) {
            Ok(json) => {
                posted.lock().unwrap().push(json);
                StatusCode::OK
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let posted: Posted = Arc::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(take))
        .with_state(posted.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (posted, port)
}

fn finding(subject: &str, severity: Severity) -> Finding {
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "example.com".into(),
        techniques: vec!["addition".into()],
        reasons: vec![format!("addition of example.com: {subject}")],
        severity,
        score: 70,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: Default::default(),
        evidence: serde_json::json!({}),
        observed_at: OffsetDateTime::now_utc(),
    }
}

fn dispatcher(
    store: &Arc<Store>,
    port: u16,
    format: WebhookFormat,
    policy: SinkPolicy,
) -> Dispatcher {
    let config = SinkConfig::Webhook(WebhookSinkConfig {
        url: format!("http://127.0.0.1:{port}/hook"),
        url_is_secret: false,
        format,
        secret: None,
        timeout_secs: 10,
    });
    let sinks = BTreeMap::from([(
        "hook".to_owned(),
        Sink::from_config("hook", &config).unwrap(),
    )]);
    Dispatcher::new(
        store.clone(),
        sinks,
        DispatcherConfig {
            retry_initial_secs: 1,
            retry_max_secs: 1,
        },
    )
    .with_policies(BTreeMap::from([("hook".to_owned(), policy)]))
}

fn record(store: &Store, subject: &str, severity: Severity) -> i64 {
    store
        .record_finding(
            &finding(subject, severity),
            &["hook".to_owned()],
            &alert::render,
        )
        .unwrap()
        .finding_id()
}

fn undelivered(store: &Store) -> usize {
    store.outbox_stats().unwrap().pending as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_over_limit_becomes_one_digest() {
    let (posted, port) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("vigie.db")).unwrap());
    let policy = SinkPolicy {
        max_per_hour: Some(2),
        quiet_hours: None,
    };
    let dispatcher = dispatcher(&store, port, WebhookFormat::Generic, policy);

    for i in 0..5 {
        record(&store, &format!("burst{i}.example"), Severity::High);
    }
    let delivered = dispatcher.deliver_due().await.unwrap();

    assert_eq!(delivered, 5, "all five marked delivered");
    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "one digest message: {bodies:?}");
    assert_eq!(bodies[0]["digest"], true);
    assert_eq!(bodies[0]["reason"], "rate-limit");
    assert_eq!(bodies[0]["count"], 5);
    assert_eq!(bodies[0]["alerts"].as_array().unwrap().len(), 5);

    // One message of two used: a single alert goes out alone.
    record(&store, "single.example", Severity::Medium);
    dispatcher.deliver_due().await.unwrap();
    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["subject"], "single.example");

    // The hour is used up: alerts wait, but a critical one goes at once.
    record(&store, "late1.example", Severity::High);
    record(&store, "late2.example", Severity::Low);
    record(&store, "urgent.example", Severity::Critical);
    dispatcher.deliver_due().await.unwrap();
    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies[2]["subject"], "urgent.example");
    assert_eq!(undelivered(&store), 2, "two held for later");
    let next = store.next_attempt_at().unwrap().unwrap();
    assert!(
        next > OffsetDateTime::now_utc() + time::Duration::minutes(50),
        "held until the hour frees a slot: {next}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_then_send_digest() {
    let (posted, port) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let store = Arc::new(Store::open(&path).unwrap());
    let now = OffsetDateTime::now_utc();
    // A two-hour window around now.
    let start = (now - time::Duration::hours(1)).hour();
    let end = (now + time::Duration::hours(1)).hour();
    let window = format!("{start:02}:00-{end:02}:00");
    let quiet = QuietHours::parse(&window, UtcOffset::UTC).unwrap();
    let policy = SinkPolicy {
        max_per_hour: None,
        quiet_hours: Some(quiet),
    };
    let dispatcher = dispatcher(&store, port, WebhookFormat::Slack, policy);

    record(&store, "night1.example", Severity::High);
    record(&store, "night2.example", Severity::Medium);
    record(&store, "fire.example", Severity::Critical);
    dispatcher.deliver_due().await.unwrap();

    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "only the critical alert: {bodies:?}");
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .contains("fire[.]example")
    );
    assert_eq!(undelivered(&store), 2);
    let held_until = store.next_attempt_at().unwrap().unwrap();
    assert_eq!(held_until, quiet.end_of_window(now).unwrap());

    // The night is over: a window that ended before now, with the alerts raised inside it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let inside = (now - time::Duration::hours(3)).unix_timestamp() * 1000;
    conn.execute(
        "UPDATE outbox SET created_at = ?1, next_attempt_at = ?1 WHERE delivered_at IS NULL",
        [inside],
    )
    .unwrap();
    let start = (now - time::Duration::hours(4)).hour();
    let end = (now - time::Duration::hours(2)).hour();
    let ended = QuietHours::parse(&format!("{start:02}:00-{end:02}:00"), UtcOffset::UTC).unwrap();
    let dispatcher = dispatcher_with(&store, port, ended);
    let delivered = dispatcher.deliver_due().await.unwrap();

    assert_eq!(delivered, 2);
    let bodies = posted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one digest after the night: {bodies:?}");
    let text = bodies[1]["blocks"].to_string();
    assert!(
        bodies[1]["text"]
            .as_str()
            .unwrap()
            .contains("2 alerts held during quiet hours")
    );
    assert!(text.contains("night1[.]example"), "{text}");
    assert!(text.contains("night2[.]example"), "{text}");
    assert_eq!(undelivered(&store), 0);
}

fn dispatcher_with(store: &Arc<Store>, port: u16, quiet: QuietHours) -> Dispatcher {
    dispatcher(
        store,
        port,
        WebhookFormat::Slack,
        SinkPolicy {
            max_per_hour: None,
            quiet_hours: Some(quiet),
        },
    )
}
