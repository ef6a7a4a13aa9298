//! The `scam_repository` source against a scam-report site served on 127.0.0.1: list pages
//! with pagination, item pages read with CSS selectors, robots.txt and politeness, a layout
//! change that makes the source blind, and the real 419scam.org excerpts of the shared data
//! when they are present.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::feed_web::{Reply, WebServer};
use support::watch::{ACME, alert_count, context, write_config};
use vigie::config::Config;
use vigie::model::Finding;
use vigie::sources::scam_repository::{ScamRepositoryError, VisitStats, visit};
use vigie::sources::{
    HealthState, MatcherCache, Outcome, SourceContext, health_of, http_client, record_health,
};

const HTML: &str = "text/html; charset=utf-8";
const USER_AGENT: &str = "vigie-test/1.0 (soc@acmebank.test)";

fn page(name: &str) -> String {
    let path = format!("{}/tests/fixtures/scam/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves the test site: robots.txt (with `robots`), two list pages and four item pages.
async fn site(robots: &str) -> WebServer {
    let server = WebServer::start().await;
    server.set("/robots.txt", Reply::ok("text/plain", robots.to_string()));
    server.set("/emails/", Reply::ok(HTML, page("list-1.htm")));
    server.set("/emails/list-1.htm", Reply::ok(HTML, page("list-1.htm")));
    server.set("/emails/list-2.htm", Reply::ok(HTML, page("list-2.htm")));
    server.set(
        "/emails/2026-12/01/0001.htm",
        Reply::ok(HTML, page("item-0001.htm")),
    );
    server.set(
        "/emails/2026-12/01/0002.htm",
        Reply::ok(HTML, page("item-0002.htm")),
    );
    server.set(
        "/emails/private/0003.htm",
        Reply::ok(HTML, page("item-0003.htm")),
    );
    server.set(
        "/emails/2026-11/28/0004.htm",
        Reply::ok(HTML, page("item-0004.htm")),
    );
    server
}

const ROBOTS: &str = "User-agent: *\nDisallow: /emails/private/\nCrawl-delay: 0.3\n";

fn site_config(dir: &std::path::Path, url: &str, watchlists: &[(&str, &str)]) -> Config {
    write_config(
        dir,
        &format!(
            "[scam_repository.fraudmails]\n\
             url = \"{url}\"\n\
             allow_private_addresses = true\n\
             delay_ms = 100\n\
             user_agent = \"{USER_AGENT}\"\n\
             item_links = \"ul.emails li a\"\n\
             next_page = \"a.next\"\n\
             max_pages = 3\n\n\
             [scam_repository.fraudmails.fields]\n\
             sender = \"p.from\"\n\
             reply_to = \"p.reply-to\"\n\
             subject = \"p.subject\"\n\
             date = \"p.date\"\n\
             body = \"pre.body\"\n"
        ),
        watchlists,
    )
}

async fn visit_once(
    ctx: &SourceContext,
    config: &Config,
) -> Result<VisitStats, ScamRepositoryError> {
    let site = &config.scam_repositories["fraudmails"];
    let client = http_client(&site.fetch, &config.dns).unwrap();
    let config = Arc::new(config.clone());
    visit(ctx, &config, site, &client, &mut MatcherCache::default()).await
}

#[tokio::test]
async fn site_items_become_findings_politely() {
    let server = site(ROBOTS).await;
    let dir = tempfile::tempdir().unwrap();
    let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
    let (ctx, store) = context(&config);

    let stats = visit_once(&ctx, &config).await.expect("visit");
    // The list page, the older page, and the first page again under its own name.
    assert_eq!(stats.pages, 3, "{stats:?}");
    assert_eq!(stats.links, 4, "{stats:?}");
    assert_eq!(stats.disallowed, 1, "{stats:?}");
    assert_eq!(stats.items, 3, "{stats:?}");
    assert_eq!(stats.empty_items, 0, "{stats:?}");
    assert_eq!(stats.blind, None);

    let findings = store.findings().unwrap();
    let payments = findings
        .iter()
        .find(|f| f.subject == "acmebank-payments.com")
        .expect("the sender's lookalike domain");
    assert_eq!(
        payments.fingerprint,
        Finding::fingerprint_for("acme", "domain", "acmebank-payments.com")
    );
    assert_eq!(payments.source, "scam_repository:fraudmails");
    let claims = findings
        .iter()
        .find(|f| f.subject == "secure-acmebank-claims.com");
    assert!(claims.is_some(), "the lookalike in the lottery mail");
    let invoice = findings
        .iter()
        .find(|f| f.subject == server.url("/emails/2026-12/01/0001.htm"))
        .expect("the invoice mail quoting the bank's IBAN and phone");
    assert!(invoice.techniques.contains(&"iban".to_string()));
    assert!(invoice.techniques.contains(&"phone".to_string()));
    assert_eq!(
        invoice.evidence["item"]["fields"]["reply_to"],
        "Reply-To: <acme.refunds@mail.test>"
    );
    let ceo = findings
        .iter()
        .find(|f| f.subject == server.url("/emails/2026-12/01/0002.htm"))
        .expect("the CEO fraud mail");
    assert_eq!(ceo.imitates, "Jane Q. Doe");

    let seen = server.seen();
    assert_eq!(seen[0].target, "/robots.txt");
    assert!(server.seen_on("/emails/private/0003.htm").is_empty());
    for request in &seen {
        assert_eq!(
            request.header("user-agent"),
            Some(USER_AGENT),
            "{}",
            request.target
        );
    }
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(280),
            "{} then {} after {gap:?}: Crawl-delay 0.3 s not obeyed",
            pair[0].target,
            pair[1].target
        );
    }
}

