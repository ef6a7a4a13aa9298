//! The `feed` source against feeds served on 127.0.0.1: real captures (RSS 1.0, RSS 2.0,
//! Atom) and feeds written for the test brand (RSS 0.91, RSS 2.0, JSON Feed), conditional GET
//! with ETag and with Last-Modified, renumbered items, a feed that turns malformed, 429 with
//! Retry-After, a redirect loop, gzip, the size limit and the private-address guard, on an IP
//! literal and on a name that the `[dns]` zone resolves to a loopback address.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::dns::TestDns;
use support::feed_web::{Reply, WebServer};
use support::watch::{ACME, RED_HAT, alert_count, context, write_config};
use vigie::config::Config;
use vigie::model::{Finding, IndicatorKind, Severity};
use vigie::sources::feed::{FeedError, next_wait, read_feed};
use vigie::sources::http::HttpError;
use vigie::sources::{HealthState, MatcherCache, Outcome, health_of, http_client, record_health};

const REPORTS: &str = include_str!("fixtures/feeds/acme-reports.rss");
const REPORTS_JSON: &str = include_str!("fixtures/feeds/acme-reports.json");
const REPORTS_091: &str = include_str!("fixtures/feeds/acme-reports-091.rss");
const HEISE: &str = include_str!("fixtures/feeds/heise.atom");
const CRAIGSLIST: &str = include_str!("fixtures/feeds/craigslist.rss");
const REDDIT: &str = include_str!("fixtures/feeds/reddit.rss");

const RSS: &str = "application/rss+xml";

/// Writes a config with one `[feed.reports]` at `url`, private addresses allowed.
fn feed_config(dir: &std::path::Path, url: &str, extra: &str) -> Config {
    write_config(
        dir,
        &format!("[feed.reports]\nurl = \"{url}\"\nallow_private_addresses = true\n{extra}"),
        &[("acme", ACME), ("redhat", RED_HAT)],
    )
}

async fn read_once(
    ctx: &vigie::sources::SourceContext,
    config: &Config,
) -> Result<vigie::sources::feed::FeedStats, FeedError> {
    let feed = &config.feeds["reports"];
    let client = http_client(&feed.fetch, &config.dns).unwrap();
    let config = Arc::new(config.clone());
    read_feed(ctx, &config, feed, &client, &mut MatcherCache::default()).await
}

fn etag_reply(body: &str, etag: &'static str) -> impl Fn(&support::feed_web::Seen) -> Reply {
    let body = body.to_string();
    move |seen| {
        if seen.header("if-none-match") == Some(etag) {
            Reply::status(304).with("etag", etag)
        } else {
            Reply::ok(RSS, body.clone()).with("etag", etag)
        }
    }
}

#[tokio::test]
async fn feed_items_alert_once_with_their_link() {
    let server = WebServer::start().await;
    server.set_fn("/reports.rss", etag_reply(REPORTS, "\"v1\""));
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, store) = context(&config);

    let stats = read_once(&ctx, &config).await.expect("first read");
    assert_eq!(stats.items, 4);
    assert_eq!(stats.known, 0);

    let findings = store.findings().unwrap();
    let domain = findings
        .iter()
        .find(|f| f.subject == "acmebank-secure-login.com")
        .expect("the lookalike domain named in the first item");
    assert_eq!(
        domain.fingerprint,
        Finding::fingerprint_for("acme", "domain", "acmebank-secure-login.com")
    );
    assert_eq!(domain.kind, "lookalike-domain");
    assert_eq!(domain.source, "feed:reports");
    assert!(
        domain
            .indicators
            .iter()
            .any(|i| i.kind == IndicatorKind::Url
                && i.value == "https://reports.test/2026/12/fake-invoices")
    );
    assert!(
        domain
            .reasons
            .iter()
            .any(|r| r.contains("named in feed:reports item 'Fake Acme Bank invoices")),
        "{:?}",
        domain.reasons
    );

    let invoices = findings
        .iter()
        .find(|f| f.subject == "https://reports.test/2026/12/fake-invoices")
        .expect("a mention finding for the invoice report");
    assert_eq!(invoices.kind, "brand-mention");
    assert!(invoices.techniques.contains(&"iban".to_string()));
    assert_eq!(invoices.severity, Severity::Critical);
    assert!(
        invoices
            .reasons
            .iter()
            .any(|r| r.contains("IBAN") && r.contains("FR76 3000 6000 0112 3456 7890 189")),
        "{:?}",
        invoices.reasons
    );

    let ceo = findings
        .iter()
        .find(|f| f.subject == "https://reports.test/2026/12/ceo-fraud")
        .expect("a mention finding for the CEO fraud report");
    assert_eq!(ceo.imitates, "Jane Q. Doe");
    assert!(ceo.reasons.iter().any(|r| r.contains("\"Jane Doe, CEO\"")));

    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert!(
        !subjects.iter().any(|s| s.contains("weather")),
        "{subjects:?}"
    );
    assert!(
        !subjects.iter().any(|s| s.contains("security-advice")),
        "the bank's own page is legitimate: {subjects:?}"
    );
    let alerts = alert_count(&store);
    assert_eq!(alerts, findings.len(), "one sink, one alert a finding");

    let again = read_once(&ctx, &config).await.expect("second read");
    assert!(again.not_modified);
    let requests = server.seen_on("/reports.rss");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(alert_count(&store), alerts);
}

