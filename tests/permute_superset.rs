//! vigie's permutations contain every name dnstwist 20250130 makes with its default fuzzers.
//!
//! dnstwist's output is stored under tests/fixtures/dnstwist/, one file a domain, written by
//! scripts/dnstwist-fixtures.py.

use std::collections::HashSet;
use std::path::Path;

use vigie::domain::{PermuteOptions, permute};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dnstwist");

/// Lists the names of one fixture file, failing the test when the file is missing.
fn dnstwist_names(domain: &str) -> Vec<String> {
    let path = Path::new(FIXTURES).join(format!("{domain}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run scripts/dnstwist-fixtures.py",
            path.display()
        )
    });
    text.lines()
        .map(str::to_owned)
        .filter(|line| !line.is_empty())
        .collect()
}

fn assert_superset(domain: &str) {
    let expected = dnstwist_names(domain);
    assert!(
        expected.len() > 100,
        "{domain}: fixture has only {} names",
        expected.len()
    );

    let ours: HashSet<String> = permute(domain, &PermuteOptions::default())
        .unwrap_or_else(|error| panic!("{domain}: {error}"))
        .into_iter()
        .map(|permutation| permutation.domain)
        .collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|name| !ours.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "{domain}: {} of dnstwist's {} names missing from vigie's {}:\n{}",
        missing.len(),
        expected.len(),
        ours.len(),
        missing
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

#[test]
fn superset_paypal_com() {
    assert_superset("paypal.com");
}

#[test]
fn superset_societegenerale_com() {
    assert_superset("societegenerale.com");
}

#[test]
fn superset_example_co_uk() {
    assert_superset("example.co.uk");
}

#[test]
fn superset_bank_fr() {
    assert_superset("bank.fr");
}

#[test]
fn superset_credit_agricole_fr() {
    assert_superset("credit-agricole.fr");
}

#[test]
fn superset_idn_buecher_de() {
    assert_superset("xn--bcher-kva.de");
}

#[test]
fn superset_short_ab_io() {
    assert_superset("ab.io");
}

#[test]
fn superset_with_subdomain_www_bank_fr() {
    assert_superset("www.bank.fr");
}

/// Every fixture file is covered by a test above, so a new one cannot be forgotten.
#[test]
fn every_fixture_is_tested() {
    let tested = [
        "paypal.com",
        "societegenerale.com",
        "example.co.uk",
        "bank.fr",
        "credit-agricole.fr",
        "xn--bcher-kva.de",
        "ab.io",
        "www.bank.fr",
    ];
    for entry in std::fs::read_dir(FIXTURES).expect("fixture directory exists") {
        let name = entry
            .expect("readable directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(domain) = name.strip_suffix(".txt") {
            assert!(tested.contains(&domain), "fixture {name} has no test");
        }
    }
}
