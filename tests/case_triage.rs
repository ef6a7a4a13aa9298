//! Cases, triage and the stored allow list, through the library and through the binary.

mod support;

use support::response::{Settings, T0, World, lookalike, vigie};
use vigie::case::triage::{self, NoteKind, Opening, Verdict};
use vigie::case::{Actor, CaseError, FixedClock};
use vigie::pipeline::Submitted;

fn actor<'a>(clock: &'a FixedClock, author: &'a str) -> Actor<'a> {
    Actor { author, clock }
}

#[tokio::test]
async fn case_timeline_holds_events_history_and_alerts_in_order() {
    let world = World::new(&Settings::default());
    let first = world
        .record(lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0))
        .await;
    let clock = FixedClock::new(T0 + time::Duration::minutes(20));
    let alice = actor(&clock, "alice");

    let opening = Opening {
        title: "Fake login pages".into(),
        summary: "Mails ask customers to confirm their card on a copy of the login page.".into(),
        vector: "phishing mail".into(),
        started_at: Some(T0 - time::Duration::days(1)),
    };
    let case = triage::open(&world.store, &alice, &opening, &[first.to_string()]).unwrap();
    clock.advance(time::Duration::minutes(5));
    let bob = actor(&clock, "bob");
    triage::note(
        &world.store,
        &bob,
        case,
        NoteKind::WentWell,
        "Alert read within minutes.",
    )
    .unwrap();

    // The same lookalike gains an MX record: the history entry shows in the case.
    world
        .record(lookalike(
            "examp1e.test",
            &[("a", &["198.51.100.10"]), ("mx", &["mail.examp1e.test"])],
            T0 + time::Duration::hours(1),
        ))
        .await;

    let entries = vigie::case::timeline::timeline(&world.store, case).unwrap();
    assert!(entries.windows(2).all(|w| w[0].at <= w[1].at));
    // Alerts carry the wall-clock time they were queued at, so they are checked apart.
    let (alerts, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.kind == "alert");
    assert_eq!(
        alerts.len(),
        2,
        "one alert for the new finding, one for its change"
    );
    assert!(
        alerts.iter().all(|a| a.text.contains("soc-mail")),
        "{alerts:#?}"
    );
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "finding-new",
            "opened",
            "finding-added",
            "went-well",
            "finding-changed"
        ],
        "{entries:#?}"
    );
    assert_eq!(entries[1].author, "alice");
    assert_eq!(entries[3].author, "bob");
    assert!(
        entries[4].text.contains("+MX mail[.]examp1e[.]test"),
        "{}",
        entries[4].text
    );
}

#[tokio::test]
async fn confirm_adds_to_case_and_records_on_the_timeline() {
    let world = World::new(&Settings::default());
    let id = world.record(lookalike("examp1e.test", &[], T0)).await;
    let clock = FixedClock::new(T0);
    let alice = actor(&clock, "alice");
    let opening = Opening {
        title: "Campaign".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &alice, &opening, &[]).unwrap();

    let done = triage::triage(
        &world.store,
        &alice,
        &id.to_string(),
        &Verdict::Confirm { case: Some(case) },
    )
    .unwrap();

    assert_eq!(done.cases, [case]);
    assert_eq!(
        world.store.finding(id).unwrap().unwrap().status,
        "confirmed"
    );
    assert_eq!(world.store.confirmed_findings(Some(case)).unwrap().len(), 1);
    let events = world.store.case_events(case).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "finding-added", "confirmed"]);
}

#[tokio::test]
async fn false_positive_allow_listed_never_records_again() {
    let world = World::new(&Settings::default());
    let finding = lookalike("example-shop.test", &[("a", &["203.0.113.5"])], T0);
    let id = world.record(finding.clone()).await;
    let clock = FixedClock::new(T0);

    let done = triage::triage(
        &world.store,
        &actor(&clock, "alice"),
        &finding.fingerprint,
        &Verdict::FalsePositive {
            allow: true,
            reason: "the company's own shop, run by a partner".into(),
        },
    )
    .unwrap();
    assert_eq!(done.allow_listed.as_deref(), Some("example-shop.test"));
    assert_eq!(
        world.store.finding(id).unwrap().unwrap().status,
        "false-positive"
    );

    // The same name, a subdomain of it, and the same name with new records are all dropped.
    let again = lookalike(
        "example-shop.test",
        &[("a", &["203.0.113.9"])],
        T0 + time::Duration::hours(2),
    );
    let under = lookalike("www.example-shop.test", &[], T0 + time::Duration::hours(2));
    for finding in [again, under] {
        let outcome = world.pipeline().submit(finding).await.unwrap();
        assert_eq!(outcome, Submitted::AllowListed);
    }
    let outbox = world.store.outbox_for_finding(id).unwrap();
    assert_eq!(outbox.len(), 1, "only the first sighting alerted");

    // A name that merely ends with the same letters is not under it.
    let other = lookalike("myexample-shop.test", &[], T0);
    assert!(matches!(
        world.pipeline().submit(other).await.unwrap(),
        Submitted::Recorded { .. }
    ));
}

