//! Parsing of real CT data: certificates logged by real CAs, the v3 log list sample, and the
//! `[ct]` configuration with its errors.

mod support;

use vigie::config;
use vigie::ct::leaf::{encode_precert_leaf, encode_x509_leaf};
use vigie::ct::{EntryType, LogState, ParsedCert, parse_leaf, parse_log_list};
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};
use vigie::sources::ct::{LogRef, plan_logs, process_entries};

use support::ct_log::TestCa;

const LOG_LIST: &[u8] = include_bytes!("fixtures/ct/loglist3.json");

fn parse_x509(der: &[u8]) -> (Vec<String>, vigie::ct::CertDetails) {
    let leaf = encode_x509_leaf(1, der);
    let leaf = parse_leaf(&leaf).unwrap();
    let cert = ParsedCert::parse(&leaf).unwrap();
    let names = cert.names();
    assert_eq!(names.san_error, None);
    (
        names.names.iter().map(|n| n.display()).collect(),
        cert.details(),
    )
}

#[test]
fn real_leaf_certificates_give_their_names() {
    let (names, details) = parse_x509(include_bytes!(
        "fixtures/ct/lets-encrypt-leaf-lists.for-our.info.der"
    ));
    assert_eq!(names, ["lists.for-our.info"]);
    assert_eq!(
        details.issuer,
        "C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3"
    );
    assert_eq!(details.issuer_org, "Let's Encrypt");
    assert_eq!(
        details.not_before,
        time::macros::datetime!(2019-07-12 11:12:30 UTC)
    );
    assert_eq!(
        details.not_after,
        time::macros::datetime!(2019-10-10 11:12:30 UTC)
    );

    let (names, details) = parse_x509(include_bytes!("fixtures/ct/dfn-leaf-www.cas.dhbw.de.der"));
    // The CN comes first, then the SAN names not seen yet.
    assert_eq!(names, ["www.cas.dhbw.de", "cas.dhbw.de"]);
    assert_eq!(
        details.issuer_org,
        "Verein zur Foerderung eines Deutschen Forschungsnetzes e. V."
    );
}

#[test]
fn real_ca_certificates_have_no_dns_name() {
    for der in [
        &include_bytes!("fixtures/ct/lets-encrypt-x3-cross-signed.der")[..],
        &include_bytes!("fixtures/ct/igc-a-root.der")[..],
    ] {
        let (names, details) = parse_x509(der);
        assert!(names.is_empty(), "{names:?}");
        assert!(!details.issuer.is_empty());
    }
}

#[test]
fn precertificate_tbs_gives_names_and_issuer() {
    let ca = TestCa::new("Test CA", "Test CA R1");
    let precert = ca.precertificate(
        7,
        Some("p\u{0430}ypal.com"),
        &["xn--pypal-4ve.com", "*.Paypal-Login.example", "192.0.2.1"],
    );
    let leaf = encode_precert_leaf(1, &ca.key_hash, &precert.tbs);
    let leaf = parse_leaf(&leaf).unwrap();
    assert_eq!(leaf.entry_type, EntryType::Precert);
    assert_eq!(leaf.issuer_key_hash, Some(ca.key_hash));
    let cert = ParsedCert::parse(&leaf).unwrap();
    let names = cert.names();
    let shown: Vec<(String, String, bool)> = names
        .names
        .iter()
        .map(|n| (n.ascii.clone(), n.unicode.clone(), n.wildcard))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "xn--pypal-4ve.com".to_string(),
                "p\u{0430}ypal.com".to_string(),
                false
            ),
            (
                "paypal-login.example".to_string(),
                "paypal-login.example".to_string(),
                true
            ),
        ]
    );
    assert_eq!(cert.details().issuer_org, "Test CA");
}

#[test]
fn batch_with_garbage_keeps_going() {
    let ca = TestCa::new("Test CA", "Test CA R1");
    let matcher = Matcher::compile(&[BrandSpec {
        id: "acme".to_string(),
        brand: "Acme".to_string(),
        keywords: vec![KeywordSpec::new("acmebank")],
        legitimate: vec!["acmebank.com".to_string()],
        allow: Vec::new(),
    }])
    .unwrap();
    let good = encode_x509_leaf(1, &ca.certificate(1, None, &["acmebank-login.com"]));
    let legit = encode_x509_leaf(1, &ca.certificate(2, None, &["www.acmebank.com"]));
    let entries = vec![
        Ok(vec![0xff; 3]),
        Err("leaf_input is not base64".to_string()),
        Ok(good),
        Ok(encode_x509_leaf(1, b"\x30\x03\x02\x01\x01")),
        Ok(legit),
    ];
    let log = LogRef {
        name: "test".to_string(),
        url: "http://127.0.0.1:1/".to_string(),
    };
    let outcome = process_entries(
        &matcher,
        &log,
        100,
        &entries,
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(outcome.entries, 5);
    assert_eq!(outcome.certificates, 2);
    let items: Vec<&str> = outcome.malformed.iter().map(|m| m.item.as_str()).collect();
    assert_eq!(items, ["100", "101", "103"]);
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].subject, "acmebank-login.com");
    assert_eq!(outcome.findings[0].evidence["index"], 102);
}

