//! The `social` source against Mastodon and Bluesky APIs served on 127.0.0.1: impostor
//! accounts and scam posts of the test brand, official accounts left out, pagination by
//! offset, `max_id` and cursor, a token and a Bluesky login, 429 with Retry-After, API errors
//! and malformed answers, and real captured answers of both APIs.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::feed_web::{Reply, Seen, WebServer};
use support::watch::{ACME, alert_count, context, write_config};
use vigie::config::Config;
use vigie::model::{Finding, IndicatorKind};
use vigie::sources::social::{RoundStats, SocialError, search_round};
use vigie::sources::{
    HealthState, MatcherCache, Outcome, SourceContext, health_of, http_client, record_health,
};

const JSON: &str = "application/json";

fn social_config(dir: &std::path::Path, table: &str, watchlists: &[(&str, &str)]) -> Config {
    for (file, secret) in [
        ("bluesky-password", "app-pass-1\n"),
        ("mastodon-token", "t0ken\n"),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, secret).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    write_config(dir, table, watchlists)
}

async fn round(ctx: &SourceContext, config: &Config) -> Result<RoundStats, SocialError> {
    let social = config.social.values().next().unwrap();
    let client = http_client(&social.fetch, &config.dns).unwrap();
    let config = Arc::new(config.clone());
    search_round(ctx, &config, social, &client, &mut MatcherCache::default()).await
}