#[tokio::test]
async fn second_visit_reads_no_item_again() {
    let server = site(ROBOTS).await;
    let dir = tempfile::tempdir().unwrap();
    let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
    let (ctx, store) = context(&config);
    visit_once(&ctx, &config).await.expect("first visit");
    let alerts = alert_count(&store);

    let stats = visit_once(&ctx, &config).await.expect("second visit");
    assert_eq!(stats.items, 0, "{stats:?}");
    assert_eq!(stats.known, 3, "{stats:?}");
    assert_eq!(alert_count(&store), alerts);
    assert_eq!(server.seen_on("/emails/2026-12/01/0001.htm").len(), 1);
}

#[tokio::test]
async fn changed_list_layout_makes_the_source_blind() {
    let server = site(ROBOTS).await;
    server.set("/emails/", Reply::ok(HTML, page("list-redesigned.htm")));
    let dir = tempfile::tempdir().unwrap();
    let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
    let (ctx, store) = context(&config);

    let stats = visit_once(&ctx, &config).await.expect("the site answers");
    let reason = stats.blind.clone().expect("a blind visit");
    assert!(
        reason
            .contains("selector item_links \"ul.emails li a\" matches no link on http://127.0.0.1"),
        "{reason}"
    );
    assert!(
        reason.contains("update [scam_repository.fraudmails]"),
        "{reason}"
    );

    record_health(
        &ctx,
        "scam_repository:fraudmails",
        Outcome::Blind(reason.clone()),
    )
    .await
    .unwrap();
    let health = health_of(&store, "scam_repository:fraudmails")
        .unwrap()
        .unwrap();
    assert_eq!(health.state, HealthState::Blind);
    assert_eq!(health.last_error, Some(reason));
    let registry = ctx.pipeline.health().snapshot();
    assert!(registry["scam_repository:fraudmails"].collapsed.is_some());
}

