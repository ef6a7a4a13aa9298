//! `vigie audit mail-auth` against a local authoritative zone built from real records: the
//! SPF chain and DMARC record of proton.me as checkdmarc captured them, real DKIM keys of
//! the stalwart mail-auth tests, the DMARC policy published in a real aggregate report, and
//! two zones written here for the weaknesses no real sample shows (+all, too many lookups).

mod support;

use serde_json::Value;
use support::dns::TestDns;
use support::response::{Settings, World, vigie};
use vigie::case::audit::{self, DomainAudit, Level};
use vigie::config::DnsConfig;
use vigie::net::dns::Resolver;

const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\nns1 3600 IN A 127.0.0.1\n";

/// A TXT record line, split into character-strings of at most 200 bytes.
fn txt(owner: &str, value: &str) -> String {
    let chunks: Vec<String> = value
        .as_bytes()
        .chunks(200)
        .map(|chunk| {
            format!(
                "\"{}\"",
                String::from_utf8_lossy(chunk).replace('"', "\\\"")
            )
        })
        .collect();
    format!("{owner} 3600 IN TXT {}\n", chunks.join(" "))
}

/// Collects `(include target, its record)` from checkdmarc's parsed SPF tree.
fn includes(parsed: &Value, found: &mut Vec<(String, String)>) {
    for mechanism in parsed["mechanisms"].as_array().into_iter().flatten() {
        if mechanism["mechanism"] == "include" {
            found.push((
                mechanism["value"].as_str().unwrap().to_owned(),
                mechanism["record"].as_str().unwrap().to_owned(),
            ));
            includes(&mechanism["parsed"], found);
        }
    }
}

async fn dns() -> TestDns {
    let checkdmarc: Value = serde_json::from_str(include_str!(
        "fixtures/response/mail-auth/proton.me_checkdmarc_output.json"
    ))
    .unwrap();
    let mut proton = SOA.to_owned();
    proton += &txt("@", checkdmarc["spf"]["record"].as_str().unwrap());
    proton += &txt("_dmarc", checkdmarc["dmarc"]["record"].as_str().unwrap());
    let mut found = Vec::new();
    includes(&checkdmarc["spf"]["parsed"], &mut found);
    assert_eq!(found.len(), 2, "the capture holds two nested includes");
    let mut protonmail = SOA.to_owned();
    for (target, record) in &found {
        let owner = target.strip_suffix(".protonmail.ch").unwrap();
        protonmail += &txt(owner, record);
    }

    let mut zones: Vec<(String, String)> = vec![
        ("proton.me.".into(), proton),
        ("protonmail.ch.".into(), protonmail),
    ];
    for line in include_str!("fixtures/response/mail-auth/dkim-keys.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(' ').unwrap();
        let (owner, zone) = name.split_once("._domainkey.").unwrap();
        let zone = format!("{zone}.");
        let record = txt(&format!("{owner}._domainkey"), value);
        match zones.iter_mut().find(|(origin, _)| *origin == zone) {
            Some((_, text)) => text.push_str(&record),
            None => zones.push((zone, format!("{SOA}{record}"))),
        }
    }
    // The policy example.com published, as a receiver quoted it in a real aggregate report
    // (parsedmarc sample report from protection.outlook.com): p=none, sp=none, pct=100.
    let example = zones
        .iter_mut()
        .find(|(origin, _)| origin == "example.com.")
        .unwrap();
    example.1 += &txt("_dmarc", "v=DMARC1; p=none; sp=none; pct=100; fo=0");

    // Written for this test: the weaknesses that none of the real records has.
    zones.push((
        "weak.test.".into(),
        format!(
            "{SOA}{}",
            txt(
                "@",
                "v=spf1 ip4:192.0.2.0/24 ptr include:gone.weak.test +all"
            )
        ),
    ));
    let mut many = SOA.to_owned();
    let all: Vec<String> = (1..=11)
        .map(|i| format!("include:i{i}.many.test"))
        .collect();
    many += &txt("@", &format!("v=spf1 {} -all", all.join(" ")));
    for i in 1..=10 {
        many += &txt(&format!("i{i}"), "v=spf1 ip4:198.51.100.0/24 -all");
    }
    many += &txt(
        "_dmarc",
        "v=DMARC1; p=reject; pct=50; rua=mailto:d@many.test",
    );
    zones.push(("many.test.".into(), many));
    // The domain of the test watchlist, with no mail record at all.
    zones.push(("example.test.".into(), SOA.to_owned()));

    let mut builder = TestDns::builder();
    for (origin, text) in &zones {
        builder = builder.zone(origin, text);
    }
    builder.start().await
}

fn resolver(dns: &TestDns) -> Resolver {
    Resolver::new(&DnsConfig {
        nameservers: vec![dns.addr],
        timeout_ms: 2000,
        attempts: 2,
        concurrency: 4,
    })
    .unwrap()
}

fn levels(audit: &DomainAudit) -> Vec<(&'static str, Level, &str)> {
    audit
        .weaknesses
        .iter()
        .map(|w| (w.check, w.level, w.problem.as_str()))
        .collect()
}