fn query_param(seen: &Seen, name: &str) -> Option<String> {
    let query = seen.target.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn mastodon_account(id: &str, acct: &str, display_name: &str) -> Value {
    let username = acct.split('@').next().unwrap();
    json!({
        "id": id,
        "username": username,
        "acct": acct,
        "display_name": display_name,
        "note": "<p>Official news and support.</p>",
        "url": format!("https://{}/@{username}", acct.split('@').nth(1).unwrap_or("social.test")),
        "created_at": "2026-11-30T00:00:00.000Z",
        "followers_count": 3,
    })
}

fn mastodon_status(id: &str, account: Value, content: &str) -> Value {
    json!({
        "id": id,
        "uri": format!("https://evil.test/users/x/statuses/{id}"),
        "url": format!("https://evil.test/@x/{id}"),
        "created_at": "2026-12-01T10:00:00.000Z",
        "content": content,
        "spoiler_text": "",
        "account": account,
    })
}

/// A Mastodon instance: account search in pages of two, status search, and a hashtag
/// timeline in pages of two by `max_id`.
fn mastodon_routes(server: &WebServer) {
    let impostor = mastodon_account("1", "janedoe_ceo@evil.test", "Jane Doe");
    let official = mastodon_account("2", "acmebank@social.test", "Acme Bank");
    let support = mastodon_account("3", "acmebank_help@evil.test", "Acme Bank Support");
    let other = mastodon_account("4", "jsmith@social.test", "John Smith");
    let accounts = vec![impostor.clone(), official.clone(), support, other.clone()];
    let statuses = vec![
        mastodon_status(
            "101",
            impostor.clone(),
            "<p>Acme Bank giveaway! Claim your prize at <a href=\"https://acmebank-gift.com/claim\">acmebank-gift.com</a></p>",
        ),
        mastodon_status("102", other.clone(), "<p>I like the new Acme Bank app.</p>"),
        mastodon_status(
            "103",
            official,
            "<p>Acme Bank giveaway winners: beware of fakes, we never ask for a password.</p>",
        ),
    ];
    server.set_fn("/api/v2/search", move |seen| {
        let kind = query_param(seen, "type").unwrap_or_default();
        let offset: usize = query_param(seen, "offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        let limit: usize = query_param(seen, "limit")
            .and_then(|o| o.parse().ok())
            .unwrap_or(40);
        let list = if kind == "accounts" {
            &accounts
        } else {
            &statuses
        };
        let page: Vec<Value> = list.iter().skip(offset).take(limit).cloned().collect();
        let body = json!({ "accounts": if kind == "accounts" { page.clone() } else { vec![] },
                           "statuses": if kind == "statuses" { page } else { vec![] },
                           "hashtags": [] });
        Reply::ok(JSON, body.to_string())
    });
    let tagged = [
        mastodon_status(
            "10",
            other.clone(),
            "<p>#acmebank call +33 1 23 45 67 89 for help</p>",
        ),
        mastodon_status("9", other.clone(), "<p>#acmebank nice office</p>"),
        mastodon_status(
            "8",
            other,
            "<p>#acmebank wire transfer to FR76 3000 6000 0112 3456 7890 189 now</p>",
        ),
    ];
    server.set_fn("/api/v1/timelines/tag/acmebank", move |seen| {
        let max_id: Option<u32> = query_param(seen, "max_id").and_then(|m| m.parse().ok());
        let page: Vec<Value> = tagged
            .iter()
            .filter(|s| {
                max_id.is_none_or(|m| s["id"].as_str().unwrap().parse::<u32>().unwrap() < m)
            })
            .take(2)
            .cloned()
            .collect();
        Reply::ok(JSON, Value::Array(page).to_string())
    });
}

const MASTODON: &str = "[social.masto]\nnetwork = \"mastodon\"\nurl = \"{URL}\"\nqueries = [\"acme\"]\n\
    hashtags = [\"#acmebank\"]\npage_size = 2\nmax_pages = 3\n\
    token_file = \"mastodon-token\"\nallow_private_addresses = true\n";

#[tokio::test]
async fn mastodon_impostors_and_scam_posts() {
    let server = WebServer::start().await;
    mastodon_routes(&server);
    let dir = tempfile::tempdir().unwrap();
    let config = social_config(
        dir.path(),
        &MASTODON.replace("{URL}", &server.url("")),
        &[("acme", ACME)],
    );
    let (ctx, store) = context(&config);

    let stats = round(&ctx, &config).await.expect("round");
    assert_eq!(stats.accounts, 4, "{stats:?}");
    assert_eq!(stats.posts, 6, "{stats:?}");
    assert_eq!(
        stats.official, 2,
        "the bank's own account and post: {stats:?}"
    );

    let findings = store.findings().unwrap();
    let jane = findings
        .iter()
        .find(|f| f.subject == "@janedoe_ceo@evil.test")
        .expect("the impostor of the CEO");
    assert_eq!(jane.kind, "social-impersonation");
    assert_eq!(jane.imitates, "Jane Q. Doe");
    assert_eq!(jane.techniques, vec!["executive-impersonation".to_string()]);
    assert_eq!(jane.source, "social:masto");
    assert_eq!(
        jane.fingerprint,
        Finding::fingerprint_for("acme", "account", "mastodon:janedoe_ceo@evil.test")
    );
    assert!(
        jane.indicators
            .iter()
            .any(|i| i.kind == IndicatorKind::Account)
    );
    let support = findings
        .iter()
        .find(|f| f.subject == "@acmebank_help@evil.test")
        .expect("the impostor of the brand's support");
    assert_eq!(support.techniques, vec!["brand-impersonation".to_string()]);
    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert!(!subjects.contains(&"@acmebank@social.test"), "{subjects:?}");
    assert!(!subjects.contains(&"@jsmith@social.test"), "{subjects:?}");

    let gift = findings
        .iter()
        .find(|f| f.subject == "acmebank-gift.com")
        .expect("the lookalike linked from the scam post");
    assert!(
        gift.indicators
            .iter()
            .any(|i| i.kind == IndicatorKind::Account && i.value == "@janedoe_ceo@evil.test")
    );
    assert!(
        subjects.contains(&"https://evil.test/@x/101"),
        "the giveaway post: {subjects:?}"
    );
    assert!(
        !subjects.contains(&"https://evil.test/@x/102"),
        "a plain mention: {subjects:?}"
    );
    assert!(
        !subjects.contains(&"https://evil.test/@x/9"),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"https://evil.test/@x/10"),
        "the bank's phone: {subjects:?}"
    );
    assert!(
        subjects.contains(&"https://evil.test/@x/8"),
        "the bank's IBAN: {subjects:?}"
    );

    let seen = server.seen();
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer t0ken"),
            "{}",
            request.target
        );
    }
    let offsets: Vec<String> = seen
        .iter()
        .filter(|s| query_param(s, "type").as_deref() == Some("accounts"))
        .filter_map(|s| query_param(s, "offset"))
        .collect();
    assert_eq!(offsets, vec!["0", "2", "4"]);
    let max_ids: Vec<Option<String>> = server
        .seen_on("/api/v1/timelines/tag/acmebank")
        .iter()
        .map(|s| query_param(s, "max_id"))
        .collect();
    assert_eq!(max_ids, vec![None, Some("9".to_string())]);

    let alerts = alert_count(&store);
    let again = round(&ctx, &config).await.expect("second round");
    assert_eq!(again.findings, 0, "{again:?}");
    assert_eq!(again.known, 10, "{again:?}");
    assert_eq!(alert_count(&store), alerts);
}