#[test]
fn log_list_sample_parses() {
    let list = parse_log_list(LOG_LIST, "loglist3.json").unwrap();
    let urls: Vec<(&str, LogState)> = list
        .logs
        .iter()
        .map(|l| (l.url.as_str(), l.state))
        .collect();
    assert_eq!(
        urls,
        [
            ("https://ct.googleapis.com/aviator/", LogState::ReadOnly),
            ("https://ct.googleapis.com/icarus/", LogState::Usable),
            ("https://ct.googleapis.com/racketeer/", LogState::Unknown),
            ("https://ct.googleapis.com/rocketeer/", LogState::Usable),
            (
                "https://ct.googleapis.com/logs/argon2020/",
                LogState::Qualified
            ),
            ("https://log.bob.io/", LogState::Retired),
        ]
    );
    assert!(list.problems.is_empty(), "{:?}", list.problems);
    let argon = &list.logs[4];
    assert_eq!(argon.operator, "Google");
    assert_eq!(argon.description, "Google 'Argon2020' log");
    assert!(argon.temporal_interval.is_some());
}

/// Writes `vigie.toml` with `ct` and one watchlist, and returns what loading it gives.
fn load(ct: &str) -> Result<config::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    std::fs::write(dir.path().join("list.json"), LOG_LIST).unwrap();
    std::fs::write(
        dir.path().join("watchlists/acme.toml"),
        "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vigie.toml"),
        format!("[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n{ct}\n"),
    )
    .unwrap();
    config::load(&dir.path().join("vigie.toml")).map_err(|e| e.to_string())
}

#[test]
fn plans_follow_states_and_overrides() {
    let config = load(
        "[ct]\nlog_list_path = \"list.json\"\nbatch_size = 100\n\n\
         [ct.logs.icarus]\nurl = \"https://ct.googleapis.com/icarus\"\nenabled = false\n\n\
         [ct.logs.aviator]\nurl = \"https://ct.googleapis.com/aviator/\"\nbatch_size = 32\n\n\
         [ct.logs.local]\nurl = \"http://127.0.0.1:8080/\"\nstart_index = 5\n",
    )
    .unwrap();
    let ct = config.ct.as_ref().unwrap();
    let list = parse_log_list(LOG_LIST, "list.json").unwrap();
    let plans = plan_logs(ct, Some(&list));
    let summary: Vec<(&str, &str, u64, Option<u64>)> = plans
        .iter()
        .map(|p| (p.name.as_str(), p.url.as_str(), p.batch_size, p.start_index))
        .collect();
    assert_eq!(
        summary,
        [
            // Read-only, but named by a table.
            ("aviator", "https://ct.googleapis.com/aviator/", 32, None),
            // Icarus is usable but disabled; Rocketeer and Argon2020 are in the default states.
            (
                "Google 'Rocketeer' log",
                "https://ct.googleapis.com/rocketeer/",
                100,
                None
            ),
            (
                "Google 'Argon2020' log",
                "https://ct.googleapis.com/logs/argon2020/",
                100,
                None
            ),
            ("local", "http://127.0.0.1:8080/", 100, Some(5)),
        ]
    );
}

#[test]
fn ct_config_errors_name_the_place_and_fix() {
    let cases = [
        ("[ct]\nbatch_size = 10", "names no log"),
        (
            "[ct]\nlog_list_url = \"https://x/\"\nlog_list_path = \"list.json\"",
            "has both `log_list_url` and `log_list_path`",
        ),
        ("[ct]\nlog_list_path = \"missing.json\"", "not found"),
        (
            "[ct]\nlog_list_url = \"ftp://x/\"",
            "must be an http or https URL",
        ),
        (
            "[ct]\nlog_list_path = \"list.json\"\nstates = [\"usable\", \"useable\"]",
            "unknown log state \"useable\"",
        ),
        (
            "[ct]\nlog_list_path = \"list.json\"\nbatch_size = 0",
            "ct.batch_size must be between 1 and 10000",
        ),
        (
            "[ct]\n\n[ct.logs.a]\nurl = \"ct.example/log\"",
            "invalid ct.logs.a.url",
        ),
        (
            "[ct]\n\n[ct.logs.a]\nenabled = true",
            "missing key `ct.logs.a.url`",
        ),
        (
            "[ct]\n\n[ct.logs.a]\nurl = \"https://x/\"\n\n[ct.logs.b]\nurl = \"https://x\"",
            "has the same url as [ct.logs.a]",
        ),
        (
            "[ct]\n\n[ct.logs.a]\nurl = \"https://x/\"\nbatchsize = 3",
            "unknown key `batchsize` in [ct.logs.a]",
        ),
    ];
    for (ct, expected) in cases {
        let errors = load(ct).expect_err(ct);
        assert!(errors.contains(expected), "{ct:?}: {errors}");
        assert!(
            errors.contains("vigie.toml:"),
            "{ct:?}: no file:line in {errors}"
        );
    }
    assert!(load("").unwrap().ct.is_none());
}