/// Serves `body` with the Last-Modified date in `current`, and 304 without a body when the
/// request's If-Modified-Since is that date. The server sends no ETag.
fn last_modified_reply(
    body: &str,
    current: Arc<std::sync::Mutex<&'static str>>,
) -> impl Fn(&support::feed_web::Seen) -> Reply {
    let body = body.to_string();
    move |seen| {
        let date = *current.lock().unwrap();
        if seen.header("if-modified-since") == Some(date) {
            Reply::status(304).with("last-modified", date)
        } else {
            Reply::ok(RSS, body.clone()).with("last-modified", date)
        }
    }
}

#[tokio::test]
async fn last_modified_answers_not_modified() {
    const FIRST: &str = "Mon, 07 Dec 2026 09:30:00 GMT";
    const SECOND: &str = "Tue, 08 Dec 2026 14:05:00 GMT";
    let server = WebServer::start().await;
    let current = Arc::new(std::sync::Mutex::new(FIRST));
    server.set_fn(
        "/reports.rss",
        last_modified_reply(REPORTS, current.clone()),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, store) = context(&config);

    let first = read_once(&ctx, &config).await.expect("first read");
    assert!(!first.not_modified);
    assert_eq!(first.items, 4);
    let alerts = alert_count(&store);
    assert!(alerts >= 3, "{alerts}");
    let saved = store
        .cursor("feed:reports", "validators")
        .unwrap()
        .expect("validators saved after the first read");
    assert!(saved.contains(FIRST), "{saved}");

    let second = read_once(&ctx, &config).await.expect("second read");
    assert!(second.not_modified, "{second:?}");
    assert_eq!(second.items, 0, "a 304 has no items to read");
    assert_eq!(alert_count(&store), alerts);

    // The feed changes: the old date no longer matches, so the server sends the body again.
    *current.lock().unwrap() = SECOND;
    let third = read_once(&ctx, &config).await.expect("third read");
    assert!(!third.not_modified, "{third:?}");
    assert_eq!(third.known, 4, "{third:?}");
    assert_eq!(alert_count(&store), alerts);
    let fourth = read_once(&ctx, &config).await.expect("fourth read");
    assert!(fourth.not_modified, "{fourth:?}");

    let requests = server.seen_on("/reports.rss");
    assert_eq!(requests.len(), 4);
    let sent: Vec<Option<&str>> = requests
        .iter()
        .map(|request| request.header("if-modified-since"))
        .collect();
    assert_eq!(sent, [None, Some(FIRST), Some(FIRST), Some(SECOND)]);
    for request in &requests {
        assert_eq!(
            request.header("if-none-match"),
            None,
            "If-None-Match sent to a server that gave no ETag"
        );
    }
}

#[tokio::test]
async fn renumbered_items_raise_no_new_alert() {
    let server = WebServer::start().await;
    server.set("/reports.rss", Reply::ok(RSS, REPORTS));
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, store) = context(&config);
    read_once(&ctx, &config).await.expect("first read");
    let alerts = alert_count(&store);
    assert!(alerts >= 3, "{alerts}");

    let renumbered = REPORTS
        .replace("<guid>report-", "<guid>moved-")
        .replace("reports.test/2026/12/", "reports.test/archive/2026/12/");
    server.set("/reports.rss", Reply::ok(RSS, renumbered));
    let stats = read_once(&ctx, &config).await.expect("second read");

    assert_eq!(stats.known, 4, "{stats:?}");
    assert_eq!(stats.findings, 0, "{stats:?}");
    assert_eq!(alert_count(&store), alerts);
}