fn bluesky_actor(did: &str, handle: &str, display_name: &str) -> Value {
    json!({ "did": did, "handle": handle, "displayName": display_name, "description": "", "createdAt": "2026-11-30T00:00:00.000Z" })
}

/// A Bluesky server: login, actor search in two pages by cursor, post search.
fn bluesky_routes(server: &WebServer) {
    server.set_fn("/xrpc/com.atproto.server.createSession", |seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        if seen.method == "POST" && body["password"] == "app-pass-1" {
            Reply::ok(
                JSON,
                json!({ "accessJwt": "jwt-1", "did": "did:plc:soc" }).to_string(),
            )
        } else {
            Reply::status(401)
        }
    });
    server.set_fn("/xrpc/app.bsky.actor.searchActors", |seen| {
        let body = match query_param(seen, "cursor").as_deref() {
            None => json!({
                "actors": [
                    bluesky_actor("did:plc:imp1", "jane-doe-ceo.bsky.social", "Jane Q. Doe"),
                    bluesky_actor("did:plc:own1", "support.acmebank.com", "Acme Bank Support"),
                ],
                "cursor": "c2",
            }),
            Some("c2") => json!({
                "actors": [bluesky_actor("did:plc:imp2", "acmebank-official.bsky.social", "")],
            }),
            Some(_) => json!({ "actors": [] }),
        };
        Reply::ok(JSON, body.to_string())
    });
    server.set_fn("/xrpc/app.bsky.feed.searchPosts", |_| {
        let body = json!({
            "posts": [{
                "uri": "at://did:plc:imp1/app.bsky.feed.post/3abc",
                "cid": "bafy",
                "author": bluesky_actor("did:plc:imp1", "jane-doe-ceo.bsky.social", "Jane Q. Doe"),
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": "Verify your account now: acmebank-verify.com",
                    "createdAt": "2026-12-01T10:00:00Z",
                    "facets": [{"index": {"byteStart": 24, "byteEnd": 43},
                                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acmebank-verify.com/login"}]}],
                },
            }],
        });
        Reply::ok(JSON, body.to_string())
    });
}

