//! Resolution of candidate names against an authoritative hickory-server on 127.0.0.1.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::dns::{SERVFAIL_NAME, TestDns, silent_udp_socket};
use vigie::config::DnsConfig;
use vigie::net::dns::{DnsError, Resolution, Resolver, SweepEntry};

fn config(server: SocketAddr) -> DnsConfig {
    DnsConfig {
        nameservers: vec![server],
        timeout_ms: 2000,
        attempts: 2,
        concurrency: 100,
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

async fn registered(resolver: &Resolver, name: &str) -> vigie::net::dns::Records {
    match resolver.resolve(name).await {
        Resolution::Registered(records) => records,
        other => panic!("{name}: expected registered, got {other:?}"),
    }
}

#[tokio::test]
async fn registered_lookalike_has_all_records() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let records = registered(&resolver, "examp1e.test").await;
    assert_eq!(records.a, set(&["198.51.100.10", "198.51.100.11"]));
    assert_eq!(records.aaaa, set(&["2001:db8::10"]));
    assert_eq!(records.ns, set(&["ns1.examp1e.test", "ns2.parking.test"]));
    // Two MX records that differ only by case and preference are one host.
    assert_eq!(records.mx, set(&["mail.examp1e.test"]));
}

#[tokio::test]
async fn registered_names_with_partial_records() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let only_a = registered(&resolver, "exarnple.test.").await;
    assert_eq!(only_a.a, set(&["198.51.100.20"]));
    assert!(only_a.aaaa.is_empty(), "{only_a:?}");
    assert!(only_a.mx.is_empty(), "{only_a:?}");

    let idn = registered(&resolver, "xn--exmple-qta.test").await;
    assert!(idn.a.is_empty(), "{idn:?}");
    assert_eq!(idn.aaaa, set(&["2001:db8::30"]));
    assert_eq!(idn.mx, set(&["mx.mailhost.test"]));

    // NOERROR with no address is still a registration.
    let mail_only = registered(&resolver, "example-mail.test").await;
    assert!(mail_only.a.is_empty(), "{mail_only:?}");
    assert_eq!(mail_only.mx, set(&["mx.mailhost.test"]));
    assert_eq!(mail_only.ns, set(&["ns1.example-mail.test"]));
}

#[tokio::test]
async fn unicode_name_is_resolved_as_punycode() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let records = registered(&resolver, "exámple.test").await;
    assert_eq!(records.aaaa, set(&["2001:db8::30"]));
}

#[tokio::test]
async fn nxdomain_is_not_registered() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    for name in ["exampel.test", "nothing.test", "www.examp1e.test"] {
        assert_eq!(
            resolver.resolve(name).await,
            Resolution::NotRegistered,
            "{name}"
        );
    }
}

#[tokio::test]
async fn servfail_is_unknown() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    match resolver.resolve(SERVFAIL_NAME).await {
        Resolution::Unknown(reason) => assert!(reason.contains("SERVFAIL"), "{reason}"),
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[tokio::test]
async fn silent_server_is_unknown_after_timeout() {
    let silent = silent_udp_socket().await;
    let mut settings = config(silent.local_addr().unwrap());
    settings.timeout_ms = 300;
    settings.attempts = 1;
    let resolver = Resolver::new(&settings).unwrap();

    let started = Instant::now();
    let resolution = resolver.resolve("examp1e.test").await;
    let elapsed = started.elapsed();

    match resolution {
        Resolution::Unknown(reason) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected unknown, got {other:?}"),
    }
    // The answer must come from the configured timeout, not from a much later default.
    assert!(
        elapsed >= Duration::from_millis(250),
        "returned after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "returned after {elapsed:?}"
    );
}

#[tokio::test]
async fn truncated_answer_is_retried_over_tcp() {
    let mut zone =
        String::from("@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\n");
    for host in 1..=150 {
        zone.push_str(&format!("@ 3600 IN A 10.0.{}.{}\n", host / 100, host % 100));
    }
    let dns = TestDns::builder().zone("large.test.", &zone).start().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let records = registered(&resolver, "large.test").await;
    assert_eq!(records.a.len(), 150);
}

#[tokio::test]
async fn wildcard_zone_is_detected() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let wildcard = resolver
        .wildcard("wild.test")
        .await
        .expect("wild.test is a wildcard zone");
    assert_eq!(wildcard.a, set(&["203.0.113.7"]));
    assert_eq!(resolver.wildcard("examp1e.test").await, None);
    assert_eq!(resolver.wildcard(SERVFAIL_NAME).await, None);
}