#[tokio::test]
async fn changed_item_layout_makes_the_source_blind() {
    let server = site(ROBOTS).await;
    for path in [
        "/emails/2026-12/01/0001.htm",
        "/emails/2026-12/01/0002.htm",
        "/emails/2026-11/28/0004.htm",
    ] {
        server.set(path, Reply::ok(HTML, page("item-redesigned.htm")));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
    let (ctx, store) = context(&config);

    let stats = visit_once(&ctx, &config).await.expect("the site answers");
    assert_eq!(stats.items, 3);
    assert_eq!(stats.empty_items, 3);
    let reason = stats.blind.expect("a blind visit");
    assert!(reason.contains("no field selector"), "{reason}");
    assert!(reason.contains("body \"pre.body\""), "{reason}");
    assert!(store.findings().unwrap().is_empty());
}

#[tokio::test]
async fn robots_txt_disallowing_all_stops_the_visit() {
    for (name, robots) in [
        (
            "disallow",
            Reply::ok("text/plain", "User-agent: vigie\nDisallow: /\n"),
        ),
        ("server error", Reply::status(503)),
    ] {
        let server = site("").await;
        server.set("/robots.txt", robots);
        let dir = tempfile::tempdir().unwrap();
        let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
        let (ctx, _store) = context(&config);

        let error = visit_once(&ctx, &config).await.unwrap_err();
        assert!(
            matches!(error, ScamRepositoryError::Disallowed { .. }),
            "{name}: {error:?}"
        );
        assert!(error.to_string().contains("robots.txt"), "{name}: {error}");
        let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
        assert_eq!(targets, vec!["/robots.txt".to_string()], "{name}");
    }
}

#[tokio::test]
async fn missing_robots_txt_allows_the_visit() {
    let server = site("").await;
    server.set("/robots.txt", Reply::status(404));
    let dir = tempfile::tempdir().unwrap();
    let config = site_config(dir.path(), &server.url("/emails/"), &[("acme", ACME)]);
    let (ctx, _store) = context(&config);

    let stats = visit_once(&ctx, &config).await.expect("visit");
    assert_eq!(stats.items, 4, "the private page is allowed too: {stats:?}");
}

/// Renders one 419scam.org excerpt ("Fraud email example:", headers, blank line, body) as an
/// item page of the test layout.
fn excerpt_page(excerpt: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mail = excerpt
        .split_once("Fraud email example:")
        .map_or(excerpt, |(_, mail)| mail)
        .trim_start();
    let (headers, body) = mail.split_once("\n\n").unwrap_or((mail, ""));
    let mut html = String::from("<html><body><div class=\"headers\">\n");
    for line in headers.lines() {
        let class = match line.split(':').next().unwrap_or("") {
            "From" => "from",
            "Reply-To" => "reply-to",
            "Date" => "date",
            "Subject" => "subject",
            _ => "other",
        };
        html.push_str(&format!("<p class=\"{class}\">{}</p>\n", escape(line)));
    }
    html.push_str(&format!(
        "</div><pre class=\"body\">{}</pre></body></html>",
        escape(body)
    ));
    html
}

/// Reads the real 419scam.org excerpts of the shared data, when present, through pages of the
/// test layout: every excerpt yields its fields, and those naming the United Nations or the
/// IRS are found.
#[tokio::test]
async fn shared_419scam_excerpts_are_read() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(file) = ["../shared", "../../shared"]
        .iter()
        .map(|up| {
            root.join(up)
                .join("data/scam-repositories/419scam_org_page_excerpts.jsonl")
        })
        .find(|file| file.is_file())
    else {
        eprintln!("skipped: no shared/data/scam-repositories beside the checkout");
        return;
    };
    let server = WebServer::start().await;
    server.set("/robots.txt", Reply::status(404));
    let mut list = String::from("<html><body><ul class=\"emails\">\n");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let excerpt = record["excerpt"].as_str().unwrap();
        let path = format!("/emails/{index:04}.htm");
        server.set(&path, Reply::ok(HTML, excerpt_page(excerpt)));
        list.push_str(&format!("<li><a href=\"{path}\">{index}</a></li>\n"));
        count += 1;
    }
    list.push_str("</ul></body></html>");
    server.set("/emails/", Reply::ok(HTML, list));

    let un = "[brand]\nname = \"United Nations\"\nkeywords = [\"unitednations\"]\n\n[[domains]]\nname = \"un.org\"\n";
    let irs = "[brand]\nname = \"Internal Revenue Service\"\nkeywords = [\"irs\"]\n\n[[domains]]\nname = \"irs.gov\"\n";
    let dir = tempfile::tempdir().unwrap();
    let mut config = site_config(
        dir.path(),
        &server.url("/emails/"),
        &[("un", un), ("irs", irs)],
    );
    let site = config.scam_repositories.get_mut("fraudmails").unwrap();
    site.delay_ms = 0;
    site.max_items = 100;
    let (ctx, store) = context(&config);

    let stats = visit_once(&ctx, &config).await.expect("visit");
    assert_eq!(stats.items, count, "{stats:?}");
    assert_eq!(stats.empty_items, 0, "{stats:?}");
    let findings = store.findings().unwrap();
    let named: Vec<&str> = findings.iter().map(|f| f.watchlist.as_str()).collect();
    eprintln!("{count} excerpts read, findings by watchlist: {named:?}");
    assert!(named.contains(&"un"), "{named:?}");
    assert!(named.contains(&"irs"), "{named:?}");
}
