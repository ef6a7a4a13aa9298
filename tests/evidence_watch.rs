//! The change watch end to end: a low-severity lookalike whose page is parked is checked, stays
//! low and quiet; its page turns into a copy of the real login page; the next check raises it
//! to critical and alerts again with the before and after. `vigie finding show` then prints
//! the page, ownership and mail evidence and the history. A lookalike whose zone moves to a
//! new mail server and gains an address is raised and alerts again with the before and after.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use support::dns::TestDns;
use support::web::{Page, WebServer};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::store::{HistoryEvent, Store};
use vigie::watch::Watcher;

const LOGIN: &str = include_str!("fixtures/web/login.html");
const CLONE: &str = include_str!("fixtures/web/clone-retitled.html");
const PARKED: &str = include_str!("fixtures/web/parked.html");
const DOMAIN: &str = include_str!("fixtures/rdap/domain.json");
const IP_ARIN: &str = include_str!("fixtures/rdap/ip-arin.json");

const ZONE: &str = "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n\
    @ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n\
    examp1e 3600 IN A 127.0.0.1\n\
    examp1e 3600 IN MX 10 aspmx.l.google.com.\n";

const HOST: &str = "examp1e.lab.test";

struct World {
    dir: tempfile::TempDir,
    dns: TestDns,
    server: WebServer,
    config: Arc<vigie::config::Config>,
    store: Arc<Store>,
    ctx: SourceContext,
}

async fn world() -> World {
    let dns = TestDns::builder().zone("lab.test.", ZONE).start().await;
    let server = WebServer::start().await;
    server.set_for(HOST, "/", Page::html(PARKED));
    server.set(
        "/static/img/favicon.png",
        Page::html(&b"icon"[..]).with_header("content-type", "image/png"),
    );
    let base = server.url_for("127.0.0.1", "");
    server.set("/registry/domain/lab.test", Page::json(DOMAIN));
    server.set("/rir/ip/127.0.0.1", Page::json(IP_ARIN));

    let dir = tempfile::tempdir().unwrap();
    let rdap = dir.path().join("rdap");
    std::fs::create_dir_all(&rdap).unwrap();
    std::fs::write(
        rdap.join("dns.json"),
        format!(r#"{{"services":[[["test"],["{base}/registry/"]]]}}"#),
    )
    .unwrap();
    std::fs::write(
        rdap.join("ipv4.json"),
        format!(r#"{{"services":[[["127.0.0.0/8"],["{base}/rir/"]]]}}"#),
    )
    .unwrap();
    std::fs::write(dir.path().join("login.html"), LOGIN).unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("watchlists/example.toml"),
        "[brand]\nname = \"Example Bank\"\nkeywords = [\"example\"]\n\n\
         [[domains]]\nname = \"example.test\"\n\n[alerts]\nmin_severity = \"low\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vigie.toml"),
        format!(
            r#"[daemon]
state_dir = "state"
watchlists_dir = "watchlists"

[dns]
nameservers = ["{dns}"]
timeout_ms = 1000

[fetch]
allow_private_addresses = true
timeout_secs = 5

[evidence]
live_interval_secs = 3600
parked_interval_secs = 3600
poll_secs = 1

[[evidence.reference]]
watchlist = "example"
path = "login.html"

[rdap]
bootstrap_dir = "rdap"

[sinks.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
"#,
            dns = dns.addr
        ),
    )
    .unwrap();

    let config = Arc::new(vigie::config::load(&dir.path().join("vigie.toml")).unwrap());
    let store = Arc::new(Store::open(&dir.path().join("state/vigie.db")).unwrap());
    let (_tx, rx) = watch::channel(config.clone());
    let pipeline = Pipeline::new(store.clone(), rx.clone(), Arc::new(Notify::new()));
    let ctx = SourceContext {
        pipeline,
        config: rx,
        shutdown: CancellationToken::new(),
    };
    World {
        dir,
        dns,
        server,
        config,
        store,
        ctx,
    }
}

/// A lookalike as the lookalike source records it: low score, DNS facts, no page yet.
fn lookalike(port: u16) -> Finding {
    let facts = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["127.0.0.1".to_string()])),
        ("aaaa".to_string(), BTreeSet::new()),
        (
            "mx".to_string(),
            BTreeSet::from(["aspmx.l.google.com".to_string()]),
        ),
        ("ns".to_string(), BTreeSet::new()),
    ]);
    Finding {
        fingerprint: Finding::fingerprint_for("example", "domain", HOST),
        kind: "lookalike-domain".to_string(),
        source: "nrd".to_string(),
        watchlist: "example".to_string(),
        subject: HOST.to_string(),
        imitates: "example.test".to_string(),
        techniques: vec!["replacement".to_string()],
        reasons: vec!["replacement of example.test".to_string()],
        severity: Severity::Low,
        score: 30,
        indicators: vec![
            Indicator::new(IndicatorKind::Domain, HOST),
            Indicator::new(IndicatorKind::Url, format!("http://{HOST}:{port}/")),
        ],
        facts,
        evidence: serde_json::json!({ "unicode": HOST }),
        observed_at: OffsetDateTime::now_utc(),
    }
}

