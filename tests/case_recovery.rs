//! Recovery after a takedown: the site (HTTP) and the mail domain (MX) are checked against a
//! local DNS zone and web server, a comeback alerts once, and `vigie case show` lists what is
//! up. Also the daemon's response task writing takedown reminders on its own.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use support::dns::TestDns;
use support::response::{Settings, T0, World, lookalike, vigie};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vigie::case::takedown;
use vigie::case::timeline::item_states;
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::watch::{HttpProbe, check_recovery};
use vigie::case::{Actor, FixedClock};
use vigie::config::DnsConfig;
use vigie::net::dns::Resolver;
use vigie::store::{NewEvent, NewTakedown};

const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\nns1 3600 IN A 127.0.0.1\n";

/// A web server on 127.0.0.1 that answers every GET with a copy of a login page.
async fn web_server() -> u16 {
    let app = Router::new().route(
        "/",
        get(|| async { "<html><title>Example Test Bank - log in</title></html>" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// DNS where the lookalike is gone (`up` false) or back, with an address and an MX.
async fn dns(up: bool) -> TestDns {
    let mut builder = TestDns::builder().zone("test.", SOA);
    if up {
        builder = builder.zone(
            "examp1e.test.",
            &format!("{SOA}@ 3600 IN A 127.0.0.1\n@ 3600 IN MX 10 mx.mailhost.test.\n"),
        );
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
    let port = web_server().await;
    let world = World::new(&Settings {
        response: "recovery_private_addresses = true".into(),
        ..Settings::default()
    });
    let (case, id) = taken_down(&world).await;
    let clock = FixedClock::new(T0 + time::Duration::days(1));

    let gone = dns(false).await;
    let resolver_gone = resolver(&gone);
    let mut probe = HttpProbe::new(resolver_gone.clone(), &world.config);
    probe.port = port;
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
    let mut probe = HttpProbe::new(resolver_back.clone(), &world.config);
    probe.port = port;
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
    assert!(check.site_detail.contains("answers HTTP 200"), "{check:?}");
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
        reason.contains("the site answers again") && reason.contains("receives mail again"),
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
        &probe_for(&resolver_gone, &world, port),
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

fn probe_for(resolver: &Arc<Resolver>, world: &World, port: u16) -> HttpProbe {
    let mut probe = HttpProbe::new(resolver.clone(), &world.config);
    probe.port = port;
    probe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_address_is_not_fetched_by_default() {
    let port = web_server().await;
    let world = World::new(&Settings::default());
    let (_, id) = taken_down(&world).await;
    let returned = dns(true).await;
    let resolver = resolver(&returned);
    let probe = probe_for(&resolver, &world, port);
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
            .contains("non-public address 127.0.0.1, not checked"),
        "{check:?}"
    );
    assert!(check.mx_up);
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
