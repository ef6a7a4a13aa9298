//! The `nrd` source: lists of newly registered domains over HTTP (gzip, conditional GET) and
//! from files, matched against the watchlists, remembered across reads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::config::{self, Config};
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::sources::nrd::read_list;
use vigie::store::Store;

const FIXTURE: &str = include_str!("fixtures/nrd/phishing-database-sample.txt");

/// Hosts of the fixture that imitate PayPal or Société Générale.
const EXPECTED: &[&str] = &[
    "zahlung-paypal.com",
    "service-paypal.link",
    "verifypaypalpasswortlive.com",
    "societegeneral-securedaccount.fr",
    "xn--paypalgebhrenrechner-xec.de",
];

/// A served list: its body (gzip) and ETag, and counters of what the server saw.
struct Served {
    body: Mutex<(Vec<u8>, String)>,
    requests: AtomicUsize,
    not_modified: AtomicUsize,
}

async fn serve_list(State(served): State<Arc<Served>>, headers: HeaderMap) -> impl IntoResponse {
    served.requests.fetch_add(1, Ordering::Relaxed);
    let (body, etag) = served.body.lock().unwrap().clone();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if matches {
        served.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)], Vec::new());
    }
    (StatusCode::OK, [(header::ETAG, etag)], body)
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// Writes vigie.toml with one `[nrd.daily]` list and two watchlists (PayPal, Société
/// Générale), and loads it.
fn write_config(dir: &std::path::Path, nrd_location: &str) -> Config {
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(
        dir.join("vigie.toml"),
        format!(
            "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n\
             [sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n\
             [nrd.daily]\n{nrd_location}\ninterval_secs = 3600\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("watchlists/paypal.toml"),
        "[brand]\nname = \"PayPal\"\nkeywords = [\"paypal\"]\n\n[[domains]]\nname = \"paypal.com\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("watchlists/socgen.toml"),
        "[brand]\nname = \"Société Générale\"\nkeywords = [\"societegenerale\"]\n\n[[domains]]\nname = \"societegenerale.fr\"\n\n[[domains]]\nname = \"societegenerale.com\"\n",
    )
    .unwrap();
    config::load(&dir.join("vigie.toml")).unwrap_or_else(|e| panic!("config does not load:\n{e}"))
}

fn context(config: &Config) -> (SourceContext, Arc<Store>) {
    let store =
        Arc::new(Store::open(&config.daemon.state_dir.join("vigie.db")).expect("open the store"));
    let (_tx, rx) = watch::channel(Arc::new(config.clone()));
    let ctx = SourceContext {
        pipeline: Pipeline::new(store.clone(), rx.clone(), Arc::new(Notify::new())),
        config: rx,
        shutdown: CancellationToken::new(),
    };
    (ctx, store)
}

fn client() -> reqwest::Client {
    vigie::init_tls();
    reqwest::Client::new()
}

fn subjects(store: &Store) -> Vec<String> {
    store
        .findings()
        .unwrap()
        .into_iter()
        .map(|f| f.subject)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_list_over_http_alerts_once() {
    let text = format!("{FIXTURE}bad!!name.com\npaypal..com\n");
    let served = Arc::new(Served {
        body: Mutex::new((gzip(&text), "\"v1\"".to_string())),
        requests: AtomicUsize::new(0),
        not_modified: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/nrd/{file}", get(serve_list))
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("url = \"http://{addr}/nrd/{{date}}.txt.gz\""),
    );
    let (ctx, store) = context(&config);
    let list = &config.nrd["daily"];
    let client = client();

    let stats = read_list(&ctx, &config, list, &client)
        .await
        .expect("first read");
    assert!(!stats.unchanged);
    assert_eq!(stats.invalid, 2, "{stats:?}");
    assert_eq!(stats.domains, FIXTURE.lines().count() + 2, "{stats:?}");
    let found = subjects(&store);
    for domain in EXPECTED {
        assert!(
            found.contains(&domain.to_string()),
            "{domain} not found in {found:?}"
        );
    }
    assert_eq!(stats.alerted, stats.matched, "{stats:?}");
    let finding = store
        .findings()
        .unwrap()
        .into_iter()
        .find(|f| f.subject == "zahlung-paypal.com")
        .unwrap();
    assert_eq!(finding.source, "nrd");
    assert_eq!(finding.imitates, "paypal.com");

    // Second read: the server answers 304 and nothing is read again.
    let stats = read_list(&ctx, &config, list, &client)
        .await
        .expect("second read");
    assert!(stats.unchanged, "{stats:?}");
    assert_eq!(served.not_modified.load(Ordering::Relaxed), 1);
    assert_eq!(store.outbox_stats().unwrap().pending, found.len() as u64);

    // The list changes: only the new name alerts.
    *served.body.lock().unwrap() = (
        gzip(&format!("{text}paypal-secure-login.com\n")),
        "\"v2\"".to_string(),
    );
    let stats = read_list(&ctx, &config, list, &client)
        .await
        .expect("third read");
    assert!(!stats.unchanged);
    assert_eq!(stats.alerted, 1, "{stats:?}");
    assert!(subjects(&store).contains(&"paypal-secure-login.com".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_file_read_resumes_at_saved_line() {
    let dir = tempfile::tempdir().unwrap();
    // 2,000 benign filler lines, then the fixture: the brand names sit after line 2,000.
    let mut text: String = (0..2000).map(|i| format!("filler{i}.example\n")).collect();
    text.push_str(FIXTURE);
    std::fs::write(dir.path().join("today.txt"), &text).unwrap();
    let config = write_config(dir.path(), "path = \"today.txt\"");
    let (ctx, store) = context(&config);
    let list = &config.nrd["daily"];

    // A previous run of the same list stopped after line 2,000.
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    store
        .set_cursor("nrd", "progress:daily", &format!("{hash} 2000"))
        .unwrap();

    let stats = read_list(&ctx, &config, list, &client())
        .await
        .expect("read");
    assert_eq!(stats.resumed_at, 2000);
    assert_eq!(stats.domains, FIXTURE.lines().count(), "{stats:?}");
    for domain in EXPECTED {
        assert!(
            subjects(&store).contains(&domain.to_string()),
            "{domain} missing"
        );
    }

    // Read to its end: the same file is not read again.
    let stats = read_list(&ctx, &config, list, &client())
        .await
        .expect("second read");
    assert!(stats.unchanged, "{stats:?}");

    // A progress cursor of another list content is ignored.
    std::fs::write(
        dir.path().join("today.txt"),
        format!("{text}paypal-verify.net\n"),
    )
    .unwrap();
    store
        .set_cursor("nrd", "progress:daily", &format!("{hash} 2000"))
        .unwrap();
    let stats = read_list(&ctx, &config, list, &client())
        .await
        .expect("third read");
    assert_eq!(stats.resumed_at, 0);
    assert_eq!(stats.alerted, 1, "{stats:?}");
}

#[test]
fn nrd_config_errors_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "path = \"today.txt\"");
    let cases = [
        ("interval_secs = 60", "has neither `url` nor `path`"),
        ("url = \"ftp://x\"", "must be an http or https URL"),
        (
            "url = \"https://x/\"\npath = \"y\"",
            "has both `url` and `path`",
        ),
        ("path = \"a\"\nintervall_secs = 5", "intervall_secs"),
    ];
    for (body, expected) in cases {
        std::fs::write(
            dir.path().join("vigie.toml"),
            format!(
                "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n[nrd.daily]\n{body}\n"
            ),
        )
        .unwrap();
        let errors = config::load(&dir.path().join("vigie.toml"))
            .expect_err(body)
            .to_string();
        assert!(errors.contains(expected), "{body:?}: {errors}");
        assert!(
            errors.contains("vigie.toml:"),
            "{body:?}: no file:line in {errors}"
        );
    }
}