/// Records the lookalike as its source would and returns its finding id.
async fn submit_lookalike(world: &World) -> i64 {
    let submitted = world
        .ctx
        .pipeline
        .submit(lookalike(world.server.addr.port()))
        .await
        .unwrap();
    match submitted {
        vigie::pipeline::Submitted::Recorded { recorded, .. } => recorded.finding_id(),
        other => panic!("not recorded: {other:?}"),
    }
}

#[tokio::test]
async fn parked_page_turning_into_a_clone_raises_the_finding_and_alerts() {
    let world = world().await;
    let id = submit_lookalike(&world).await;
    let watcher = Watcher::new(&world.config).await;
    let now = OffsetDateTime::now_utc();

    // First check: the page is parked. Severity stays low and nothing alerts.
    watcher.round(&world.ctx, now).await;
    let parked = world.store.finding(id).unwrap().unwrap();
    assert_eq!(parked.severity, Severity::Low);
    assert_eq!(parked.evidence["web"]["state"], "parked");
    assert_eq!(parked.evidence["unicode"], HOST, "earlier evidence kept");
    assert!(parked.facts["web.state"].is_empty());
    assert!(
        !parked.evidence["web"]["signs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(world.store.outbox_for_finding(id).unwrap().len(), 1);
    let check = world.store.web_check(id).unwrap().unwrap();
    assert_eq!(check.state.as_deref(), Some("parked"));
    assert!(check.next_at > now);

    // Not due yet: a round now checks nothing.
    let hits = world.server.hits("/");
    watcher.round(&world.ctx, now).await;
    assert_eq!(world.server.hits("/"), hits);

    // The page becomes a copy of the real login page; the next check is due an hour later.
    world.server.set_for(HOST, "/", Page::html(CLONE));
    let later = now + time::Duration::hours(2);
    watcher.round(&world.ctx, later).await;
    let live = world.store.finding(id).unwrap().unwrap();
    assert_eq!(live.severity, Severity::Critical);
    assert!(live.score >= 90);
    assert_eq!(
        live.facts["web.state"],
        BTreeSet::from(["live".to_string()])
    );
    assert_eq!(
        live.facts["web.login-form"],
        BTreeSet::from(["yes".to_string()])
    );
    assert_eq!(
        live.facts["web.similarity"],
        BTreeSet::from(["clone".to_string()])
    );

    let outbox = world.store.outbox_for_finding(id).unwrap();
    assert_eq!(outbox.len(), 2, "one alert for the change");
    let alert = &outbox[1].payload;
    assert_eq!(alert["event"], "changed");
    assert_eq!(alert["severity"], "critical");
    let changes = alert["changes"].as_array().unwrap();
    let change = |fact: &str| {
        changes
            .iter()
            .find(|c| c["fact"] == fact)
            .unwrap_or_else(|| panic!("no change of {fact}: {changes:?}"))
    };
    assert_eq!(change("severity")["before"][0], "low");
    assert_eq!(change("severity")["after"][0], "critical");
    assert_eq!(change("web.state")["after"][0], "live");
    assert!(change("web.state")["before"].as_array().unwrap().is_empty());
    assert!(
        alert["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("copies the real page")),
        "{alert}"
    );

    let history = world.store.history(id).unwrap();
    assert_eq!(history.last().unwrap().event, HistoryEvent::Changed);
    assert_eq!(history.last().unwrap().severity, Severity::Critical);

    // The same page again: nothing new, no alert.
    watcher
        .round(&world.ctx, later + time::Duration::hours(2))
        .await;
    assert_eq!(world.store.outbox_for_finding(id).unwrap().len(), 2);

    // Ownership and mail evidence were read with the first check.
    assert_eq!(
        live.evidence["ownership"]["domain"]["registrar"],
        "Quick Names Registrar, LLC"
    );
    assert_eq!(
        live.evidence["ownership"]["networks"][0]["abuse_email"],
        "abuse@fasthost.test"
    );
    assert_eq!(
        live.evidence["mail"]["mx"][0]["provider"],
        "Google Workspace"
    );

    show_prints_everything(&world, id);
}

#[tokio::test]
async fn watch_raises_new_mail_server_and_address() {
    let world = world().await;
    let id = submit_lookalike(&world).await;
    let watcher = Watcher::new(&world.config).await;
    let now = OffsetDateTime::now_utc();
    watcher.round(&world.ctx, now).await;
    let first = world.store.finding(id).unwrap().unwrap();
    assert_eq!(first.severity, Severity::Low);
    assert_eq!(world.store.outbox_for_finding(id).unwrap().len(), 1);

    // The page stays parked; the zone moves mail to another provider and adds an address.
    world.dns.set_zone(
        "lab.test.",
        "@ 3600 IN SOA ns hostmaster 2 7200 900 1209600 300\n\
         @ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n\
         examp1e 3600 IN A 127.0.0.1\n\
         examp1e 3600 IN A 127.0.0.2\n\
         examp1e 3600 IN MX 0 examp1e-lab-test.mail.protection.outlook.com.\n",
    );
    let later = now + time::Duration::hours(2);
    watcher.round(&world.ctx, later).await;
    let moved = world.store.finding(id).unwrap().unwrap();
    assert_eq!(moved.severity, Severity::Medium, "{:?}", moved.reasons);
    assert_eq!(moved.score, 30 + vigie::watch::MOVE_POINTS);
    assert!(
        moved.reasons.iter().any(|r| r
            == "records: new mail server examp1e-lab-test.mail.protection.outlook.com \
                (before: aspmx.l.google.com)"),
        "{:?}",
        moved.reasons
    );
    assert!(
        moved
            .reasons
            .iter()
            .any(|r| r == "records: new address 127.0.0.2 (before: 127.0.0.1)"),
        "{:?}",
        moved.reasons
    );
    assert_eq!(moved.evidence["mail"]["mx"][0]["provider"], "Microsoft 365");

    let outbox = world.store.outbox_for_finding(id).unwrap();
    assert_eq!(outbox.len(), 2, "one alert for the change");
    let alert = &outbox[1].payload;
    assert_eq!(alert["event"], "changed");
    let changes = alert["changes"].as_array().unwrap();
    let change = |fact: &str| {
        changes
            .iter()
            .find(|c| c["fact"] == fact)
            .unwrap_or_else(|| panic!("no change of {fact}: {changes:?}"))
    };
    assert_eq!(
        change("mx")["before"],
        serde_json::json!(["aspmx.l.google.com"])
    );
    assert_eq!(
        change("mx")["after"],
        serde_json::json!(["examp1e-lab-test.mail.protection.outlook.com"])
    );
    assert_eq!(change("a")["before"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(
        change("a")["after"],
        serde_json::json!(["127.0.0.1", "127.0.0.2"])
    );
    assert_eq!(change("severity")["before"][0], "low");
    assert_eq!(change("severity")["after"][0], "medium");

    // The old mail server comes back: a value seen before raises nothing and alerts nothing.
    world.dns.set_zone(
        "lab.test.",
        "@ 3600 IN SOA ns hostmaster 3 7200 900 1209600 300\n\
         @ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n\
         examp1e 3600 IN A 127.0.0.1\n\
         examp1e 3600 IN MX 10 aspmx.l.google.com.\n",
    );
    watcher
        .round(&world.ctx, later + time::Duration::hours(2))
        .await;
    let back = world.store.finding(id).unwrap().unwrap();
    assert_eq!(back.score, moved.score);
    assert_eq!(world.store.outbox_for_finding(id).unwrap().len(), 2);
    assert_eq!(
        back.facts["mx"],
        BTreeSet::from(["aspmx.l.google.com".to_string()])
    );
}

fn show_prints_everything(world: &World, id: i64) {
    let args = vigie::cli::finding::ShowArgs {
        config: vigie::cli::ConfigArgs {
            config: world.dir.path().join("vigie.toml"),
        },
        id,
        format: vigie::cli::findings::Format::Text,
    };
    let mut out = Vec::new();
    vigie::cli::finding::write_finding(&args, &world.config, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for expected in [
        "severity    critical",
        "Web page (read ",
        "state          live",
        "login form     yes",
        "form posts to  hxxps://collect[.]examp1e-secure[.]test/gate[.]php (post)",
        "similarity",
        "favicon",
        "Ownership (RDAP, read ",
        "registrar      Quick Names Registrar, LLC",
        "expires        2027-11-28T14:03:11Z",
        "ASN            AS64500",
        "hosting abuse  abuse@fasthost.test, +1-555-555-0199",
        "aspmx.l.google.com Google Workspace",
        "Change watch",
        "severity: low -> critical",
        "web.state: - -> live",
        "Evidence versions",
        "state parked",
        "state live",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let missing = vigie::cli::finding::ShowArgs { id: 999, ..args };
    let error = vigie::cli::finding::write_finding(&missing, &world.config, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("no finding with id 999"), "{error}");
}

#[test]
fn source_sighting_keeps_the_watch_facts_and_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("vigie.db")).unwrap();
    let sinks = vec!["hook".to_string()];
    let first = lookalike(8080);
    let id = store
        .record_finding(&first, &sinks, &vigie::alert::render)
        .unwrap()
        .finding_id();

    // The watch's reading: a live page, raised to high.
    let mut reading = first.clone();
    reading.source = vigie::watch::SOURCE.to_string();
    reading.severity = Severity::High;
    reading.score = 80;
    reading.facts.insert(
        "web.state".to_string(),
        BTreeSet::from(["live".to_string()]),
    );
    reading.evidence = serde_json::json!({ "web": { "state": "live" } });
    let recorded = store
        .record_finding(&reading, &sinks, &vigie::alert::render)
        .unwrap();
    assert!(matches!(recorded, vigie::store::Recorded::Changed { .. }));

    // The source sees the domain again with its own facts and evidence only.
    let mut again = first.clone();
    again.observed_at = OffsetDateTime::now_utc();
    let recorded = store
        .record_finding(&again, &sinks, &vigie::alert::render)
        .unwrap();
    assert_eq!(
        recorded,
        vigie::store::Recorded::Unchanged { finding_id: id }
    );
    let stored = store.finding(id).unwrap().unwrap();
    assert_eq!(
        stored.facts["web.state"],
        BTreeSet::from(["live".to_string()])
    );
    assert_eq!(stored.evidence["web"]["state"], "live");
    assert_eq!(stored.evidence["unicode"], HOST);
    assert_eq!(stored.severity, Severity::High, "never lowered");

    // A severity rise with no new fact value alerts on its own.
    let mut critical = again.clone();
    critical.severity = Severity::Critical;
    critical.score = 95;
    let recorded = store
        .record_finding(&critical, &sinks, &vigie::alert::render)
        .unwrap();
    let vigie::store::Recorded::Changed { changes, .. } = recorded else {
        panic!("a severity rise should alert: {recorded:?}");
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].fact, vigie::store::SEVERITY_CHANGE);
    assert_eq!(changes[0].before, BTreeSet::from(["high".to_string()]));
    assert_eq!(changes[0].after, BTreeSet::from(["critical".to_string()]));
    assert_eq!(store.outbox_for_finding(id).unwrap().len(), 3);

    let versions = store.evidence_history(id).unwrap();
    let keys: Vec<&str> = versions.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["web"], "only the new web entry is a new version");
}
