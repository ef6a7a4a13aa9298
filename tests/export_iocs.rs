//! Indicator exports: the STIX 2.1 bundle validates against the official STIX 2.1 JSON
//! schemas (vendored in tests/fixtures/stix2), the MISP event has the fields MISP imports,
//! and the CSV lists every confirmed indicator.

mod support;

use std::path::Path;

use serde_json::Value;
use support::response::{Settings, T0, World, lookalike, vigie};
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::{Actor, FixedClock};
use vigie::model::{Indicator, IndicatorKind};

/// Base URI of the schemas, as their `$id`s give it.
const SCHEMA_BASE: &str =
    "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/";

/// A validator for STIX 2.1 bundles, with every schema file registered under its `$id`, so
/// that no reference is fetched from the network.
fn bundle_validator() -> jsonschema::Validator {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stix2");
    let mut options = jsonschema::options().with_draft(jsonschema::Draft::Draft202012);
    let mut bundle = None;
    for folder in ["common", "observables", "sdos", "sros"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let id = schema["$id"].as_str().unwrap().to_owned();
            assert!(id.starts_with(SCHEMA_BASE), "{id}");
            if id.ends_with("common/bundle.json") {
                bundle = Some(schema.clone());
            }
            options =
                options.with_resource(id, jsonschema::Resource::from_contents(schema).unwrap());
        }
    }
    options
        .build(&bundle.expect("bundle.json"))
        .expect("the schemas compile")
}

fn errors(validator: &jsonschema::Validator, bundle: &Value) -> Vec<String> {
    validator
        .iter_errors(bundle)
        .map(|error| format!("{} at {}", error, error.instance_path))
        .collect()
}

async fn world_with_confirmed() -> (World, i64) {
    let world = World::new(&Settings::default());
    let mut finding = lookalike(
        "examp1e.test",
        &[("a", &["198.51.100.10"]), ("aaaa", &["2001:db8::10"])],
        T0,
    );
    finding.indicators.extend([
        Indicator::new(IndicatorKind::Url, "https://examp1e.test/it's-you"),
        Indicator::new(IndicatorKind::Email, "support@examp1e.test"),
        Indicator::new(
            IndicatorKind::Account,
            "https://social.test/@examplebank_help",
        ),
    ]);
    let confirmed = world.record(finding).await;
    world.record(lookalike("exarnple.test", &[], T0)).await;
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
        &confirmed.to_string(),
        &Verdict::Confirm { case: Some(case) },
    )
    .unwrap();
    (world, case)
}

#[tokio::test]
async fn stix_bundle_validates_against_the_stix21_schemas() {
    let (world, case) = world_with_confirmed().await;
    let (ok, out, err) = vigie(
        &world,
        &[
            "export",
            "iocs",
            "--format",
            "stix",
            "--case",
            &case.to_string(),
        ],
        &[],
    );
    assert!(ok, "{err}");
    let bundle: Value = serde_json::from_str(&out).unwrap();
    let validator = bundle_validator();
    assert_eq!(errors(&validator, &bundle), Vec::<String>::new());

    let objects = bundle["objects"].as_array().unwrap();
    let patterns: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "indicator")
        .map(|o| o["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(
        patterns,
        [
            "[domain-name:value = 'examp1e.test']",
            "[ipv4-addr:value = '198.51.100.10']",
            "[ipv6-addr:value = '2001:db8::10']",
            "[url:value = 'https://examp1e.test/it\\'s-you']",
            "[email-addr:value = 'support@examp1e.test']",
            "[user-account:account_login = 'https://social.test/@examplebank_help']",
        ]
    );
    assert!(!out.contains("exarnple"), "unconfirmed finding left out");
    let report = objects.iter().find(|o| o["type"] == "report").unwrap();
    assert_eq!(report["name"], "Card phishing");
    assert_eq!(report["object_refs"].as_array().unwrap().len(), 6);

    // The same export again gives the same indicator ids.
    let (_, again, _) = vigie(
        &world,
        &[
            "export",
            "iocs",
            "--format",
            "stix",
            "--case",
            &case.to_string(),
        ],
        &[],
    );
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(bundle["objects"][1]["id"], again["objects"][1]["id"]);

    // The validator does reject a bundle that breaks the schema.
    let mut broken = bundle.clone();
    broken["objects"][1]["id"] = "indicator--not-a-uuid".into();
    broken["objects"][1]["created"] = "yesterday".into();
    let found = errors(&validator, &broken);
    assert!(!found.is_empty(), "the broken bundle passed");
}

#[tokio::test]
async fn misp_event_and_csv_carry_every_indicator() {
    let (world, case) = world_with_confirmed().await;
    let (ok, out, err) = vigie(&world, &["export", "iocs", "--format", "misp"], &[]);
    assert!(ok, "{err}");
    let event: Value = serde_json::from_str(&out).unwrap();
    let event = &event["Event"];
    assert_eq!(event["info"], "Confirmed findings");
    assert_eq!(event["Orgc"]["name"], "Example Test Bank");
    for key in [
        "uuid",
        "date",
        "threat_level_id",
        "analysis",
        "distribution",
        "timestamp",
    ] {
        assert!(event[key].is_string(), "{key}: {event}");
    }
    let attributes: Vec<(String, String, String)> = event["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap().to_owned(),
                a["category"].as_str().unwrap().to_owned(),
                a["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(attributes.len(), 6);
    assert!(attributes.contains(&(
        "domain".into(),
        "Network activity".into(),
        "examp1e.test".into()
    )));
    assert!(attributes.contains(&(
        "email-src".into(),
        "Payload delivery".into(),
        "support@examp1e.test".into()
    )));
    assert!(attributes.contains(&(
        "ip-dst".into(),
        "Network activity".into(),
        "2001:db8::10".into()
    )));

    let (ok, csv, err) = vigie(
        &world,
        &[
            "export",
            "iocs",
            "--format",
            "csv",
            "--case",
            &case.to_string(),
        ],
        &[],
    );
    assert!(ok, "{err}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("kind,value,defanged,finding,severity,imitates,first_seen,last_seen,reasons")
    );
    assert!(
        csv.contains(
            "\ndomain,examp1e.test,examp1e[.]test,1,high,example.test,2026-03-02T09:00:00.000Z,"
        ),
        "{csv}"
    );
    assert_eq!(lines.count(), 6);

    let events = world.store.case_events(case).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "iocs-exported" && e.text.contains("misp")),
        "{events:#?}"
    );
}
