//! The lessons-learned report: durations, notes, costs, indicators and the timeline, in
//! Markdown and HTML.

mod support;

use support::response::{Settings, T0, World, lookalike, vigie};
use vigie::case::report::{self, Format};
use vigie::case::takedown;
use vigie::case::triage::{self, NoteKind, Opening, Verdict};
use vigie::case::{Actor, FixedClock};
use vigie::store::{NewEvent, NewTakedown};

async fn closed_case(world: &World) -> i64 {
    let finding = world
        .record(lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0))
        .await;
    let clock = FixedClock::new(T0 + time::Duration::minutes(20));
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Card <phishing>".into(),
        summary: "Customers get a mail about a blocked card.".into(),
        vector: "phishing mail".into(),
        started_at: Some(T0 - time::Duration::days(1)),
    };
    let case = triage::open(&world.store, &actor, &opening, &[finding.to_string()]).unwrap();
    clock.advance(time::Duration::minutes(10));
    triage::triage(
        &world.store,
        &actor,
        &finding.to_string(),
        &Verdict::Confirm { case: None },
    )
    .unwrap();

    // A takedown recorded as sent at T0 + 1 h, answered and down at T0 + 5 h.
    let sent = T0 + time::Duration::hours(1);
    let record = NewTakedown {
        case_id: case,
        finding_id: finding,
        target: "examp1e.test",
        contact: "parking-abuse",
        role: "hosting",
        recipient: "soc@example.test",
        language: "fr",
        country: "FR",
        message_id: "vigie-1-00000001@example.test",
        subject: "Fraude",
        sent_at: sent,
        deadline_at: sent + time::Duration::hours(48),
    };
    let event = NewEvent {
        at: sent,
        author: "alice",
        kind: "takedown-sent",
        text: "Takedown sent.".into(),
        data: serde_json::json!({}),
    };
    let id = world.store.record_takedown(&record, &event).unwrap();
    clock.set(T0 + time::Duration::hours(5));
    takedown::record_outcome(&world.store, &actor, id, true, "").unwrap();

    triage::note(
        &world.store,
        &actor,
        case,
        NoteKind::WentWell,
        "Hoster answered the same day.",
    )
    .unwrap();
    triage::note(
        &world.store,
        &actor,
        case,
        NoteKind::WentWrong,
        "The SMS vector was seen late | no feed.",
    )
    .unwrap();
    triage::cost(&world.store, &actor, case, 1200.0, "EUR", "Analyst time").unwrap();
    triage::cost(&world.store, &actor, case, 300.5, "eur", "Customer refunds").unwrap();
    triage::cost(
        &world.store,
        &actor,
        case,
        99.0,
        "USD",
        "Brand-protection service",
    )
    .unwrap();
    triage::close(
        &world.store,
        &actor,
        case,
        "site down, no new victims",
        false,
    )
    .unwrap();
    case
}

#[tokio::test]
async fn markdown_report_has_metrics_notes_costs_and_timeline() {
    let world = World::new(&Settings::default());
    let case = closed_case(&world).await;
    let metrics = report::metrics(&world.store, case).unwrap();
    assert_eq!(metrics.time_to_detect, "1 d");
    assert_eq!(metrics.time_to_first_action, "30 min");
    assert_eq!(metrics.time_to_takedown, "5 h");

    let text = report::render(
        &world.store,
        &world.config,
        case,
        Format::Md,
        T0 + time::Duration::days(2),
    )
    .unwrap();
    for expected in [
        "# Lessons learned: Card <phishing>",
        "| Initial vector | phishing mail |",
        "| Time to detect | 1 d |",
        "| Time to first action | 30 min |",
        "| Time to takedown | 5 h |",
        "| First action | 2026-03-02T09:30:00Z (Finding 1 confirmed as a scam: examp1e[.]test.) |",
        "- Hoster answered the same day. (alice, 2026-03-02T14:00:00Z)",
        "- Analyst time: 1200.00 EUR",
        "Total: 1500.50 EUR",
        "Total: 99.00 USD",
        "| 1 | `examp1e[.]test` | example.test | high | confirmed | 2026-03-02T09:00:00Z |",
        "- `examp1e[.]test`: down (down since 2026-03-02T14:00:00Z (takedown 1); not checked yet)",
        "answered after 4.0 h, down",
        "- domain: `examp1e[.]test`",
        "- ip: `198[.]51[.]100[.]10`",
        "| 2026-03-02T09:00:00Z | vigie | finding-new |",
        "The SMS vector was seen late \\| no feed.",
        "| alice | closed | Case closed: site down, no new victims |",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[tokio::test]
async fn html_report_escapes_and_binary_writes_it() {
    let world = World::new(&Settings::default());
    let case = closed_case(&world).await;
    let output = world.dir.path().join("report.html");
    let (ok, _, err) = vigie(
        &world,
        &[
            "report",
            "case",
            &case.to_string(),
            "--format",
            "html",
            "-o",
            output.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(&output).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<h1>Lessons learned: Card &lt;phishing&gt;</h1>"),
        "{html}"
    );
    assert!(
        html.contains("<tr><th>Time to takedown</th><td>5 h</td></tr>"),
        "{html}"
    );
    assert!(!html.contains("<phishing>"));

    let (ok, _, err) = vigie(&world, &["report", "case", "77"], &[]);
    assert!(!ok);
    assert!(err.contains("no case 77"), "{err}");
}

#[tokio::test]
async fn report_of_a_young_case_says_what_is_missing() {
    let world = World::new(&Settings::default());
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Just opened".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &actor, &opening, &[]).unwrap();
    let text = report::render(&world.store, &world.config, case, Format::Md, T0).unwrap();
    assert!(
        text.contains("| Time to detect | unknown (no campaign start recorded) |"),
        "{text}"
    );
    assert!(
        text.contains("| Time to first action | no action yet |"),
        "{text}"
    );
    assert!(text.contains("No cost recorded"), "{text}");
    assert!(text.contains("No takedown notice sent."), "{text}");
}
