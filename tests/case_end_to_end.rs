//! One campaign from alert to report on real parts: a finding confirmed into a case, its
//! blocklist loaded by a real Unbound that then refuses the lookalike, a takedown notice
//! delivered through Postfix to Dovecot and read back, a follow-up after the deadline (the
//! clock is moved, not slept), the warning page published and removed, the report rendered.

mod support;

use std::time::Duration;

use support::dns::TestDns;
use support::imap::wait_for_header;
use support::mail::MailServers;
use support::response::{Settings, T0, World, lookalike, vigie};
use support::unbound::{Blocklists, Unbound};
use vigie::case::takedown::{self, Mailer, Request};
use vigie::case::{Actor, FixedClock};
use vigie::config::DnsConfig;
use vigie::net::dns::{Resolution, Resolver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_from_alert_to_report() {
    let servers = MailServers::started();
    let dns = TestDns::standard().await;
    let world = World::new(&Settings {
        smtp_port: Some(servers.smtp_port),
        ..Settings::default()
    });
    let mut finding = lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0);
    finding
        .facts
        .insert("ns".into(), ["ns2.parking.test".to_owned()].into());
    let id = world.record(finding).await.to_string();

    // Triage through the command line.
    let run = |args: &[&str]| {
        let (ok, out, err) = vigie(&world, args, &[("VIGIE_AUTHOR", "alice")]);
        assert!(ok, "vigie {args:?} failed: {err}");
        out
    };
    let case = run(&[
        "case",
        "open",
        "--title",
        "Card phishing",
        "--vector",
        "phishing mail",
    ]);
    let case = case.trim();
    run(&["triage", &id, "--confirm", "--case", case]);

    // Containment: the RPZ zone loaded by Unbound refuses the lookalike only.
    let rpz_path = world.dir.path().join("vigie.rpz");
    run(&[
        "export",
        "blocklist",
        "--format",
        "rpz",
        "--case",
        case,
        "-o",
        rpz_path.to_str().unwrap(),
    ]);
    let rpz = std::fs::read_to_string(&rpz_path).unwrap();
    let unbound = Unbound::start(
        dns.addr,
        &Blocklists {
            rpz: Some(&rpz),
            include: None,
        },
    );
    let resolver = Resolver::new(&DnsConfig {
        nameservers: vec![unbound.addr],
        timeout_ms: 2000,
        attempts: 2,
        concurrency: 4,
    })
    .unwrap();
    assert_eq!(
        resolver.resolve("examp1e.test").await,
        Resolution::NotRegistered
    );
    assert!(matches!(
        resolver.resolve("example.test").await,
        Resolution::Registered(_)
    ));

    // Takedown, reminder and follow-up with a clock the test moves.
    let clock = FixedClock::new(T0 + time::Duration::hours(1));
    let actor = Actor {
        author: "bob",
        clock: &clock,
    };
    let mailer = Mailer::from_config(&world.config).unwrap();
    let request = Request {
        case_id: case.parse().unwrap(),
        finding: id.clone(),
        ..Request::default()
    };
    let (takedown_id, notice) =
        takedown::send(&world.store, &world.config, &actor, &mailer, &request)
            .await
            .unwrap();
    let first = wait_for_header(
        servers.imap_port,
        "X-Vigie-Takedown",
        &notice.reference,
        Duration::from_secs(30),
    )
    .await;
    assert!(first.contains("demande de suppression"), "{first}");
    clock.set(T0 + time::Duration::hours(50));
    assert_eq!(
        takedown::remind_overdue(&world.store, &world.config, &clock).unwrap(),
        [takedown_id]
    );
    let followed = takedown::followup(&world.store, &world.config, &actor, &mailer, takedown_id)
        .await
        .unwrap();
    let reply = wait_for_header(
        servers.imap_port,
        "Subject",
        &followed.notice.subject,
        Duration::from_secs(30),
    )
    .await;
    assert!(reply.contains("In-Reply-To: <"), "{reply}");

    // Warning page up and down.
    run(&["warning-page", "publish", "--case", case, "--lang", "fr,en"]);
    let page = world.web_root().join(format!("case-{case}/index.html"));
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("examp1e[.]test")
    );
    run(&["warning-page", "unpublish", "--case", case]);
    assert!(!page.exists());

    // The report holds every step, each with its author.
    let report = run(&["report", "case", case]);
    for (author, kind) in [
        ("alice", "opened"),
        ("alice", "confirmed"),
        ("alice", "blocklist-exported"),
        ("bob", "takedown-sent"),
        ("vigie", "takedown-reminder"),
        ("bob", "takedown-followup"),
        ("alice", "warning-published"),
        ("alice", "warning-unpublished"),
    ] {
        assert!(
            report.contains(&format!("| {author} | {kind} |")),
            "{kind} missing:\n{report}"
        );
    }
    assert!(report.contains("| Time to first action | "), "{report}");
    dns.stop().await;
}
