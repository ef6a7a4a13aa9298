//! Recovery after a takedown: the site's page and the mail domain (MX) are checked against a
//! local DNS zone and web server, a suspension page keeps the site down, a comeback of the
//! scam alerts once, and `vigie case show` lists what is up. Also the daemon's response task
//! writing takedown reminders on its own.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::dns::TestDns;
use support::response::{Settings, T0, World, lookalike, vigie};
use support::web::{Page, WebServer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vigie::case::recovery::PageProbe;
use vigie::case::takedown;
use vigie::case::timeline::item_states;
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::watch::check_recovery;
use vigie::case::{Actor, FixedClock};
use vigie::config::DnsConfig;
use vigie::net::dns::Resolver;
use vigie::store::{NewEvent, NewTakedown};

const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\nns1 3600 IN A 127.0.0.1\n";

/// A copy of the lookalike's login page.
const CLONE: &str = "<html><head><title>Example Test Bank - log in</title></head><body>\
    <form method=post action=/login><input name=user><input type=password name=pass>\
    <button>Log in</button></form></body></html>";

/// The page a hosting company serves for a suspended account, naming the lookalike.
const SUSPENDED: &str = "<html><head><title>Account Suspended</title></head><body>\
    <h1>examp1e.test</h1><p>This account has been suspended. Contact your hosting provider \
    for more information.</p></body></html>";

/// A web server on 127.0.0.1 that answers every GET of `/` with a copy of the login page.
async fn web_server() -> WebServer {
    let server = WebServer::start().await;
    server.set("/", Page::html(CLONE));
    server
}

/// DNS where the lookalike is gone (`up` false) or back, with an address and an MX.
async fn dns(up: bool) -> TestDns {
    dns_with(up, up).await
}

/// DNS where the lookalike has an address record (`site`) and an MX record (`mail`).
async fn dns_with(site: bool, mail: bool) -> TestDns {
    let mut builder = TestDns::builder().zone("test.", SOA);
    if site || mail {
        let mut zone = SOA.to_owned();
        if site {
            zone.push_str("@ 3600 IN A 127.0.0.1\n");
        }
        if mail {
            zone.push_str("@ 3600 IN MX 10 mx.mailhost.test.\n");
        }
        builder = builder.zone("examp1e.test.", &zone);
    }
    builder.start().await
}

fn resolver(dns: &TestDns) -> Arc<Resolver> {
    Arc::new(
        Resolver::new(&DnsConfig {
            nameservers: vec![dns.addr],
            timeout_ms: 1000,
            attempts: 2,
            concurrency: 4,
        })
        .unwrap(),
    )
}

/// A case whose lookalike was taken down at T0 + 5 h. Returns (case, takedown).
async fn taken_down(world: &World) -> (i64, i64) {
    let finding = world
        .record(lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0))
        .await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Card phishing".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &actor, &opening, &[]).unwrap();
    triage::triage(
        &world.store,
        &actor,
        &finding.to_string(),
        &Verdict::Confirm { case: Some(case) },
    )
    .unwrap();
    let record = NewTakedown {
        case_id: case,
        finding_id: finding,
        target: "examp1e.test",
        contact: "parking-abuse",
        role: "hosting",
        recipient: "soc@example.test",
        language: "fr",
        country: "FR",
        message_id: "vigie-1-0000000a@example.test",
        subject: "Fraude",
        sent_at: T0,
        deadline_at: T0 + time::Duration::hours(48),
    };
    let event = NewEvent {
        at: T0,
        author: "alice",
        kind: "takedown-sent",
        text: "Takedown sent.".into(),
        data: serde_json::json!({}),
    };
    let id = world.store.record_takedown(&record, &event).unwrap();
    clock.set(T0 + time::Duration::hours(5));
    takedown::record_outcome(&world.store, &actor, id, true, "").unwrap();
    (case, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_and_mail_coming_back_alert_once() {
    let server = web_server().await;
    let port = server.addr.port();
    let world = World::new(&Settings {
        response: "recovery_private_addresses = true".into(),
        ..Settings::default()
    });
    let (case, id) = taken_down(&world).await;
    let clock = FixedClock::new(T0 + time::Duration::days(1));

    let gone = dns(false).await;
    let resolver_gone = resolver(&gone);
    let probe = probe_for(&resolver_gone, &world, port).await;
    let back = check_recovery(&world.store, &world.config, &resolver_gone, &probe, &clock)
        .await
        .unwrap();
    assert!(back.is_empty());
    let states = item_states(&world.store, case).unwrap();
    assert_eq!(states[0].state, "down", "{states:#?}");
    assert!(
        states[0]
            .detail
            .contains("last checked 2026-03-03T09:00:00Z"),
        "{states:#?}"
    );

    let returned = dns(true).await;
    let resolver_back = resolver(&returned);
    let probe = probe_for(&resolver_back, &world, port).await;
    clock.advance(time::Duration::hours(1));
    let back = check_recovery(&world.store, &world.config, &resolver_back, &probe, &clock)
        .await
        .unwrap();
    assert_eq!(back, [id]);
    clock.advance(time::Duration::hours(1));
    let again = check_recovery(&world.store, &world.config, &resolver_back, &probe, &clock)
        .await
        .unwrap();
    assert!(again.is_empty(), "still up: no second alert");

    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(check.site_up && check.mx_up, "{check:?}");
    assert!(
        check
            .site_detail
            .contains("answers HTTP 200 with a page like the scam: a login form"),
        "{check:?}"
    );
    assert_eq!(
        world.store.takedown(id).unwrap().unwrap().status,
        "came-back"
    );
    let finding = world.store.takedown(id).unwrap().unwrap().finding_id;
    let alerts: Vec<_> = world
        .store
        .outbox_for_finding(finding)
        .unwrap()
        .into_iter()
        .filter(|row| {
            row.idempotency_key
                .starts_with(&format!("takedown-{id}-back-"))
        })
        .collect();
    assert_eq!(alerts.len(), 1, "one alert for the sink soc-mail");
    assert_eq!(alerts[0].payload["kind"], "came-back");
    let reason = alerts[0].payload["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("the site serves the scam again") && reason.contains("receives mail again"),
        "{reason}"
    );

    let (ok, out, err) = vigie(&world, &["case", "show", &case.to_string()], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("Still up (1 of 1)"), "{out}");
    assert!(
        out.contains("UP   examp1e[.]test [came-back] back after the takedown"),
        "{out}"
    );
    assert!(out.contains("vigie      came-back"), "{out}");

    // Down again, then back again: a new alert.
    clock.advance(time::Duration::hours(1));
    check_recovery(
        &world.store,
        &world.config,
        &resolver_gone,
        &probe_for(&resolver_gone, &world, port).await,
        &clock,
    )
    .await
    .unwrap();
    assert_eq!(world.store.takedown(id).unwrap().unwrap().status, "down");
    clock.advance(time::Duration::hours(1));
    let back = check_recovery(&world.store, &world.config, &resolver_back, &probe, &clock)
        .await
        .unwrap();
    assert_eq!(back, [id]);
    gone.stop().await;
    returned.stop().await;
}

/// Builds a page probe through `resolver` that requests the test server's port.
async fn probe_for(resolver: &Arc<Resolver>, world: &World, port: u16) -> PageProbe {
    let mut probe = PageProbe::new(resolver.clone(), &world.config)
        .await
        .unwrap();
    probe.port = Some(port);
    probe
}

/// Alerts of takedown `id`'s comebacks in the outbox.
fn comeback_alerts(world: &World, id: i64) -> Vec<serde_json::Value> {
    let finding = world.store.takedown(id).unwrap().unwrap().finding_id;
    world
        .store
        .outbox_for_finding(finding)
        .unwrap()
        .into_iter()
        .filter(|row| {
            row.idempotency_key
                .starts_with(&format!("takedown-{id}-back-"))
        })
        .map(|row| row.payload)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_page_stays_down_until_clone_returns() {
    let server = WebServer::start().await;
    server.set("/", Page::html(SUSPENDED));
    let world = World::new(&Settings {
        response: "recovery_private_addresses = true".into(),
        ..Settings::default()
    });
    let (case, id) = taken_down(&world).await;
    let clock = FixedClock::new(T0 + time::Duration::days(1));
    let site_only = dns_with(true, false).await;
    let resolver = resolver(&site_only);
    let probe = probe_for(&resolver, &world, server.addr.port()).await;

    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert!(back.is_empty(), "a suspension page is not the scam");
    assert!(server.hits("/") >= 1, "the page was read");
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(!check.site_up, "{check:?}");
    assert!(
        check
            .site_detail
            .contains("answers HTTP 200 with a suspension page"),
        "{check:?}"
    );
    assert!(
        check
            .site_detail
            .contains("says \"this account has been suspended\""),
        "{check:?}"
    );
    assert!(comeback_alerts(&world, id).is_empty());
    assert_eq!(world.store.takedown(id).unwrap().unwrap().status, "down");
    let states = item_states(&world.store, case).unwrap();
    assert_eq!(states[0].state, "down", "{states:#?}");

    // A parking page with the brand among its ads is not the scam either.
    server.set(
        "/",
        Page::html(
            "<body><h2>Related searches</h2><a href=/a>Example Test Bank login</a> \
             <a href=/b>Online banking</a><p>This domain is parked free, courtesy of the \
             registrar.</p></body>",
        ),
    );
    clock.advance(time::Duration::hours(1));
    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert!(back.is_empty(), "a parking page is not the scam");
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(check.site_detail.contains("a parked page"), "{check:?}");

    // The clone comes back: one alert, and no second one while it stays up.
    server.set("/", Page::html(CLONE));
    clock.advance(time::Duration::hours(1));
    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert_eq!(back, [id]);
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(check.site_up, "{check:?}");
    assert!(!check.mx_up, "{check:?}");
    assert!(
        check
            .site_detail
            .contains("a login form, names \"example\""),
        "{check:?}"
    );
    clock.advance(time::Duration::hours(1));
    let again = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert!(again.is_empty(), "still up: no second alert");
    let alerts = comeback_alerts(&world, id);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let reason = alerts[0]["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("the site serves the scam again"),
        "{reason}"
    );
    assert!(!reason.contains("receives mail again"), "{reason}");
    assert_eq!(
        world.store.takedown(id).unwrap().unwrap().status,
        "came-back"
    );
    site_only.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_clone_without_brand_is_back() {
    let real = "<html><body><div class=hero><h1>Welcome</h1><p>Manage your accounts and \
        cards online at any time of the day or night</p><a class=btn href=/start>Start</a>\
        </div><footer class=legal><p>Terms and privacy</p></footer></body></html>";
    let server = WebServer::start().await;
    server.set(
        "/",
        Page::html("<body><p>Nothing to see here, move along please.</p></body>"),
    );
    let mut world = World::new(&Settings {
        response: "recovery_private_addresses = true".into(),
        ..Settings::default()
    });
    let reference = world.dir.path().join("reference.html");
    std::fs::write(&reference, real).unwrap();
    world
        .config
        .evidence
        .references
        .push(vigie::config::ReferencePage {
            watchlist: "acme".into(),
            location: vigie::config::ReferenceLocation::Path(reference),
        });
    let (_, id) = taken_down(&world).await;
    let clock = FixedClock::new(T0 + time::Duration::days(1));
    let site_only = dns_with(true, false).await;
    let resolver = resolver(&site_only);
    let probe = probe_for(&resolver, &world, server.addr.port()).await;

    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert!(back.is_empty());
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(check.site_detail.contains("(different)"), "{check:?}");

    server.set("/", Page::html(real));
    clock.advance(time::Duration::hours(1));
    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert_eq!(back, [id]);
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(
        check.site_detail.contains("a clone of the reference page"),
        "{check:?}"
    );
    assert!(check.site_detail.contains("similarity 1.00"), "{check:?}");
    site_only.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_address_is_not_fetched_by_default() {
    let server = web_server().await;
    let world = World::new(&Settings::default());
    let (_, id) = taken_down(&world).await;
    let returned = dns(true).await;
    let resolver = resolver(&returned);
    let probe = probe_for(&resolver, &world, server.addr.port()).await;
    let clock = FixedClock::new(T0 + time::Duration::days(1));
    let back = check_recovery(&world.store, &world.config, &resolver, &probe, &clock)
        .await
        .unwrap();
    assert_eq!(back, [id], "the MX alone came back");
    let check = world.store.recovery_check(id).unwrap().unwrap();
    assert!(!check.site_up);
    assert!(
        check
            .site_detail
            .contains("non-public address 127.0.0.1 (loopback), not checked"),
        "{check:?}"
    );
    assert!(check.mx_up);
    assert_eq!(
        server.total_hits(),
        0,
        "no request reached the loopback server"
    );
    returned.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_task_writes_reminders_and_stops() {
    let world = World::new(&Settings::default());
    let finding = world.record(lookalike("examp1e.test", &[], T0)).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Card phishing".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &actor, &opening, &[finding.to_string()]).unwrap();
    let record = NewTakedown {
        case_id: case,
        finding_id: finding,
        target: "examp1e.test",
        contact: "parking-abuse",
        role: "hosting",
        recipient: "soc@example.test",
        language: "fr",
        country: "FR",
        message_id: "vigie-1-0000000b@example.test",
        subject: "Fraude",
        sent_at: T0,
        deadline_at: T0 + time::Duration::hours(48),
    };
    let event = NewEvent {
        at: T0,
        author: "alice",
        kind: "takedown-sent",
        text: "Takedown sent.".into(),
        data: serde_json::json!({}),
    };
    let id = world.store.record_takedown(&record, &event).unwrap();

    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(world.config.clone()));
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(vigie::case::watch::run(
        world.store.clone(),
        rx,
        wake.clone(),
        shutdown.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(10), wake.notified())
        .await
        .expect("the task wakes the dispatcher");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the task stops")
        .unwrap();
    let reminders = world
        .store
        .case_events(case)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "takedown-reminder")
        .count();
    assert_eq!(reminders, 1);
    let key = format!("takedown-{id}-reminder-0");
    assert!(
        world
            .store
            .outbox_for_finding(finding)
            .unwrap()
            .iter()
            .any(|row| row.idempotency_key == key)
    );
}