#[tokio::test]
async fn false_positive_without_allow_still_records() {
    let world = World::new(&Settings::default());
    let finding = lookalike("exarnple.test", &[], T0);
    let id = world.record(finding.clone()).await;
    let clock = FixedClock::new(T0);
    triage::triage(
        &world.store,
        &actor(&clock, "alice"),
        &id.to_string(),
        &Verdict::FalsePositive {
            allow: false,
            reason: String::new(),
        },
    )
    .unwrap();
    assert!(world.store.allow_list().unwrap().is_empty());
    assert!(matches!(
        world.pipeline().submit(finding).await.unwrap(),
        Submitted::Recorded { .. }
    ));
}

#[tokio::test]
async fn bad_case_input_is_refused_with_the_fix() {
    let world = World::new(&Settings::default());
    let id = world.record(lookalike("examp1e.test", &[], T0)).await;
    let clock = FixedClock::new(T0);
    let alice = actor(&clock, "alice");

    let error = triage::open(&world.store, &alice, &Opening::default(), &[]).unwrap_err();
    assert!(error.to_string().contains("--title"), "{error}");

    let opening = Opening {
        title: "Campaign".into(),
        ..Opening::default()
    };
    let error =
        triage::open(&world.store, &alice, &opening, &["nosuchfinding".into()]).unwrap_err();
    assert!(matches!(error, CaseError::NoFinding(_)), "{error}");
    assert!(error.to_string().contains("vigie findings"), "{error}");
    assert!(
        world.store.cases(true).unwrap().is_empty(),
        "nothing written"
    );

    let case = triage::open(&world.store, &alice, &opening, &[]).unwrap();
    let error = triage::cost(&world.store, &alice, case, 10.0, "euros", "x").unwrap_err();
    assert!(error.to_string().contains("ISO 4217"), "{error}");
    triage::close(&world.store, &alice, case, "done", false).unwrap();
    let error = triage::add(&world.store, &alice, case, &[id.to_string()]).unwrap_err();
    assert!(error.to_string().contains("vigie case reopen"), "{error}");
    let error = triage::add(&world.store, &alice, 999, &[id.to_string()]).unwrap_err();
    assert!(matches!(error, CaseError::NoCase(999)), "{error}");
}

#[tokio::test]
async fn binary_records_the_author_from_flag_env_and_login() {
    let world = World::new(&Settings::default());
    let id = world.record(lookalike("examp1e.test", &[], T0)).await;

    let (ok, out, err) = vigie(
        &world,
        &[
            "case",
            "open",
            "--title",
            "Lookalike campaign",
            "--vector",
            "SMS",
        ],
        &[("VIGIE_AUTHOR", "carol")],
    );
    assert!(ok, "{err}");
    let case = out.trim().to_owned();
    let (ok, _, err) = vigie(
        &world,
        &[
            "triage",
            &id.to_string(),
            "--confirm",
            "--case",
            &case,
            "--author",
            "dave",
        ],
        &[("VIGIE_AUTHOR", "carol")],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = vigie(&world, &["case", "note", &case, "Called the hoster."], &[]);
    assert!(ok, "{err}");

    let events = world.store.case_events(case.parse().unwrap()).unwrap();
    let authors: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.author.as_str()))
        .collect();
    let login = vigie::case::author(None);
    assert_eq!(
        authors,
        [
            ("opened", "carol"),
            ("finding-added", "dave"),
            ("confirmed", "dave"),
            ("note", login.as_str())
        ]
    );

    let (ok, out, err) = vigie(&world, &["case", "show", &case], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("Initial vector: SMS"), "{out}");
    assert!(out.contains("examp1e[.]test"), "{out}");
    assert!(out.contains("Still up (1 of 1)"), "{out}");

    let (ok, _, err) = vigie(&world, &["triage", "12345", "--confirm"], &[]);
    assert!(!ok);
    assert!(err.contains("no finding \"12345\""), "{err}");
}