#[tokio::test]
async fn bluesky_login_cursor_and_handles() {
    let server = WebServer::start().await;
    bluesky_routes(&server);
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "[social.sky]\nnetwork = \"bluesky\"\nurl = \"{url}\"\nqueries = [\"acme\"]\n\
         login_identifier = \"soc.acmebank.com\"\npassword_file = \"bluesky-password\"\n\
         login_url = \"{url}\"\nallow_private_addresses = true\n",
        url = server.url("")
    );
    let config = social_config(dir.path(), &table, &[("acme", ACME)]);
    let (ctx, store) = context(&config);

    let stats = round(&ctx, &config).await.expect("round");
    assert_eq!(stats.accounts, 3, "{stats:?}");
    assert_eq!(stats.posts, 1, "{stats:?}");

    let login = &server.seen_on("/xrpc/com.atproto.server.createSession")[0];
    let body: Value = serde_json::from_slice(&login.body).unwrap();
    assert_eq!(body["identifier"], "soc.acmebank.com");
    for search in server.seen().iter().filter(|s| s.path().contains("search")) {
        assert_eq!(
            search.header("authorization"),
            Some("Bearer jwt-1"),
            "{}",
            search.target
        );
    }
    let cursors: Vec<Option<String>> = server
        .seen_on("/xrpc/app.bsky.actor.searchActors")
        .iter()
        .map(|s| query_param(s, "cursor"))
        .collect();
    assert_eq!(cursors, vec![None, Some("c2".to_string())]);

    let findings = store.findings().unwrap();
    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert!(
        subjects.contains(&"jane-doe-ceo.bsky.social"),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"acmebank-official.bsky.social"),
        "{subjects:?}"
    );
    assert!(
        !subjects.contains(&"support.acmebank.com"),
        "a handle under the bank's domain is the bank's: {subjects:?}"
    );
    let verify = findings
        .iter()
        .find(|f| f.subject == "acmebank-verify.com")
        .expect("the lookalike of the post");
    assert!(
        verify
            .indicators
            .iter()
            .any(|i| i.kind == IndicatorKind::Url
                && i.value == "https://bsky.app/profile/jane-doe-ceo.bsky.social/post/3abc")
    );
}

