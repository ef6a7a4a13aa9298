//! Alert delivery to misbehaving receivers: raw TCP servers on 127.0.0.1 that redirect,
//! hang, send endless bodies or drop an SMTP exchange in the middle of DATA. No alert may be
//! lost or marked delivered by mistake, and no request may go anywhere not configured.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use vigie::alert::{self, Dispatcher, Sink};
use vigie::config::{
    DispatcherConfig, Secret, SinkConfig, SmtpSecurity, SmtpSinkConfig, WebhookFormat,
    WebhookSinkConfig,
};
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::{OutboxAlert, Store};

fn lookalike(subject: &str) -> Finding {
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "example.com".into(),
        techniques: vec!["homoglyph".into()],
        reasons: vec![format!("{subject} is a homoglyph of example.com")],
        severity: Severity::High,
        score: 75,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: BTreeMap::from([("a".to_string(), BTreeSet::from(["192.0.2.10".to_string()]))]),
        evidence: serde_json::json!({}),
        observed_at: OffsetDateTime::now_utc(),
    }
}

fn webhook(url: String, timeout_secs: u64) -> SinkConfig {
    SinkConfig::Webhook(WebhookSinkConfig {
        url_is_secret: false,
        format: WebhookFormat::Generic,
        url,
        secret: Some(Secret::new("hook-secret")),
        timeout_secs,
    })
}

/// Opens a store in `dir` with one alert for `sink` and builds a dispatcher with that sink only.
fn setup(dir: &tempfile::TempDir, sink: &str, config: &SinkConfig) -> (Arc<Store>, Dispatcher) {
    let store = Arc::new(Store::open(&dir.path().join("vigie.db")).unwrap());
    store
        .record_finding(
            &lookalike("examp1e.com"),
            &[sink.to_string()],
            &alert::render,
        )
        .unwrap();
    let sinks = BTreeMap::from([(sink.to_string(), Sink::from_config(sink, config).unwrap())]);
    let retry = DispatcherConfig {
        retry_initial_secs: 60,
        retry_max_secs: 60,
    };
    (store.clone(), Dispatcher::new(store, sinks, retry))
}

fn only_row(store: &Store) -> OutboxAlert {
    let rows = store.outbox_for_finding(1).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

/// Accepts connections and hands each to `serve`, counting them.
async fn tcp_server<F, Fut>(serve: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (port, connections)
}

/// Reads an HTTP request head and its body of Content-Length bytes.
async fn read_request(stream: &mut TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body).await;
}

#[tokio::test]
async fn webhook_redirect_not_followed() {
    let (elsewhere, elsewhere_hits) = tcp_server(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await;
    })
    .await;
    let (port, _) = tcp_server(move |mut stream| async move {
        read_request(&mut stream).await;
        let reply = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{elsewhere}/hook\r\n\
             content-length: 0\r\n\r\n"
        );
        let _ = stream.write_all(reply.as_bytes()).await;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook(format!("http://127.0.0.1:{port}/hook"), 5);
    let (store, dispatcher) = setup(&dir, "hook", &config);

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    let row = only_row(&store);
    assert!(row.delivered_at.is_none(), "{row:?}");
    assert_eq!(row.attempts, 1);
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("307"), "{error}");
}