fn has(audit: &DomainAudit, check: &str, level: Level, words: &str) -> bool {
    audit
        .weaknesses
        .iter()
        .any(|w| w.check == check && w.level == level && w.problem.contains(words))
}

#[tokio::test]
async fn real_records_show_their_real_weaknesses() {
    let dns = dns().await;
    let resolver = resolver(&dns);

    let proton = audit::audit_domain(&resolver, "proton.me", true, &[]).await;
    assert_eq!(
        proton.spf.as_deref(),
        Some("v=spf1 include:_spf.protonmail.ch ~all")
    );
    assert_eq!(proton.spf_lookups, Some(2), "checkdmarc counted 2 too");
    assert!(
        has(&proton, "spf", Level::Low, "~all"),
        "{:#?}",
        levels(&proton)
    );
    assert!(
        has(&proton, "dmarc", Level::Low, "p=quarantine"),
        "{:#?}",
        levels(&proton)
    );
    assert!(
        has(&proton, "dmarc", Level::Medium, "no rua"),
        "as checkdmarc warned: {:#?}",
        levels(&proton)
    );
    assert_eq!(proton.weaknesses.len(), 3, "{:#?}", levels(&proton));

    let github = audit::audit_domain(&resolver, "github.com", true, &["dk2016".into()]).await;
    assert!(has(&github, "spf", Level::High, "no SPF record"));
    assert!(has(&github, "dmarc", Level::High, "no DMARC record"));
    assert!(
        has(&github, "dkim", Level::Medium, "1024-bit RSA key"),
        "{:#?}",
        levels(&github)
    );

    let example =
        audit::audit_domain(&resolver, "example.com", false, &["newengland".into()]).await;
    assert!(
        has(&example, "dmarc", Level::High, "p=none"),
        "{:#?}",
        levels(&example)
    );
    assert!(
        has(&example, "dkim", Level::Medium, "1024-bit"),
        "PKCS#1 key read: {:#?}",
        levels(&example)
    );
    let spf_fix = &example
        .weaknesses
        .iter()
        .find(|w| w.check == "spf")
        .unwrap()
        .fix;
    assert!(
        spf_fix.contains("\"v=spf1 -all\""),
        "a domain that sends no mail: {spf_fix}"
    );

    let football = audit::audit_domain(
        &resolver,
        "football.example.com",
        true,
        &["brisbane".into(), "test".into(), "gone".into()],
    )
    .await;
    let dkim: Vec<(&str, Level)> = football
        .weaknesses
        .iter()
        .filter(|w| w.check == "dkim")
        .map(|w| (w.problem.split_whitespace().nth(2).unwrap(), w.level))
        .collect();
    assert_eq!(
        dkim,
        [("test", Level::Medium), ("gone", Level::High)],
        "the ed25519 key passes"
    );
    dns.stop().await;
}

#[tokio::test]
async fn written_weaknesses_are_found() {
    let dns = dns().await;
    let resolver = resolver(&dns);
    let weak = audit::audit_domain(&resolver, "weak.test", true, &[]).await;
    assert!(
        has(&weak, "spf", Level::High, "+all"),
        "{:#?}",
        levels(&weak)
    );
    assert!(has(&weak, "spf", Level::Low, "ptr"), "{:#?}", levels(&weak));
    assert!(
        has(
            &weak,
            "spf",
            Level::High,
            "includes gone.weak.test, which has no SPF record"
        ),
        "{:#?}",
        levels(&weak)
    );

    let many = audit::audit_domain(&resolver, "many.test", true, &[]).await;
    assert_eq!(many.spf_lookups, Some(11));
    assert!(
        has(&many, "spf", Level::High, "11 DNS lookups"),
        "{:#?}",
        levels(&many)
    );
    assert!(
        has(&many, "dmarc", Level::Medium, "50%"),
        "{:#?}",
        levels(&many)
    );
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_audits_the_watchlist_domains() {
    let dns = dns().await;
    let world = World::new(&Settings {
        dns: Some(dns.addr),
        response: "dkim_selectors = [\"proton.me:dk2016\"]".into(),
        ..Settings::default()
    });
    // The world's watchlist protects example.test, which the zone does not know.
    let (ok, out, err) = vigie(&world, &["audit", "mail-auth"], &[]);
    assert!(!ok, "high weaknesses give exit code 1: {err}");
    assert!(out.contains("example.test (active)"), "{out}");
    assert!(
        out.contains("[high] spf: example.test has no SPF record"),
        "{out}"
    );

    let (ok, out, err) = vigie(
        &world,
        &[
            "audit",
            "mail-auth",
            "--domain",
            "proton.me",
            "--format",
            "json",
        ],
        &[],
    );
    assert!(ok, "no high weakness on proton.me: {err}\n{out}");
    let audit: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(audit["domain"], "proton.me");
    assert_eq!(audit["spf_lookups"], 2);
    dns.stop().await;
}