#[tokio::test]
async fn malformed_feed_is_reported_and_keeps_findings() {
    let server = WebServer::start().await;
    server.set("/reports.rss", Reply::ok(RSS, REPORTS));
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, store) = context(&config);
    read_once(&ctx, &config).await.expect("first read");
    let before = store.findings().unwrap().len();

    server.set(
        "/reports.rss",
        Reply::ok("text/html", "<html><body>Maintenance</body></html>"),
    );
    let error = read_once(&ctx, &config).await.unwrap_err();
    assert!(matches!(error, FeedError::Malformed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("feed reports at http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("is not a valid RSS, Atom or JSON feed"),
        "{message}"
    );

    for _ in 0..3 {
        record_health(&ctx, "feed:reports", Outcome::Failed(message.clone()))
            .await
            .unwrap();
    }
    let health = health_of(&store, "feed:reports")
        .unwrap()
        .expect("a health row");
    assert_eq!(health.state, HealthState::Failing);
    assert_eq!(health.consecutive_failures, 3);
    assert_eq!(health.last_error.as_deref(), Some(message.as_str()));
    assert_eq!(store.findings().unwrap().len(), before);

    server.set("/reports.rss", Reply::ok(RSS, REPORTS));
    read_once(&ctx, &config).await.expect("the feed recovers");
    record_health(&ctx, "feed:reports", Outcome::Ok { items: 4 })
        .await
        .unwrap();
    let health = health_of(&store, "feed:reports").unwrap().unwrap();
    assert_eq!(health.state, HealthState::Ok);
    assert_eq!(health.consecutive_failures, 0);
}

#[tokio::test]
async fn rate_limited_feed_waits_for_retry_after() {
    let server = WebServer::start().await;
    server.set(
        "/reports.rss",
        Reply::status(429).with("retry-after", "7200"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, _store) = context(&config);

    let result = read_once(&ctx, &config).await;
    let error = result.as_ref().unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7200)));
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    assert_eq!(
        next_wait(&config.feeds["reports"], &result),
        Duration::from_secs(7200)
    );
}