#[tokio::test]
async fn sweep_folds_wildcard_subdomains() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let names = [
        "www.wild.test",
        "login.wild.test",
        "wild.test",
        "examp1e.test",
        "www.examp1e.test",
    ];
    let report = resolver.sweep(names, |_| {}).await;

    assert_eq!(
        report.wildcard_zones.keys().collect::<Vec<_>>(),
        ["wild.test"]
    );
    let by_name = |name: &str| {
        report
            .entries
            .iter()
            .find(|entry| entry.name == name)
            .unwrap()
    };
    for name in ["www.wild.test", "login.wild.test"] {
        let entry = by_name(name);
        assert_eq!(
            entry.wildcard_zone.as_deref(),
            Some("wild.test"),
            "{entry:?}"
        );
        assert!(!entry.is_registration(), "{entry:?}");
    }
    // The zone itself is a registration. A subdomain of a zone without wildcard is NXDOMAIN.
    assert!(by_name("wild.test").is_registration());
    assert!(by_name("examp1e.test").is_registration());
    assert_eq!(
        by_name("www.examp1e.test").resolution,
        Resolution::NotRegistered
    );
    let registrations: Vec<&str> = report
        .entries
        .iter()
        .filter(|entry| entry.is_registration())
        .map(|entry| entry.name.as_str())
        .collect();
    assert_eq!(registrations, ["wild.test", "examp1e.test"]);
}

/// Expected class of a name in the 200-name sweep.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    Registered,
    NotRegistered,
    Unknown,
    Wildcard,
}

fn class_of(entry: &SweepEntry) -> Class {
    match (&entry.resolution, &entry.wildcard_zone) {
        (_, Some(_)) => Class::Wildcard,
        (Resolution::Registered(_), None) => Class::Registered,
        (Resolution::NotRegistered, None) => Class::NotRegistered,
        (Resolution::Unknown(_), None) => Class::Unknown,
    }
}

#[tokio::test]
async fn sweep_of_200_names_classes_each_once() {
    let dns = TestDns::standard().await;
    let mut settings = config(dns.addr);
    settings.concurrency = 16;
    let resolver = Resolver::new(&settings).unwrap();

    let mut expected: Vec<(String, Class)> = Vec::new();
    for name in [
        "examp1e.test",
        "exarnple.test",
        "xn--exmple-qta.test",
        "example-mail.test",
        "wild.test",
    ] {
        expected.push((name.to_owned(), Class::Registered));
    }
    expected.push((SERVFAIL_NAME.to_owned(), Class::Unknown));
    for index in 0..20 {
        expected.push((format!("host{index}.wild.test"), Class::Wildcard));
    }
    let mut index = 0;
    while expected.len() < 200 {
        expected.push((format!("exampl{index}.test"), Class::NotRegistered));
        index += 1;
    }
    // A duplicate differing in case and final dot is swept once.
    let mut names: Vec<String> = expected.iter().map(|(name, _)| name.clone()).collect();
    names.push("EXAMP1E.test.".to_owned());

    let mut progress_calls = 0;
    let report = resolver.sweep(names, |_| progress_calls += 1).await;

    assert_eq!(progress_calls, 200);
    assert_eq!(report.entries.len(), 200);
    for ((name, class), entry) in expected.iter().zip(&report.entries) {
        assert_eq!(&entry.name, name);
        assert_eq!(&class_of(entry), class, "{entry:?}");
    }
    // A for all 200 names, AAAA, NS and MX for the 25 that exist, A, AAAA, NS, MX for the
    // random label that found the wildcard, and A for the random label under the suffix
    // `test`, which does not exist: each name is asked once.
    assert_eq!(report.queries, 200 + 3 * 25 + 4 + 1);
}

#[tokio::test]
async fn zero_concurrency_is_rejected() {
    let mut settings = config("127.0.0.1:53".parse().unwrap());
    settings.concurrency = 0;
    let error = Resolver::new(&settings)
        .err()
        .expect("concurrency 0 is rejected");
    assert!(matches!(
        error,
        DnsError::InvalidSetting {
            field: "concurrency",
            ..
        }
    ));
    assert!(error.to_string().contains("concurrency"), "{error}");
}