#[tokio::test]
async fn webhook_that_hangs_times_out() {
    let (port, _) = tcp_server(|mut stream| async move {
        read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook(format!("http://127.0.0.1:{port}/hook"), 1);
    let (store, dispatcher) = setup(&dir, "hook", &config);

    let started = Instant::now();
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);
    assert!(started.elapsed() < Duration::from_secs(10));

    let row = only_row(&store);
    assert!(row.delivered_at.is_none(), "{row:?}");
    assert_eq!(row.attempts, 1);
}

#[tokio::test]
async fn webhook_endless_body_is_not_read() {
    // A 2xx status with a body that never ends: the status is enough, and the send must
    // neither wait for the body nor buffer it.
    let (port, _) = tcp_server(|mut stream| async move {
        read_request(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        while stream.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook(format!("http://127.0.0.1:{port}/hook"), 5);
    let (store, dispatcher) = setup(&dir, "hook", &config);

    let started = Instant::now();
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(only_row(&store).delivered_at.is_some());
}

/// Serves SMTP up to the DATA content, then closes the connection without the final reply.
async fn smtp_dropping_in_data(mut stream: TcpStream) {
    let (read, mut write) = stream.split();
    let mut reader = BufReader::new(read);
    if write.write_all(b"220 drop.test ESMTP\r\n").await.is_err() {
        return;
    }
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if in_data {
            // Close after the first content line, before the final dot.
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-drop.test\r\n250 8BITMIME\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => b"221 bye\r\n",
            _ => b"250 ok\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn smtp_drop_in_data_keeps_alert() {
    let (port, connections) = tcp_server(smtp_dropping_in_data).await;
    let config = SinkConfig::Smtp(SmtpSinkConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "vigie@alerts.test".into(),
        to: vec!["soc@example.test".into()],
        timeout_secs: 5,
        ca_file: None,
        tls_server_name: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let (store, dispatcher) = setup(&dir, "mail", &config);

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    assert!(connections.load(Ordering::SeqCst) >= 1);
    let row = only_row(&store);
    assert!(row.delivered_at.is_none(), "{row:?}");
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.is_some(), "{row:?}");
}

#[tokio::test]
async fn corrupt_row_does_not_block_others() {
    let (port, hits) = tcp_server(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook(format!("http://127.0.0.1:{port}/hook"), 5);
    let (store, dispatcher) = setup(&dir, "hook", &config);
    let second = store
        .record_finding(
            &lookalike("exarnple.com"),
            &["hook".to_string()],
            &alert::render,
        )
        .unwrap()
        .finding_id();
    // The first alert's payload is damaged on disk.
    rusqlite::Connection::open(dir.path().join("vigie.db"))
        .unwrap()
        .execute(
            "UPDATE outbox SET payload = '{broken' WHERE finding_id = 1",
            [],
        )
        .unwrap();

    let delivered = dispatcher.deliver_due().await;

    assert_eq!(delivered.ok(), Some(1), "the sound alert is delivered");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let rows = store.outbox_for_finding(second).unwrap();
    assert!(rows[0].delivered_at.is_some(), "{rows:?}");

    // The damaged row is kept, counted as failed and named in its last error.
    let (attempts, last_error, delivered): (u32, String, Option<i64>) =
        rusqlite::Connection::open(dir.path().join("vigie.db"))
            .unwrap()
            .query_row(
                "SELECT attempts, last_error, delivered_at FROM outbox WHERE finding_id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(last_error.contains("payload"), "{last_error}");
    assert_eq!(delivered, None);
}

#[tokio::test]
async fn store_write_failure_sends_once() {
    // The receiver accepts the alert, then the store cannot record the delivery (a full
    // disk, simulated by a trigger). Later passes must not send the alert again, or a
    // mailbox gets the same alert every few seconds until the disk is freed.
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let (port, _) = tcp_server(move |mut stream| {
        let counter = counter.clone();
        async move {
            loop {
                read_request(&mut stream).await;
                counter.fetch_add(1, Ordering::SeqCst);
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook(format!("http://127.0.0.1:{port}/hook"), 5);
    let (store, dispatcher) = setup(&dir, "hook", &config);
    let database = rusqlite::Connection::open(dir.path().join("vigie.db")).unwrap();
    database
        .execute_batch(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF delivered_at ON outbox
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();

    for _ in 0..3 {
        assert!(dispatcher.deliver_due().await.is_err());
    }
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "sent again while unrecorded"
    );

    // Space is back: the delivery is recorded without a new send.
    database.execute_batch("DROP TRIGGER disk_full;").unwrap();
    dispatcher.deliver_due().await.unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(only_row(&store).delivered_at.is_some());
}
