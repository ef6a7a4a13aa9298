//! Alert delivery end to end: the dispatcher sends outbox rows to a real Postfix, read back
//! from Dovecot over IMAP, and to a webhook receiver that checks the HMAC signature. Sinks that
//! are down at first get their alert once they come up, and never hold back another sink.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vigie::alert::{self, Dispatcher, Sink};
use vigie::config::{
    DispatcherConfig, Secret, SinkConfig, SmtpSecurity, SmtpSinkConfig, WebhookFormat,
    WebhookSinkConfig,
};
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::{OutboxAlert, Store};

use support::mail::{MailServers, free_ports, header, split_message};

const SECRET: &str = "shared-webhook-secret";
const IMAP_WAIT: Duration = Duration::from_secs(20);

fn lookalike(subject: &str) -> Finding {
    let facts = [
        ("a", vec!["192.0.2.10"]),
        ("mx", vec![format!("mail.{subject}").leak() as &str]),
    ];
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
        score: 85,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: facts
            .iter()
            .map(|(name, values)| {
                let values: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
                (name.to_string(), values)
            })
            .collect(),
        evidence: serde_json::json!({}),
        observed_at: OffsetDateTime::now_utc(),
    }
}

fn smtp_sink(port: u16) -> SinkConfig {
    SinkConfig::Smtp(SmtpSinkConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "vigie@alerts.test".into(),
        to: vec![support::mail::MAILBOX.into()],
        timeout_secs: 30,
        ca_file: None,
        tls_server_name: None,
    })
}

fn webhook_sink(port: u16, secret: &str) -> SinkConfig {
    SinkConfig::Webhook(WebhookSinkConfig {
        url_is_secret: false,
        format: WebhookFormat::Generic,
        url: format!("http://127.0.0.1:{port}/hook"),
        secret: Some(Secret::new(secret)),
        timeout_secs: 10,
    })
}

/// Builds a dispatcher with one-second retries, so a sink that comes back is tried again quickly.
fn dispatcher(store: &Arc<Store>, sinks: &[(&str, SinkConfig)]) -> Dispatcher {
    let sinks: BTreeMap<String, Sink> = sinks
        .iter()
        .map(|(name, config)| (name.to_string(), Sink::from_config(name, config).unwrap()))
        .collect();
    let config = DispatcherConfig {
        retry_initial_secs: 1,
        retry_max_secs: 1,
    };
    Dispatcher::new(Arc::clone(store), sinks, config)
}

fn record(store: &Store, finding: &Finding, sinks: &[&str]) -> i64 {
    let sinks: Vec<String> = sinks.iter().map(|s| s.to_string()).collect();
    store
        .record_finding(finding, &sinks, &alert::render)
        .unwrap()
        .finding_id()
}

fn row(store: &Store, finding_id: i64, sink: &str) -> OutboxAlert {
    store
        .outbox_for_finding(finding_id)
        .unwrap()
        .into_iter()
        .find(|row| row.sink == sink)
        .unwrap_or_else(|| panic!("no outbox row for sink {sink}"))
}

/// One request the receiver accepted.
#[derive(Debug, Clone)]
struct Delivery {
    idempotency_key: String,
    body: serde_json::Value,
}

