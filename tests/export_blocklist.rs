//! Blocklists from confirmed findings: every format, the firewall list of addresses, and the
//! RPZ zone and the Unbound include loaded by a real Unbound that then refuses the lookalikes.

mod support;

use std::collections::BTreeMap;

use support::dns::TestDns;
use support::response::{Settings, T0, World, lookalike, vigie};
use support::unbound::{Blocklists, Unbound};
use vigie::case::blocklist::{self, Format};
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::{Actor, FixedClock};
use vigie::config::DnsConfig;
use vigie::model::{Indicator, IndicatorKind};
use vigie::net::dns::{Resolution, Resolver};

/// Records the three lookalikes of the standard DNS zones; confirms the first two, in two
/// cases. Returns (case of examp1e.test, case of exarnple.test).
async fn campaign(world: &World) -> (i64, i64) {
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let mut first = lookalike(
        "examp1e.test",
        &[
            ("a", &["198.51.100.10", "198.51.100.11"]),
            ("mx", &["mail.examp1e.test"]),
        ],
        T0,
    );
    first
        .indicators
        .push(Indicator::new(IndicatorKind::Email, "Support@Examp1e.test"));
    first.indicators.push(Indicator::new(
        IndicatorKind::Url,
        "https://login.examp1e.test/card",
    ));
    let ids = [
        world.record(first).await,
        world
            .record(lookalike("exarnple.test", &[("a", &["198.51.100.20"])], T0))
            .await,
        world
            .record(lookalike(
                "xn--exmple-qta.test",
                &[("aaaa", &["2001:db8::30"])],
                T0,
            ))
            .await,
    ];
    let mut cases = Vec::new();
    for (index, title) in ["Card phishing", "Fake support"].into_iter().enumerate() {
        let opening = Opening {
            title: title.into(),
            ..Opening::default()
        };
        let case = triage::open(&world.store, &actor, &opening, &[]).unwrap();
        let verdict = Verdict::Confirm { case: Some(case) };
        triage::triage(&world.store, &actor, &ids[index].to_string(), &verdict).unwrap();
        cases.push(case);
    }
    // The third lookalike is in the first case but never confirmed.
    triage::add(&world.store, &actor, cases[0], &[ids[2].to_string()]).unwrap();
    (cases[0], cases[1])
}