#[tokio::test]
async fn bluesky_wrong_password_is_a_login_error() {
    let server = WebServer::start().await;
    bluesky_routes(&server);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wrong-password"), "nope\n").unwrap();
    let table = format!(
        "[social.sky]\nnetwork = \"bluesky\"\nurl = \"{url}\"\nqueries = [\"acme\"]\n\
         login_identifier = \"soc.acmebank.com\"\npassword_file = \"wrong-password\"\n\
         login_url = \"{url}\"\nallow_private_addresses = true\n",
        url = server.url("")
    );
    let config = social_config(dir.path(), &table, &[("acme", ACME)]);
    let (ctx, _store) = context(&config);

    let error = round(&ctx, &config).await.unwrap_err();
    assert!(matches!(error, SocialError::Login { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("Bluesky login as soc.acmebank.com"),
        "{message}"
    );
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(
        !message.contains("nope"),
        "the password stays out of messages: {message}"
    );
}

#[tokio::test]
async fn rate_limit_ends_the_round() {
    let server = WebServer::start().await;
    server.set(
        "/xrpc/app.bsky.actor.searchActors",
        Reply::status(429).with("retry-after", "120"),
    );
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "[social.sky]\nnetwork = \"bluesky\"\nurl = \"{}\"\nqueries = [\"acme\", \"jane doe\"]\nallow_private_addresses = true\n",
        server.url("")
    );
    let config = social_config(dir.path(), &table, &[("acme", ACME)]);
    let (ctx, store) = context(&config);

    let error = round(&ctx, &config).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    assert_eq!(server.seen().len(), 1, "the round stops at the first 429");

    record_health(&ctx, "social:sky", Outcome::Failed(error.to_string()))
        .await
        .unwrap();
    let health = health_of(&store, "social:sky").unwrap().unwrap();
    assert_eq!(health.state, HealthState::Failing);
}

#[tokio::test]
async fn api_errors_and_malformed_answers() {
    let server = WebServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = social_config(
        dir.path(),
        &MASTODON.replace("{URL}", &server.url("")),
        &[("acme", ACME)],
    );
    let (ctx, _store) = context(&config);

    server.set("/api/v2/search", Reply::status(500));
    let error = round(&ctx, &config).await.unwrap_err();
    assert!(error.to_string().contains("answered HTTP 500"), "{error}");

    server.set("/api/v2/search", Reply::ok(JSON, "{\"accounts\": [trunc"));
    let error = round(&ctx, &config).await.unwrap_err();
    assert!(matches!(error, SocialError::Malformed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("social source social:masto: the answer of http://127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("is not the expected JSON"), "{message}");

    server.set(
        "/api/v2/search",
        Reply::ok(JSON, "{\"error\": \"Record not found\"}"),
    );
    let error = round(&ctx, &config).await.unwrap_err();
    assert!(error.to_string().contains("no `accounts` array"), "{error}");
}

fn capture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/social/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn real_bluesky_captures() {
    let actors = capture("app.bsky.actor.searchActorsTypeahead_political-science.json");
    let posts = capture("app.bsky.feed.searchPosts_redistricting.json");
    let server = WebServer::start().await;
    server.set(
        "/xrpc/app.bsky.actor.searchActors",
        Reply::ok(JSON, actors["response"].to_string()),
    );
    let mut posts_page = posts["response"].clone();
    posts_page["cursor"] = Value::Null;
    server.set(
        "/xrpc/app.bsky.feed.searchPosts",
        Reply::ok(JSON, posts_page.to_string()),
    );

    let ajps = "[brand]\nname = \"American Journal of Political Science\"\nkeywords = [\"ajps\"]\n\n[[domains]]\nname = \"ajps.org\"\n";
    let cup = "[brand]\nname = \"Cambridge University Press\"\nkeywords = [\"cambridgeup\"]\n\n[[domains]]\nname = \"cambridge.org\"\n";
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "[social.sky]\nnetwork = \"bluesky\"\nurl = \"{}\"\nqueries = [\"political science\"]\nmax_pages = 1\nallow_private_addresses = true\n",
        server.url("")
    );
    let config = social_config(dir.path(), &table, &[("ajps", ajps), ("cup", cup)]);
    let (ctx, store) = context(&config);

    let stats = round(&ctx, &config).await.expect("round");
    assert_eq!(stats.accounts, 10, "{stats:?}");
    assert_eq!(stats.posts, 25, "{stats:?}");
    let findings = store.findings().unwrap();
    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert!(subjects.contains(&"ajpseditor.bsky.social"), "{subjects:?}");
    assert!(
        !subjects.contains(&"cambup-polsci.cambridge.org"),
        "a handle under cambridge.org is the press's own: {subjects:?}"
    );

    // Listed as official, the journal's account is no longer reported.
    let official = ajps.replace(
        "keywords = [\"ajps\"]",
        "keywords = [\"ajps\"]\nofficial_accounts = [\"bluesky:ajpseditor.bsky.social\"]",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = social_config(dir.path(), &table, &[("ajps", &official), ("cup", cup)]);
    let (ctx, store) = context(&config);
    round(&ctx, &config).await.expect("round");
    assert!(store.findings().unwrap().is_empty());
}

#[tokio::test]
async fn real_mastodon_capture() {
    let search = capture("mastodonpy_test_search.json");
    let server = WebServer::start().await;
    let body = search[0]["body"].to_string();
    server.set_fn("/api/v2/search", move |seen| {
        if query_param(seen, "type").as_deref() == Some("accounts") {
            Reply::ok(JSON, body.clone())
        } else {
            Reply::ok(
                JSON,
                json!({"accounts": [], "statuses": [], "hashtags": []}).to_string(),
            )
        }
    });
    let band = "[brand]\nname = \"The Beatles\"\nexecutives = [\"John Lennon\"]\n\n[[domains]]\nname = \"thebeatles.com\"\n";
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "[social.masto]\nnetwork = \"mastodon\"\nurl = \"{}\"\nqueries = [\"mastodonpy_test\"]\nallow_private_addresses = true\n",
        server.url("")
    );
    let config = social_config(dir.path(), &table, &[("beatles", band)]);
    let (ctx, store) = context(&config);

    let stats = round(&ctx, &config).await.expect("round");
    assert_eq!(stats.accounts, 2, "{stats:?}");
    let findings = store.findings().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].imitates, "John Lennon");
    assert_eq!(findings[0].subject, "@mastodonpy_test@127.0.0.1");
}