/// A webhook receiver on 127.0.0.1 that accepts only requests signed with its secret.
#[derive(Clone)]
struct Receiver {
    secret: String,
    accepted: Arc<Mutex<Vec<Delivery>>>,
    rejected: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(listener: tokio::net::TcpListener, secret: &str) -> Receiver {
        let receiver = Receiver {
            secret: secret.into(),
            accepted: Arc::default(),
            rejected: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    async fn bind(secret: &str) -> (Receiver, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (Receiver::start(listener, secret).await, port)
    }

    fn accepted(&self) -> Vec<Delivery> {
        self.accepted.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "webhook got {} of {count} alerts in {timeout:?}; rejected: {:?}",
                accepted.len(),
                self.rejected.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks the signature as a receiver following docs/alerts.md would.
fn check_signature(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or(format!("missing {name}"))
    };
    let timestamp = text("x-vigie-timestamp")?;
    let signature = text("x-vigie-signature")?;
    let key = text("idempotency-key")?;
    if text("content-type")? != "application/json" {
        return Err("wrong content type".into());
    }

    let age = OffsetDateTime::now_utc().unix_timestamp()
        - timestamp.parse::<i64>().map_err(|e| e.to_string())?;
    if age.abs() > 300 {
        return Err(format!("timestamp {timestamp} is {age} s old"));
    }
    let hex_digest = signature
        .strip_prefix("sha256=")
        .ok_or("no sha256= prefix")?;
    let digest = hex::decode(hex_digest).map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&digest)
        .map_err(|_| "bad signature".to_string())?;
    Ok(key.to_owned())
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    match check_signature(&receiver.secret, &headers, &body) {
        Ok(idempotency_key) => {
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            receiver.accepted.lock().unwrap().push(Delivery {
                idempotency_key,
                body,
            });
            StatusCode::NO_CONTENT
        }
        Err(reason) => {
            receiver.rejected.lock().unwrap().push(reason);
            StatusCode::UNAUTHORIZED
        }
    }
}

fn open_store(dir: &tempfile::TempDir) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join("vigie.db")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_reaches_mailbox_and_webhook() {
    let servers = tokio::task::spawn_blocking(MailServers::started)
        .await
        .unwrap();
    let (receiver, hook_port) = Receiver::bind(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("examp1e.com");
    let id = record(&store, &finding, &["mail", "hook", "hook-wrong-secret"]);
    let dispatcher = dispatcher(
        &store,
        &[
            ("mail", smtp_sink(servers.smtp_port)),
            ("hook", webhook_sink(hook_port, SECRET)),
            (
                "hook-wrong-secret",
                webhook_sink(hook_port, "not-the-secret"),
            ),
        ],
    );

    let delivered = dispatcher.deliver_due().await.unwrap();

    assert_eq!(delivered, 2, "mail and the correctly signed webhook");
    let key = format!("{}-r1", finding.fingerprint);

    // The mail, read back from the mailbox.
    let raw = servers.wait_for_message(&key, IMAP_WAIT).await;
    let (headers, body) = split_message(&raw);
    assert_eq!(
        header(&headers, "Subject"),
        Some("[vigie] HIGH: examp1e[.]com imitates example.com (homoglyph)")
    );
    assert_eq!(
        header(&headers, "Message-ID"),
        Some(format!("<{key}@vigie>").as_str())
    );
    assert_eq!(
        header(&headers, "X-Vigie-Idempotency-Key"),
        Some(key.as_str())
    );
    assert!(body.contains("New finding: examp1e[.]com"), "{body}");
    assert!(body.contains("Imitates: example.com"), "{body}");
    assert!(body.contains("How: homoglyph"), "{body}");
    assert!(body.contains("Severity: HIGH (score 85/100)"), "{body}");
    assert!(body.contains("MX mail[.]examp1e[.]com"), "{body}");
    assert!(body.contains("A 192[.]0[.]2[.]10"), "{body}");
    assert!(body.contains("Next steps:"), "{body}");
    assert!(body.contains("takedown"), "{body}");
    assert!(body.contains(&format!("Idempotency key: {key}")), "{body}");
    assert!(
        !body.contains("examp1e.com"),
        "a domain left clickable:\n{body}"
    );

    // The webhook, signed with the shared secret.
    let accepted = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].idempotency_key, key);
    assert_eq!(accepted[0].body["idempotency_key"], key.as_str());
    assert_eq!(accepted[0].body["subject_defanged"], "examp1e[.]com");
    assert_eq!(accepted[0].body["imitates"], "example.com");
    assert_eq!(accepted[0].body["schema_version"], 1);

    // The wrongly signed request was rejected and stays queued with the status.
    assert_eq!(
        receiver.rejected.lock().unwrap().as_slice(),
        ["bad signature"]
    );
    let wrong = row(&store, id, "hook-wrong-secret");
    assert_eq!(wrong.attempts, 1);
    assert!(wrong.delivered_at.is_none());
    assert!(
        wrong.last_error.as_deref().unwrap_or("").contains("401"),
        "{wrong:?}"
    );
    assert!(row(&store, id, "mail").delivered_at.is_some());
    assert!(row(&store, id, "hook").delivered_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_down_then_up_gets_alert() {
    let [port] = free_ports();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("examp1e.net");
    let id = record(&store, &finding, &["hook"]);
    let dispatcher = dispatcher(&store, &[("hook", webhook_sink(port, SECRET))]);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(Arc::new(Notify::new()), shutdown.clone()));

    // Nothing listens yet: wait until the first attempt failed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while row(&store, id, "hook").attempts == 0 {
        assert!(Instant::now() < deadline, "no delivery attempt was made");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed = row(&store, id, "hook");
    assert!(failed.delivered_at.is_none());
    assert!(failed.last_error.is_some());

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::start(listener, SECRET).await;
    let accepted = receiver.wait_for(1, Duration::from_secs(15)).await;

    assert_eq!(
        accepted[0].idempotency_key,
        format!("{}-r1", finding.fingerprint)
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("dispatcher stops on shutdown")
        .unwrap();
    let delivered = row(&store, id, "hook");
    assert!(delivered.delivered_at.is_some(), "{delivered:?}");
    assert!(delivered.attempts >= 1);
    assert_eq!(receiver.accepted().len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_then_up_gets_alert() {
    let mut servers = MailServers::new();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("examp1e.org");
    let id = record(&store, &finding, &["mail"]);
    let dispatcher = dispatcher(&store, &[("mail", smtp_sink(servers.smtp_port))]);

    // Nothing listens on the SMTP port yet.
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);
    let failed = row(&store, id, "mail");
    assert_eq!(failed.attempts, 1);
    assert!(failed.delivered_at.is_none());
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains("sink mail: SMTP delivery to 127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("failed"), "{error}");

    let servers = tokio::task::spawn_blocking(move || {
        servers.start();
        servers
    })
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(Arc::new(Notify::new()), shutdown.clone()));

    let key = format!("{}-r1", finding.fingerprint);
    let raw = servers.wait_for_message(&key, IMAP_WAIT).await;
    let (headers, _body) = split_message(&raw);
    assert_eq!(
        header(&headers, "X-Vigie-Idempotency-Key"),
        Some(key.as_str())
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("dispatcher stops on shutdown")
        .unwrap();
    let delivered = row(&store, id, "mail");
    assert!(delivered.delivered_at.is_some(), "{delivered:?}");
    assert_eq!(servers.count_messages(&key).await, 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_sink_does_not_hold_back_other() {
    // An SMTP "server" that accepts connections and never sends its greeting.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (receiver, hook_port) = Receiver::bind(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("exarnple.com");
    let id = record(&store, &finding, &["hook", "mail"]);
    let dispatcher = dispatcher(
        &store,
        &[
            ("mail", smtp_sink(silent_port)),
            ("hook", webhook_sink(hook_port, SECRET)),
        ],
    );

    let pass = tokio::spawn(async move { dispatcher.deliver_due().await });

    // The webhook gets its alert while the SMTP exchange is still waiting for a greeting.
    let (connection, _) = tokio::task::spawn_blocking(move || silent.accept().unwrap())
        .await
        .unwrap();
    let accepted = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        accepted[0].idempotency_key,
        format!("{}-r1", finding.fingerprint)
    );
    assert!(!pass.is_finished(), "the SMTP send should still be blocked");

    // Hanging up on the SMTP client ends its attempt with an error.
    drop(connection);
    let delivered = pass.await.unwrap().unwrap();
    assert_eq!(delivered, 1);
    let mail = row(&store, id, "mail");
    assert!(mail.delivered_at.is_none());
    assert_eq!(mail.attempts, 1);
    assert!(row(&store, id, "hook").delivered_at.is_some());
}

#[tokio::test]
async fn alert_of_removed_sink_stays_queued() {
    let (receiver, hook_port) = Receiver::bind(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("examp1e.io");
    let id = record(&store, &finding, &["hook", "removed"]);
    let dispatcher = dispatcher(&store, &[("hook", webhook_sink(hook_port, SECRET))]);

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);

    assert_eq!(receiver.accepted().len(), 1);
    let kept = row(&store, id, "removed");
    assert!(kept.delivered_at.is_none());
    assert_eq!(kept.attempts, 0, "never tried");
    assert_eq!(store.pending_sinks().unwrap(), ["removed"]);
}

#[test]
fn invalid_smtp_address_names_sink() {
    let mut config = smtp_sink(25);
    if let SinkConfig::Smtp(smtp) = &mut config {
        smtp.to = vec!["soc-at-example.test".into()];
    }

    let error = Sink::from_config("soc-mail", &config)
        .err()
        .expect("invalid address");

    let text = error.to_string();
    assert!(text.contains("soc-mail"), "{text}");
    assert!(text.contains("soc-at-example.test"), "{text}");
    assert!(text.contains("name@domain"), "{text}");
}

#[test]
fn invalid_webhook_url_names_sink() {
    let config = SinkConfig::Webhook(WebhookSinkConfig {
        url_is_secret: false,
        format: WebhookFormat::Generic,
        url: "ftp://127.0.0.1/hook".into(),
        secret: None,
        timeout_secs: 10,
    });

    let error = Sink::from_config("soc-hook", &config)
        .err()
        .expect("invalid URL");

    let text = error.to_string();
    assert!(text.contains("soc-hook"), "{text}");
    assert!(text.contains("ftp"), "{text}");
    assert!(text.contains("use http or https"), "{text}");
}

#[test]
fn signature_matches_documented_example() {
    // The example in docs/alerts.md.
    let signature = alert::webhook::signature("secret", "1700000000", br#"{"a":1}"#);

    let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
    mac.update(b"1700000000.{\"a\":1}");
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected);
    assert_eq!(
        signature,
        "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
    );
}

#[tokio::test]
async fn failed_sink_paused_until_retry() {
    let [dead_port] = free_ports();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let ids: Vec<i64> = ["examp1e.com", "examp1e.net", "examp1e.org"]
        .iter()
        .map(|subject| record(&store, &lookalike(subject), &["hook"]))
        .collect();
    let dispatcher = dispatcher(&store, &[("hook", webhook_sink(dead_port, SECRET))]);

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    // Only the oldest row probed the sink; the others wait for the pause to end.
    let attempts: Vec<u32> = ids
        .iter()
        .map(|id| row(&store, *id, "hook").attempts)
        .collect();
    assert_eq!(attempts, [1, 0, 0]);
    let error = row(&store, ids[0], "hook").last_error.unwrap_or_default();
    assert!(error.contains(&format!("127.0.0.1:{dead_port}")), "{error}");
}

fn smtp_sink_with_login(port: u16, password: &str) -> SinkConfig {
    let mut config = smtp_sink(port);
    if let SinkConfig::Smtp(smtp) = &mut config {
        smtp.username = Some(support::mail::MAILBOX.into());
        smtp.password = Some(Secret::new(password));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_login_checked_by_server() {
    let servers = tokio::task::spawn_blocking(MailServers::started)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let finding = lookalike("examp1e.com");
    let id = record(&store, &finding, &["good-login", "bad-login"]);
    let dispatcher = dispatcher(
        &store,
        &[
            (
                "good-login",
                smtp_sink_with_login(servers.smtp_port, support::mail::PASSWORD),
            ),
            (
                "bad-login",
                smtp_sink_with_login(servers.smtp_port, "wrong-password"),
            ),
        ],
    );

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);

    let key = format!("{}-r1", finding.fingerprint);
    let raw = servers.wait_for_message(&key, IMAP_WAIT).await;
    assert!(
        raw.contains("Authenticated sender: soc@example.test"),
        "the mail was not sent with SMTP AUTH:\n{raw}"
    );
    assert!(row(&store, id, "good-login").delivered_at.is_some());
    let rejected = row(&store, id, "bad-login");
    assert!(rejected.delivered_at.is_none());
    let error = rejected.last_error.unwrap_or_default();
    assert!(
        error.contains("535"),
        "expected an authentication failure: {error}"
    );
}

/// Bodies posted to a chat receiver, by request path.
type Posted = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

async fn chat_receiver() -> (Posted, u16) {
    async fn take(
        State(posted): State<Posted>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        if headers
            .get("content-type")
            .is_none_or(|value| value != "application/json")
        {
            return StatusCode::UNSUPPORTED_MEDIA_TYPE;
        }
        let Ok(json) = serde_json::from_slice(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        posted.lock().unwrap().push((uri.path().to_owned(), json));
        StatusCode::OK
    }
    let posted: Posted = Arc::default();
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(take))
        .with_state(posted.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (posted, port)
}

fn chat_sink(port: u16, path: &str, format: WebhookFormat) -> SinkConfig {
    SinkConfig::Webhook(WebhookSinkConfig {
        url: format!("http://127.0.0.1:{port}/{path}"),
        url_is_secret: true,
        format,
        secret: None,
        timeout_secs: 10,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_formats_carry_defanged_alert() {
    let (posted, port) = chat_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    // A hostile reason: Slack mention syntax and a Markdown link around the lookalike.
    let mut finding = lookalike("examp1e.org");
    finding
        .reasons
        .push("<!channel> [login](https://examp1e.org/login)".into());
    let sinks = [
        (
            "slack",
            chat_sink(port, "services/T0/B0/xyz", WebhookFormat::Slack),
        ),
        (
            "mm",
            chat_sink(port, "hooks/abc", WebhookFormat::Mattermost),
        ),
        (
            "teams",
            chat_sink(port, "workflows/run", WebhookFormat::Teams),
        ),
    ];
    record(&store, &finding, &["slack", "mm", "teams"]);
    let dispatcher = dispatcher(&store, &sinks);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(Arc::new(Notify::new()), shutdown.clone()));

    let deadline = Instant::now() + Duration::from_secs(15);
    while posted.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "got {:?}",
            posted.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    let posted = posted.lock().unwrap().clone();
    let body = |prefix: &str| {
        posted
            .iter()
            .find(|(path, _)| path.starts_with(prefix))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("nothing posted to {prefix}: {posted:?}"))
    };

    let slack = body("/services/");
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("HIGH: examp1e[.]org imitates example.com"),
        "{text}"
    );
    let blocks = slack["blocks"].to_string();
    assert!(blocks.contains("&lt;!channel&gt;"), "{blocks}");
    assert!(!blocks.contains("<!channel>"), "{blocks}");
    assert!(!blocks.contains("examp1e.org"), "raw lookalike in {blocks}");

    let mm = body("/hooks/");
    let attachment = &mm["attachments"][0];
    assert_eq!(attachment["color"], "#d9480f");
    let text = attachment["text"].as_str().unwrap();
    assert!(text.contains("\\[login\\]"), "{text}");
    assert!(attachment["fields"].to_string().contains("score 85/100"));

    let teams = body("/workflows/");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["body"][1]["type"], "FactSet");
    assert!(!teams.to_string().contains("examp1e.org"));
}

#[test]
fn secret_webhook_url_never_in_errors() {
    let config = SinkConfig::Webhook(WebhookSinkConfig {
        url: "ftp://hooks.example.net/services/T0/B0/very-secret-token".into(),
        url_is_secret: true,
        format: WebhookFormat::Slack,
        secret: None,
        timeout_secs: 10,
    });
    let error = Sink::from_config("slack", &config)
        .err()
        .unwrap()
        .to_string();
    assert!(!error.contains("very-secret-token"), "{error}");
    assert!(error.contains("url_env or url_file"), "{error}");
}