#[tokio::test]
async fn scan_prints_registered_lookalikes_as_json() {
    use vigie::cli::scan::{Candidate, Format, ScanArgs, scan};

    let dns = TestDns::standard().await;
    let args = ScanArgs {
        domain: "example.test".to_owned(),
        nameservers: vec![dns.addr],
        format: Format::Json,
        concurrency: 8,
        timeout_ms: 2000,
        attempts: 2,
        all: true,
        fuzzers: Default::default(),
    };
    let candidates = [
        ("examp1e.test", "replacement"),
        ("exampel.test", "transposition"),
        ("xn--exmple-qta.test", "homoglyph"),
        (SERVFAIL_NAME, "various"),
        ("ex.wild.test", "subdomain"),
    ]
    .map(|(domain, fuzzer)| Candidate {
        domain: domain.to_owned(),
        fuzzer: fuzzer.to_owned(),
    });

    let mut out = Vec::new();
    let summary = scan(&args, candidates.to_vec(), &mut out).await.unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();

    assert_eq!(summary.generated, 5);
    assert_eq!(summary.registered, 2);
    assert_eq!(summary.unknown, 1);
    assert_eq!(summary.wildcard_zones, 1);
    let domains: Vec<&str> = lines
        .iter()
        .map(|line| line["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        domains,
        [
            "examp1e.test",
            "xn--exmple-qta.test",
            SERVFAIL_NAME,
            "wild.test"
        ]
    );
    assert_eq!(
        lines[0]["a"],
        serde_json::json!(["198.51.100.10", "198.51.100.11"])
    );
    assert_eq!(lines[1]["unicode"], "exámple.test");
    assert!(
        lines[2]["unknown"].as_str().unwrap().contains("SERVFAIL"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["wildcard_of"], serde_json::json!(["ex.wild.test"]));
}

#[tokio::test]
async fn sweep_runs_in_a_spawned_task() {
    let dns = TestDns::standard().await;
    let resolver = std::sync::Arc::new(Resolver::new(&config(dns.addr)).unwrap());

    // The daemon sweeps inside tokio::spawn, which needs a Send future.
    let task = tokio::spawn({
        let resolver = resolver.clone();
        async move {
            resolver
                .sweep(vec!["examp1e.test".to_owned()], |_| {})
                .await
        }
    });
    let report = task.await.unwrap();
    assert!(report.entries[0].is_registration(), "{report:?}");
}

/// Answers each query three times: with another question, from another port, and last
/// with the real answer, as an off-path forger racing a real server would.
async fn serve_with_forgeries(server: tokio::net::UdpSocket, other: tokio::net::UdpSocket) {
    use hickory_server::proto::op::{Message, OpCode, Query};
    use hickory_server::proto::rr::rdata::A;
    use hickory_server::proto::rr::{Name, RData, Record, RecordType};

    let answer = |id: u16, query: &Query, address: [u8; 4]| {
        let mut message = Message::response(id, OpCode::Query);
        message.add_query(query.clone());
        if query.query_type() == RecordType::A {
            let record = Record::from_rdata(query.name().clone(), 60, RData::A(A(address.into())));
            message.add_answer(record);
        }
        message.to_vec().unwrap()
    };
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok((length, client)) = server.recv_from(&mut buffer).await else {
            return;
        };
        let request = Message::from_vec(&buffer[..length]).unwrap();
        let id = request.metadata.id;
        let query = request.queries[0].clone();

        let other_name = Query::query(Name::from_ascii("other.test.").unwrap(), query.query_type());
        server
            .send_to(&answer(id, &other_name, [192, 0, 2, 66]), client)
            .await
            .unwrap();
        other
            .send_to(&answer(id, &query, [192, 0, 2, 77]), client)
            .await
            .unwrap();
        server
            .send_to(&answer(id, &query, [192, 0, 2, 10]), client)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn forged_answers_are_ignored() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr().unwrap();
    let responder = tokio::spawn(serve_with_forgeries(server, other));
    let resolver = Resolver::new(&config(address)).unwrap();

    let records = registered(&resolver, "examp1e.test").await;
    assert_eq!(records.a, set(&["192.0.2.10"]));
    responder.abort();
}

#[tokio::test]
async fn next_attempt_goes_to_next_server() {
    // The first server, on IPv6 loopback, never answers; the second attempt goes to the
    // IPv4 test server, so both address families are in use.
    let silent = tokio::net::UdpSocket::bind("[::1]:0")
        .await
        .expect("bind UDP on ::1 (IPv6 loopback is needed for this test)");
    let dns = TestDns::standard().await;
    let mut settings = config(silent.local_addr().unwrap());
    settings.nameservers.push(dns.addr);
    settings.timeout_ms = 300;
    settings.attempts = 2;
    let resolver = Resolver::new(&settings).unwrap();

    let records = registered(&resolver, "exarnple.test").await;
    assert_eq!(records.a, set(&["198.51.100.20"]));
}

#[tokio::test]
async fn sweep_retries_every_name_on_next_server() {
    // The first server never answers, so each name's first attempt times out and the
    // second goes to the test server: the sweep's timeouts and retries run for every name.
    let silent = silent_udp_socket().await;
    let dns = TestDns::standard().await;
    let mut settings = config(silent.local_addr().unwrap());
    settings.nameservers.push(dns.addr);
    settings.timeout_ms = 200;
    settings.attempts = 2;
    settings.concurrency = 50;
    let resolver = Resolver::new(&settings).unwrap();

    let mut names: Vec<String> = (0..100)
        .map(|index| format!("exampl{index}.test"))
        .collect();
    names.push("examp1e.test".to_owned());
    let report = resolver.sweep(names, |_| {}).await;

    assert_eq!(report.entries.len(), 101);
    for entry in &report.entries[..100] {
        assert_eq!(entry.resolution, Resolution::NotRegistered, "{entry:?}");
    }
    assert!(
        report.entries[100].is_registration(),
        "{:?}",
        report.entries[100]
    );
}

#[tokio::test]
async fn sweep_asks_truncated_answers_over_tcp() {
    let mut zone =
        String::from("@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\n");
    for host in 1..=150 {
        zone.push_str(&format!("@ 3600 IN A 10.0.{}.{}\n", host / 100, host % 100));
    }
    let dns = TestDns::builder()
        .zone("large.test.", &zone)
        .zone("small.test.", "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\n@ 3600 IN A 192.0.2.1\n")
        .start()
        .await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();

    let names = ["large.test", "small.test", "absent.small.test"];
    let report = resolver.sweep(names, |_| {}).await;

    let Resolution::Registered(large) = &report.entries[0].resolution else {
        panic!("large.test: {:?}", report.entries[0]);
    };
    assert_eq!(large.a.len(), 150);
    let Resolution::Registered(small) = &report.entries[1].resolution else {
        panic!("small.test: {:?}", report.entries[1]);
    };
    assert_eq!(small.a, set(&["192.0.2.1"]));
    assert_eq!(report.entries[2].resolution, Resolution::NotRegistered);
    // A for the three names, the wildcard probes of small.test and of the suffix test, the
    // follow-ups of the two that exist, and the truncated A answer of large.test asked again,
    // once, over TCP.
    assert_eq!(report.queries, 5 + 2 * 3 + 1);
}

#[tokio::test]
async fn sweep_reports_invalid_name_and_keeps_others() {
    let dns = TestDns::standard().await;
    let resolver = Resolver::new(&config(dns.addr)).unwrap();
    let long_label = format!("{}.test", "a".repeat(64));

    let names = vec![
        "examp1e.test".to_owned(),
        long_label.clone(),
        "exampl0.test".to_owned(),
    ];
    let report = resolver.sweep(names, |_| {}).await;

    assert!(
        report.entries[0].is_registration(),
        "{:?}",
        report.entries[0]
    );
    let Resolution::Unknown(reason) = &report.entries[1].resolution else {
        panic!("expected unknown, got {:?}", report.entries[1]);
    };
    assert!(reason.contains(&long_label), "{reason}");
    assert_eq!(report.entries[2].resolution, Resolution::NotRegistered);
}

#[tokio::test]
async fn sweep_ignores_forged_answers() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr().unwrap();
    let responder = tokio::spawn(serve_with_forgeries(server, other));
    let resolver = Resolver::new(&config(address)).unwrap();

    let names: Vec<String> = (0..50).map(|index| format!("host{index}.test")).collect();
    let report = resolver.sweep(names, |_| {}).await;

    assert_eq!(report.entries.len(), 50);
    for entry in &report.entries {
        let Resolution::Registered(records) = &entry.resolution else {
            panic!("expected registered, got {entry:?}");
        };
        assert_eq!(records.a, set(&["192.0.2.10"]), "{entry:?}");
    }
    responder.abort();
}

#[tokio::test]
async fn sweep_with_more_names_in_flight_than_sockets() {
    // Concurrency far above the sockets' count puts many message IDs in use on each socket
    // at once; every name must still get its own answer. Far more in flight would overflow
    // the default socket buffers of the test server.
    let dns = TestDns::standard().await;
    let mut settings = config(dns.addr);
    settings.concurrency = 200;
    let resolver = Resolver::new(&settings).unwrap();

    let mut names: Vec<String> = (0..2000)
        .map(|index| format!("exampl{index}.test"))
        .collect();
    names.push("exarnple.test".to_owned());
    let report = resolver.sweep(names, |_| {}).await;

    assert_eq!(report.entries.len(), 2001);
    let not_registered = report
        .entries
        .iter()
        .filter(|entry| entry.resolution == Resolution::NotRegistered)
        .count();
    assert_eq!(not_registered, 2000);
    let Resolution::Registered(records) = &report.entries[2000].resolution else {
        panic!("exarnple.test: {:?}", report.entries[2000]);
    };
    assert_eq!(records.a, set(&["198.51.100.20"]));
}