#[tokio::test]
async fn redirect_loop_is_an_error() {
    let server = WebServer::start().await;
    server.set("/a", Reply::status(302).with("location", &server.url("/b")));
    server.set("/b", Reply::status(302).with("location", &server.url("/a")));
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/a"), "");
    let (ctx, _store) = context(&config);

    let error = read_once(&ctx, &config).await.unwrap_err();
    let FeedError::Http { source, .. } = &error else {
        panic!("expected an HTTP error, got {error:?}");
    };
    assert!(matches!(source, HttpError::Transport { .. }), "{source:?}");
    assert!(error.to_string().contains("redirect loop"), "{error}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn private_address_rejected_by_default() {
    let server = WebServer::start().await;
    server.set("/reports.rss", Reply::ok(RSS, REPORTS));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("[feed.reports]\nurl = \"{}\"\n", server.url("/reports.rss")),
        &[("acme", ACME)],
    );
    let (ctx, _store) = context(&config);

    let error = read_once(&ctx, &config).await.unwrap_err();
    let FeedError::Http { source, .. } = &error else {
        panic!("expected an HTTP error, got {error:?}");
    };
    assert!(matches!(source, HttpError::Blocked { .. }), "{source:?}");
    assert!(
        error.to_string().contains("allow_private_addresses"),
        "{error}"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn every_feed_format_is_read() {
    let server = WebServer::start().await;
    let feeds = [
        ("/heise.atom", "application/atom+xml", HEISE, 15),
        ("/craigslist.rss", "application/rdf+xml", CRAIGSLIST, 25),
        ("/reddit.rss", RSS, REDDIT, 24),
        ("/acme.json", "application/feed+json", REPORTS_JSON, 1),
        ("/acme-091.rss", RSS, REPORTS_091, 1),
    ];
    for (path, content_type, body, _) in feeds {
        server.set(path, Reply::ok(content_type, body));
    }
    let dir = tempfile::tempdir().unwrap();
    let store_config = feed_config(dir.path(), &server.url("/heise.atom"), "");
    let (ctx, store) = context(&store_config);

    for (path, _, _, expected_items) in feeds {
        let mut config = store_config.clone();
        config.feeds.get_mut("reports").unwrap().url = server.url(path);
        let stats = read_once(&ctx, &config)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(stats.items, expected_items, "{path}");
    }

    let findings = store.findings().unwrap();
    let red_hat = findings
        .iter()
        .find(|f| f.watchlist == "redhat")
        .expect("the real heise capture names Red Hat");
    assert_eq!(red_hat.kind, "brand-mention");
    assert!(
        red_hat
            .reasons
            .iter()
            .any(|r| r.contains("Red Hat gibt WildFly"))
    );
    let phone = findings
        .iter()
        .find(|f| f.subject == "https://reports.test/json/1")
        .expect("the JSON Feed item quoting the bank's number");
    assert!(phone.techniques.contains(&"phone".to_string()));
    let address = findings
        .iter()
        .find(|f| f.subject == "https://reports.test/091/1")
        .expect("the RSS 0.91 item quoting the bank's address");
    assert!(address.techniques.contains(&"address".to_string()));
}

#[tokio::test]
async fn gzip_body_and_size_limit() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(HEISE.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let server = WebServer::start().await;
    server.set(
        "/heise.atom",
        Reply::ok("application/atom+xml", gzipped).with("content-encoding", "gzip"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/heise.atom"), "max_bytes = 4096\n");
    let (ctx, _store) = context(&config);

    let error = read_once(&ctx, &config).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("larger than max_bytes (4096 bytes)"),
        "{error}"
    );
    assert!(
        server.seen()[0]
            .header("accept-encoding")
            .is_some_and(|v| v.contains("gzip"))
    );

    let mut roomy = config.clone();
    roomy.feeds.get_mut("reports").unwrap().fetch.max_bytes = 1 << 20;
    let stats = read_once(&ctx, &roomy).await.expect("gzip feed read");
    assert_eq!(stats.items, 15);
}

/// Reads every feed capture of the shared data folder, when it is present.
#[tokio::test]
async fn shared_feed_captures_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(folder) = ["../shared", "../../shared"]
        .iter()
        .map(|up| root.join(up).join("data/feeds/rss-parser"))
        .find(|folder| folder.is_dir())
    else {
        eprintln!("skipped: no shared/data/feeds beside the checkout");
        return;
    };
    let entries = std::fs::read_dir(&folder).unwrap();
    let server = WebServer::start().await;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        let name = format!("/{}", path.file_name().unwrap().to_string_lossy());
        server.set(
            &name,
            Reply::ok("application/xml", std::fs::read(&path).unwrap()),
        );
        paths.push(name);
    }
    let dir = tempfile::tempdir().unwrap();
    let base = feed_config(dir.path(), &server.url("/x"), "");
    let (ctx, _store) = context(&base);
    for path in &paths {
        let mut config = base.clone();
        config.feeds.get_mut("reports").unwrap().url = server.url(path);
        let stats = read_once(&ctx, &config)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(stats.items > 0, "{path}");
    }
    assert_eq!(paths.len(), 6);
}

#[tokio::test]
async fn malformed_feed_bodies_name_the_feed() {
    let server = WebServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = feed_config(dir.path(), &server.url("/reports.rss"), "");
    let (ctx, store) = context(&config);
    let truncated = &REPORTS[..REPORTS.len() / 2];
    let cases: [(&str, &[u8]); 4] = [
        ("truncated RSS", truncated.as_bytes()),
        ("empty body", b""),
        ("JSON that is no feed", b"{\"error\": \"rate limited\"}"),
        ("binary", &[0xff, 0xfe, 0x00, 0x01, 0x02]),
    ];
    for (case, body) in cases {
        server.set("/reports.rss", Reply::ok(RSS, body.to_vec()));
        let error = read_once(&ctx, &config).await.unwrap_err();
        assert!(
            matches!(error, FeedError::Malformed { .. }),
            "{case}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("feed reports at http://127.0.0.1:"),
            "{case}: {message}"
        );
        assert!(message.contains("check the URL"), "{case}: {message}");
    }
    assert!(store.findings().unwrap().is_empty());
}

/// A feed whose host name resolves, through the `[dns]` nameservers, to the address of the
/// test server: refused by default, read when private addresses are allowed. The name exists
/// only in the test zone, so reading it shows that the source resolves through `[dns]`.
#[tokio::test]
async fn name_resolving_to_a_private_address_is_refused() {
    let dns = TestDns::builder()
        .zone(
            "feeds.test.",
            "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns\n\
             ns 3600 IN A 127.0.0.1\nreports 3600 IN A 127.0.0.1\n",
        )
        .start()
        .await;
    let server = WebServer::start().await;
    server.set("/reports.rss", Reply::ok(RSS, REPORTS));
    let url = format!(
        "http://reports.feeds.test:{}/reports.rss",
        server.addr.port()
    );
    let dns_table = format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 1000\n\n",
        dns.addr
    );

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{dns_table}[feed.reports]\nurl = \"{url}\"\n"),
        &[("acme", ACME)],
    );
    let (ctx, _store) = context(&config);
    let error = read_once(&ctx, &config).await.unwrap_err();
    let FeedError::Http { source, .. } = &error else {
        panic!("expected an HTTP error, got {error:?}");
    };
    assert!(
        matches!(source, HttpError::Blocked { address, .. } if address.is_loopback()),
        "{source:?}"
    );
    assert!(server.seen().is_empty(), "no request reached the server");

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{dns_table}[feed.reports]\nurl = \"{url}\"\nallow_private_addresses = true\n"),
        &[("acme", ACME)],
    );
    let (ctx, _store) = context(&config);
    let stats = read_once(&ctx, &config).await.unwrap();
    assert!(stats.items > 0, "{stats:?}");
    assert_eq!(server.seen().len(), 1);
}