fn resolver(addr: std::net::SocketAddr) -> Resolver {
    Resolver::new(&DnsConfig {
        nameservers: vec![addr],
        timeout_ms: 2000,
        attempts: 2,
        concurrency: 4,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_refuses_the_blocklisted_lookalikes_only() {
    let dns = TestDns::standard().await;
    let world = World::new(&Settings::default());
    let (card, support) = campaign(&world).await;
    let rpz_file = world.dir.path().join("vigie.rpz");
    let unbound_file = world.dir.path().join("vigie-unbound.conf");
    let (ok, _, err) = vigie(
        &world,
        &[
            "export",
            "blocklist",
            "--format",
            "rpz",
            "--case",
            &card.to_string(),
            "-o",
        ],
        &[],
    );
    assert!(!ok, "-o needs a file");
    assert!(err.contains("-o"), "{err}");
    for (format, case, file) in [
        ("rpz", card, &rpz_file),
        ("unbound", support, &unbound_file),
    ] {
        let (ok, _, err) = vigie(
            &world,
            &[
                "export",
                "blocklist",
                "--format",
                format,
                "--case",
                &case.to_string(),
                "--output",
                file.to_str().unwrap(),
            ],
            &[("VIGIE_AUTHOR", "alice")],
        );
        assert!(ok, "{err}");
    }
    let rpz = std::fs::read_to_string(&rpz_file).unwrap();
    let include = std::fs::read_to_string(&unbound_file).unwrap();
    assert!(!rpz.contains("exarnple"), "case 1 only:\n{rpz}");
    assert!(!rpz.contains("xn--exmple-qta"), "confirmed only:\n{rpz}");
    assert!(
        include.contains("\"exarnple.test.\" always_nxdomain"),
        "{include}"
    );

    // Without the lists, the same Unbound answers every lookalike.
    {
        let plain = Unbound::start(
            dns.addr,
            &Blocklists {
                rpz: None,
                include: None,
            },
        );
        let resolver = resolver(plain.addr);
        for name in ["examp1e.test", "exarnple.test", "example.test"] {
            let found = resolver.resolve(name).await;
            assert!(
                matches!(found, Resolution::Registered(_)),
                "{name} resolves without a blocklist, found {found:?}; log:\n{}",
                plain.log()
            );
        }
    }

    let unbound = Unbound::start(
        dns.addr,
        &Blocklists {
            rpz: Some(&rpz),
            include: Some(&include),
        },
    );
    let resolver = resolver(unbound.addr);
    for name in ["examp1e.test", "mail.examp1e.test", "exarnple.test"] {
        assert_eq!(
            resolver.resolve(name).await,
            Resolution::NotRegistered,
            "{name} is refused; unbound log:\n{}",
            unbound.log()
        );
    }
    for name in ["example.test", "xn--exmple-qta.test"] {
        assert!(
            matches!(resolver.resolve(name).await, Resolution::Registered(_)),
            "{name} still resolves; unbound log:\n{}",
            unbound.log()
        );
    }
    let log = unbound.log();
    assert!(log.contains("rpz"), "the RPZ zone was loaded:\n{log}");
    assert!(!log.to_lowercase().contains("error"), "{log}");

    let events = world.store.case_events(card).unwrap();
    let export = events
        .iter()
        .find(|e| e.kind == "blocklist-exported")
        .expect("export recorded");
    assert_eq!(export.author, "alice");
    assert!(export.text.contains("rpz"), "{}", export.text);
    dns.stop().await;
}

#[tokio::test]
async fn every_format_lists_confirmed_indicators_only() {
    let world = World::new(&Settings::default());
    let (card, _) = campaign(&world).await;
    let findings = world.store.confirmed_findings(None).unwrap();
    let cases: BTreeMap<i64, Vec<i64>> = findings
        .iter()
        .map(|f| (f.id, world.store.cases_of_finding(f.id).unwrap()))
        .collect();
    let list = blocklist::build(&world.config, &findings, &cases);
    let render = |format| blocklist::render(&list, format, 1_772_442_000, T0);

    let rpz = render(Format::Rpz);
    assert!(
        rpz.contains("@ IN SOA localhost. hostmaster.localhost. 1772442000 "),
        "{rpz}"
    );
    assert!(
        rpz.contains("\nexamp1e.test CNAME .\n*.examp1e.test CNAME .\n"),
        "{rpz}"
    );
    assert!(rpz.contains("\n32.10.100.51.198.rpz-ip CNAME .\n"), "{rpz}");
    assert_eq!(
        render(Format::Hosts)
            .lines()
            .filter(|l| l.starts_with("0.0.0.0 "))
            .count(),
        2
    );
    assert!(render(Format::Dnsmasq).contains("\naddress=/exarnple.test/\n"));
    assert!(render(Format::Squid).contains("\n.examp1e.test\n"));
    let postfix = render(Format::Postfix);
    assert!(
        postfix.contains("\nsupport@examp1e.test REJECT "),
        "{postfix}"
    );
    assert!(postfix.contains("\n198.51.100.20 REJECT "), "{postfix}");
    assert!(!postfix.contains("https://"), "{postfix}");
    let csv = render(Format::Csv);
    assert!(csv.starts_with("kind,value,finding,severity,imitates,first_seen,cases\n"));
    assert!(
        csv.contains(&format!(
            "url,https://login.examp1e.test/card,1,high,example.test,2026-03-02T09:00:00Z,{card}\n"
        )),
        "{csv}"
    );
    assert_eq!(
        render(Format::Ips),
        "198.51.100.10\n198.51.100.11\n198.51.100.20\n"
    );
    let plain = render(Format::Plain);
    assert_eq!(plain.lines().count(), list.entries.len());
    assert!(!plain.contains("xn--exmple-qta"), "{plain}");
}

#[tokio::test]
async fn company_domains_and_covered_subdomains_are_left_out() {
    let world = World::new(&Settings::default());
    let mut finding = lookalike("examp1e.test", &[], T0);
    finding.indicators.extend([
        Indicator::new(IndicatorKind::Domain, "www.examp1e.test"),
        Indicator::new(IndicatorKind::Domain, "www.example.test"),
        Indicator::new(IndicatorKind::Url, "https://example.test/login"),
    ]);
    let id = world.record(finding).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    triage::triage(
        &world.store,
        &actor,
        &id.to_string(),
        &Verdict::Confirm { case: None },
    )
    .unwrap();
    let findings = world.store.confirmed_findings(None).unwrap();
    let list = blocklist::build(&world.config, &findings, &BTreeMap::new());
    let values: Vec<&str> = list.entries.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, ["examp1e.test"]);
    assert_eq!(
        list.skipped_legitimate,
        ["www.example.test", "https://example.test/login"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firewall_list_holds_public_addresses_only() {
    let world = World::new(&Settings::default());
    let (card, _) = campaign(&world).await;
    let mixed = world
        .record(lookalike(
            "examp1e-login.test",
            &[
                ("a", &["10.0.0.5", "203.0.113.9", "198.51.100.10"]),
                ("aaaa", &["::1", "2001:db8::99", "2001:db8::7"]),
            ],
            T0,
        ))
        .await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let verdict = Verdict::Confirm { case: Some(card) };
    triage::triage(&world.store, &actor, &mixed.to_string(), &verdict).unwrap();
    let file = world.dir.path().join("vigie-ips.txt");

    let (ok, _, err) = vigie(
        &world,
        &[
            "export",
            "blocklist",
            "--format",
            "ips",
            "--case",
            &card.to_string(),
            "-o",
            file.to_str().unwrap(),
        ],
        &[("VIGIE_AUTHOR", "alice")],
    );
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text, "198.51.100.10\n198.51.100.11\n203.0.113.9\n2001:db8::7\n2001:db8::99\n",
        "IPv4 then IPv6, sorted, each once, nothing but addresses"
    );
    for line in text.lines() {
        assert!(
            line.parse::<std::net::IpAddr>().is_ok(),
            "{line:?} is not an address"
        );
    }
    assert!(
        err.contains("left out 10.0.0.5: it is a private address"),
        "{err}"
    );
    assert!(
        err.contains("left out ::1: it is a loopback address"),
        "{err}"
    );
    let event = world
        .store
        .case_events(card)
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "blocklist-exported")
        .expect("the export is recorded on the case");
    assert!(
        event
            .text
            .starts_with("Blocklist exported as ips: 5 entries"),
        "{}",
        event.text
    );
}

#[test]
fn export_of_an_unknown_case_names_it() {
    let world = World::new(&Settings::default());
    let (ok, _, err) = vigie(
        &world,
        &["export", "blocklist", "--format", "hosts", "--case", "42"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("no case 42"), "{err}");
}
