//! The SQLite store: recording sightings, the outbox written with them, migrations, cursors.

use std::collections::BTreeSet;
use std::path::Path;

use time::OffsetDateTime;
use time::macros::datetime;
use vigie::alert;
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::{HistoryEvent, Recorded, Store, StoreError, schema};

fn lookalike(subject: &str, facts: &[(&str, &[&str])], at: OffsetDateTime) -> Finding {
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "example.com".into(),
        techniques: vec!["homoglyph".into()],
        reasons: vec![format!("homoglyph of example.com: {subject}")],
        severity: Severity::Medium,
        score: 60,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: facts
            .iter()
            .map(|(name, values)| {
                let values: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
                (name.to_string(), values)
            })
            .collect(),
        evidence: serde_json::json!({ "resolved_at": at.unix_timestamp() }),
        observed_at: at,
    }
}

fn sinks(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn open(dir: &Path) -> Store {
    Store::open(&dir.join("vigie.db")).expect("open store")
}

const T0: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);
const T1: OffsetDateTime = datetime!(2026-03-01 11:00 UTC);
const T2: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

#[test]
fn new_finding_writes_one_alert_per_sink() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);

    let recorded = store
        .record_finding(&finding, &sinks(&["mail", "hook", "mail"]), &alert::render)
        .unwrap();

    let Recorded::New { finding_id } = recorded else {
        panic!("expected a new finding, got {recorded:?}");
    };
    let rows = store.outbox_for_finding(finding_id).unwrap();
    let names: Vec<&str> = rows.iter().map(|row| row.sink.as_str()).collect();
    assert_eq!(names, ["hook", "mail"], "one row per distinct sink");
    let key = format!("{}-r1", finding.fingerprint);
    for row in &rows {
        assert_eq!(row.idempotency_key, key);
        assert_eq!(row.payload["idempotency_key"], key.as_str());
        assert_eq!(row.payload["event"], "new");
        assert_eq!(row.payload["subject_defanged"], "examp1e[.]com");
        assert_eq!(row.attempts, 0);
    }

    let stored = store.finding(finding_id).unwrap().expect("finding stored");
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.sightings, 1);
    assert_eq!(stored.first_seen, T0);
    assert_eq!(stored.status, "open");
    let history = store.history(finding_id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event, HistoryEvent::New);
}

#[test]
fn same_facts_update_last_seen_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    let id = store
        .record_finding(&first, &sinks(&["mail"]), &alert::render)
        .unwrap()
        .finding_id();

    let again = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T1);
    let recorded = store
        .record_finding(&again, &sinks(&["mail"]), &alert::render)
        .unwrap();

    assert_eq!(recorded, Recorded::Unchanged { finding_id: id });
    let stored = store.finding(id).unwrap().unwrap();
    assert_eq!(stored.first_seen, T0);
    assert_eq!(stored.last_seen, T1);
    assert_eq!(stored.sightings, 2);
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.evidence, again.evidence, "evidence is replaced");
    assert_eq!(
        store.outbox_for_finding(id).unwrap().len(),
        1,
        "no new alert"
    );
    assert_eq!(store.history(id).unwrap().len(), 1, "no history entry");
}

#[test]
fn gained_fact_alerts_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut first = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    first.severity = Severity::High;
    let id = store
        .record_finding(&first, &sinks(&["mail"]), &alert::render)
        .unwrap()
        .finding_id();

    // The new sighting scores lower, but gained an MX record.
    let mut again = lookalike(
        "examp1e.com",
        &[("a", &["192.0.2.10"]), ("mx", &["mail.examp1e.com"])],
        T1,
    );
    again.severity = Severity::Medium;
    let recorded = store
        .record_finding(&again, &sinks(&["mail"]), &alert::render)
        .unwrap();

    let Recorded::Changed {
        finding_id,
        changes,
    } = recorded
    else {
        panic!("expected a change, got {recorded:?}");
    };
    assert_eq!(finding_id, id);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].fact, "mx");
    assert!(changes[0].before.is_empty());
    assert!(changes[0].after.contains("mail.examp1e.com"));

    let stored = store.finding(id).unwrap().unwrap();
    assert_eq!(stored.revision, 2);
    assert_eq!(stored.severity, Severity::High, "severity never lowered");

    let rows = store.outbox_for_finding(id).unwrap();
    assert_eq!(rows.len(), 2);
    let alert = &rows[1].payload;
    assert_eq!(rows[1].idempotency_key, format!("{}-r2", first.fingerprint));
    assert_eq!(alert["event"], "changed");
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["revision"], 2);
    assert_eq!(alert["first_seen"], "2026-03-01T10:00:00Z");
    assert_eq!(alert["changes"][0]["added"][0], "mail.examp1e.com");

    let history = store.history(id).unwrap();
    let events: Vec<HistoryEvent> = history.iter().map(|entry| entry.event).collect();
    assert_eq!(events, [HistoryEvent::New, HistoryEvent::Changed]);
    assert_eq!(history[1].changes, changes);
}

#[test]
fn lost_fact_recorded_without_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let both = &[
        ("a", &["192.0.2.10"][..]),
        ("mx", &["mail.examp1e.com"][..]),
    ];
    let first = lookalike("examp1e.com", both, T0);
    let id = store
        .record_finding(&first, &sinks(&["mail"]), &alert::render)
        .unwrap()
        .finding_id();

    let parked = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T1);
    let recorded = store
        .record_finding(&parked, &sinks(&["mail"]), &alert::render)
        .unwrap();

    assert_eq!(recorded, Recorded::Unchanged { finding_id: id });
    assert_eq!(store.outbox_for_finding(id).unwrap().len(), 1, "no alert");
    let history = store.history(id).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].event, HistoryEvent::SeenRemoval);
    assert_eq!(history[1].changes[0].fact, "mx");
    assert!(history[1].changes[0].after.is_empty());
    let stored = store.finding(id).unwrap().unwrap();
    assert_eq!(stored.revision, 1);
    assert!(
        !stored.facts.contains_key("mx"),
        "facts follow the last sighting"
    );

    // The MX record coming back was seen before: recorded in the history, not alerted, as
    // round-robin DNS answers and restored records would otherwise alert on every sweep.
    let back = lookalike("examp1e.com", both, T2);
    let recorded = store
        .record_finding(&back, &sinks(&["mail"]), &alert::render)
        .unwrap();
    assert_eq!(recorded, Recorded::Unchanged { finding_id: id });
    assert_eq!(store.outbox_for_finding(id).unwrap().len(), 1, "no alert");
    let history = store.history(id).unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].changes[0].fact, "mx");
    assert!(!history[2].changes[0].after.is_empty());

    // An MX host never seen before is a gain, and alerts.
    let moved = lookalike(
        "examp1e.com",
        &[
            ("a", &["192.0.2.10"][..]),
            ("mx", &["mx.other-host.example"][..]),
        ],
        T2,
    );
    let recorded = store
        .record_finding(&moved, &sinks(&["mail"]), &alert::render)
        .unwrap();
    assert!(matches!(recorded, Recorded::Changed { .. }), "{recorded:?}");
    assert_eq!(store.outbox_for_finding(id).unwrap().len(), 2);
}

#[test]
fn round_robin_addresses_alert_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let pool = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
    let mut alerts = 0;
    // A CDN answers two of three addresses per query, rotating, over nine sweeps.
    for sweep in 0..9 {
        let answer = [pool[sweep % 3], pool[(sweep + 1) % 3]];
        let finding = lookalike("examp1e.com", &[("a", &answer[..])], T0);
        let recorded = store
            .record_finding(&finding, &sinks(&["mail"]), &alert::render)
            .unwrap();
        if !matches!(recorded, Recorded::Unchanged { .. }) {
            alerts += 1;
        }
    }
    // The first sighting, then the third address once.
    assert_eq!(alerts, 2);
}

#[test]
fn empty_sink_list_records_without_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);

    let id = store
        .record_finding(&finding, &[], &alert::render)
        .unwrap()
        .finding_id();

    assert!(store.finding(id).unwrap().is_some());
    assert!(store.outbox_for_finding(id).unwrap().is_empty());
}

#[test]
fn failed_outbox_insert_rolls_back_finding() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // A second connection adds a trigger that rejects rows for the sink "broken", so the
    // second outbox insert of the transaction fails after the finding and the first row.
    let side = rusqlite::Connection::open(dir.path().join("vigie.db")).unwrap();
    side.execute_batch(
        "CREATE TRIGGER reject_broken BEFORE INSERT ON outbox WHEN NEW.sink = 'broken'
         BEGIN SELECT RAISE(ABORT, 'sink rejected'); END;",
    )
    .unwrap();
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);

    let error = store
        .record_finding(&finding, &sinks(&["broken", "alpha"]), &alert::render)
        .expect_err("the trigger must fail the transaction");

    assert!(error.to_string().contains("sink rejected"), "{error}");
    assert!(store.findings().unwrap().is_empty(), "finding rolled back");
    assert_eq!(
        store.outbox_stats().unwrap().pending,
        0,
        "no alert row left"
    );
    let history: i64 = side
        .query_row("SELECT COUNT(*) FROM finding_history", [], |row| row.get(0))
        .unwrap();
    assert_eq!(history, 0, "history rolled back");
}

#[test]
fn reopened_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    let id = {
        let store = open(dir.path());
        store.set_cursor("ct", "argon2026", "4096").unwrap();
        store
            .record_finding(&finding, &sinks(&["mail"]), &alert::render)
            .unwrap()
            .finding_id()
    };

    let store = open(dir.path());

    let stored = store.finding(id).unwrap().expect("finding survives reopen");
    assert_eq!(stored.subject, "examp1e.com");
    assert_eq!(stored.facts, finding.facts);
    assert_eq!(stored.indicators, finding.indicators);
    assert_eq!(stored.reasons, finding.reasons);
    assert_eq!(store.history(id).unwrap().len(), 1);
    assert_eq!(
        store
            .due_alerts(T2 + time::Duration::days(3650), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.cursor("ct", "argon2026").unwrap().as_deref(),
        Some("4096")
    );
    let found = store.finding_by_fingerprint(&finding.fingerprint).unwrap();
    assert_eq!(found.map(|f| f.id), Some(id));
}

#[test]
fn open_creates_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/nested/vigie.db");

    let store = Store::open(&path).unwrap();

    assert!(path.exists());
    assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
}

#[test]
fn old_schema_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    {
        // A store as version 1 wrote it, with one finding.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "INSERT INTO findings (fingerprint, kind, source, watchlist, subject, imitates,
                 techniques, reasons, severity, score, indicators, facts, evidence, first_seen,
                 last_seen, revision, sightings)
             VALUES ('f1', 'lookalike-domain', 'lookalike', 'acme', 'examp1e.com',
                 'example.com', '[]', '[]', 'low', 10, '[]', '{}', 'null', 0, 0, 1, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }

    let store = Store::open(&path).unwrap();

    assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
    let findings = store.findings().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].subject, "examp1e.com");
    assert_eq!(findings[0].status, "open", "column added by version 2");
}

#[test]
fn newer_schema_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();

    let error = Store::open(&path).expect_err("a newer schema must be rejected");

    assert!(
        matches!(error, StoreError::TooNew { found: 99, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("vigie.db"), "{text}");
    assert!(text.contains("schema version 99"), "{text}");
    assert!(text.contains("run a newer vigie"), "{text}");
}

#[test]
fn non_database_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();

    let error = Store::open(&path).expect_err("a file that is not SQLite must be rejected");

    assert!(error.to_string().contains("vigie.db"), "{error}");
}

#[test]
fn due_alerts_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for subject in ["first.example", "second.example", "third.example"] {
        let finding = lookalike(subject, &[("a", &["192.0.2.10"])], T0);
        store
            .record_finding(&finding, &sinks(&["mail"]), &alert::render)
            .unwrap();
    }
    let now = OffsetDateTime::now_utc();

    let due = store.due_alerts(now, 10).unwrap();
    let subjects: Vec<&str> = due
        .iter()
        .map(|row| row.payload["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["first.example", "second.example", "third.example"]
    );
    assert_eq!(store.due_alerts(now, 2).unwrap().len(), 2, "limit applies");

    // Rows not yet due are left out.
    store
        .mark_failed(
            due[0].id,
            "connection refused",
            now + time::Duration::minutes(5),
        )
        .unwrap();
    let due_now: Vec<i64> = store
        .due_alerts(now, 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due_now, [due[1].id, due[2].id]);
}

#[test]
fn failed_alert_is_retried_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    store
        .record_finding(&finding, &sinks(&["mail"]), &alert::render)
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let row = store.due_alerts(now, 1).unwrap().remove(0);
    let retry_at = now + time::Duration::seconds(10);

    store
        .mark_failed(row.id, "smtp: connection refused", retry_at)
        .unwrap();

    let later = store.due_alerts(retry_at, 1).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 1);
    assert_eq!(
        later[0].last_error.as_deref(),
        Some("smtp: connection refused")
    );
    let next = store.next_attempt_at().unwrap().expect("a pending retry");
    assert!(
        (next - retry_at).abs() < time::Duration::milliseconds(2),
        "{next}"
    );
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.pending, stats.failing, stats.delivered), (1, 1, 0));

    store.mark_delivered(row.id, retry_at).unwrap();
    assert!(store.due_alerts(retry_at, 1).unwrap().is_empty());
    assert_eq!(store.next_attempt_at().unwrap(), None);
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.pending, stats.failing, stats.delivered), (0, 0, 1));

    // A late failure report for a delivered row changes nothing.
    store.mark_failed(row.id, "late", retry_at).unwrap();
    assert_eq!(store.outbox_stats().unwrap().delivered, 1);
}

#[test]
fn due_alerts_for_skips_other_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    store
        .record_finding(&finding, &sinks(&["mail", "removed"]), &alert::render)
        .unwrap();
    let now = OffsetDateTime::now_utc();

    let due = store.due_alerts_for(&sinks(&["mail"]), now, 10).unwrap();

    assert_eq!(due.len(), 1);
    assert_eq!(due[0].sink, "mail");
    assert_eq!(store.pending_sinks().unwrap(), ["mail", "removed"]);
    assert!(
        store
            .next_attempt_at_for(&sinks(&["other"]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn cursor_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());

    assert_eq!(store.cursor("feed", "etag").unwrap(), None);
    store.set_cursor("feed", "etag", "\"abc\"").unwrap();
    store.set_cursor("feed", "etag", "\"def\"").unwrap();

    assert_eq!(
        store.cursor("feed", "etag").unwrap().as_deref(),
        Some("\"def\"")
    );
    assert_eq!(store.cursor("other", "etag").unwrap(), None);
}

#[test]
fn corrupt_payload_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    let id = store
        .record_finding(&finding, &sinks(&["mail"]), &alert::render)
        .unwrap()
        .finding_id();
    rusqlite::Connection::open(dir.path().join("vigie.db"))
        .unwrap()
        .execute("UPDATE outbox SET payload = '{broken'", [])
        .unwrap();

    let error = store
        .outbox_for_finding(id)
        .expect_err("broken JSON must be reported");

    let text = error.to_string();
    assert!(text.contains("payload"), "{text}");
    assert!(text.contains("outbox row"), "{text}");
}

#[test]
fn findings_table_defangs_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    store
        .record_finding(&finding, &["soc".to_owned()], &alert::render)
        .unwrap();
    let findings = store.findings().unwrap();
    let alerts: Vec<_> = findings
        .iter()
        .map(|f| store.outbox_for_finding(f.id).unwrap())
        .collect();

    let mut table = Vec::new();
    vigie::cli::findings::write_table(&mut table, &findings, &alerts).unwrap();
    let mut lines = Vec::new();
    vigie::cli::findings::write_json_lines(&mut lines, &findings, &alerts).unwrap();

    let table = String::from_utf8(table).unwrap();
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("examp1e[.]com"), "{table}");
    assert!(!table.contains("examp1e.com"), "{table}");
    assert!(table.contains("2026-03-01T10:00:00Z"), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&lines).unwrap();
    assert_eq!(json["subject_defanged"], "examp1e[.]com");
    assert_eq!(json["severity"], "medium");
    assert_eq!(json["revision"], 1);
    assert!(table.contains("0/1 sent"), "{table}");
    assert_eq!(json["alerts"][0]["sink"], "soc");
    assert!(json["alerts"][0]["delivered_at"].is_null());

    // Once delivered, the table says so.
    store.mark_delivered(alerts[0][0].id, T0).unwrap();
    let alerts = vec![store.outbox_for_finding(findings[0].id).unwrap()];
    let mut table = Vec::new();
    vigie::cli::findings::write_table(&mut table, &findings, &alerts).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("1/1 sent"), "{table}");
}

/// Set in the child process of `committed_alert_survives_kill` to the store path.
const KILL_CHILD_ENV: &str = "VIGIE_TEST_KILLED_WRITER_STORE";

#[test]
fn committed_alert_survives_kill() {
    if let Some(path) = std::env::var_os(KILL_CHILD_ENV) {
        // Child: commit one finding with its alert, report it, and wait to be killed.
        let store = Store::open(Path::new(&path)).unwrap();
        let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
        store
            .record_finding(&finding, &sinks(&["mail"]), &alert::render)
            .unwrap();
        println!("RECORDED");
        std::thread::sleep(std::time::Duration::from_secs(60));
        return;
    }

    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["committed_alert_survives_kill", "--exact", "--nocapture"])
        .env(KILL_CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let recorded = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("RECORDED"));
    assert!(recorded, "the child did not record its finding");

    // SIGKILL: no destructor runs, the connection is never closed cleanly.
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(&path).unwrap();
    let due = store
        .due_alerts(OffsetDateTime::now_utc() + time::Duration::hours(1), 10)
        .unwrap();
    assert_eq!(due.len(), 1, "the committed alert survives");
    assert_eq!(store.findings().unwrap().len(), 1);
}

fn config_with_state_dir(state_dir: &Path) -> vigie::config::Config {
    use vigie::config::*;
    let lookalike = LookalikeConfig {
        interval_secs: 3600,
        jitter_secs: 300,
        fuzzers: Vec::new(),
        dictionary: true,
        dictionary_file: None,
        tld_swap: true,
        tld_file: None,
    };
    Config {
        path: state_dir.join("vigie.toml"),
        daemon: DaemonConfig {
            state_dir: state_dir.to_owned(),
            watchlists_dir: state_dir.join("watchlists"),
            log_format: LogFormat::Text,
            shutdown_grace_secs: 10,
        },
        dns: DnsConfig {
            nameservers: Vec::new(),
            timeout_ms: 2000,
            attempts: 2,
            concurrency: 100,
        },
        lookalike,
        dispatcher: DispatcherConfig {
            retry_initial_secs: 5,
            retry_max_secs: 900,
        },
        health: HealthConfig {
            listen: None,
            blind_after_secs: 21_600,
            sinks: Vec::new(),
        },
        sinks: Default::default(),
        sink_policies: Default::default(),
        nrd: Default::default(),
        feeds: Default::default(),
        scam_repositories: Default::default(),
        social: Default::default(),
        inboxes: Default::default(),
        intake: None,
        mail: Default::default(),
        ct: None,
        fetch: Default::default(),
        evidence: Default::default(),
        rdap: Default::default(),
        watchlists: Vec::new(),
        response: Default::default(),
    }
}

#[test]
fn findings_command_without_store_explains() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_state_dir(&dir.path().join("state"));
    let args = vigie::cli::findings::FindingsArgs {
        config: vigie::cli::ConfigArgs {
            config: config.path.clone(),
        },
        format: vigie::cli::findings::Format::Json,
    };

    let error = vigie::cli::findings::run(&args, &config).expect_err("no store yet");

    let text = error.to_string();
    assert!(text.contains("no store at"), "{text}");
    assert!(text.contains("vigie.db"), "{text}");
    assert!(text.contains("state_dir"), "{text}");
    assert!(
        !dir.path().join("state").exists(),
        "the listing creates nothing"
    );
}

#[test]
fn findings_command_reads_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let finding = lookalike("examp1e.com", &[("a", &["192.0.2.10"])], T0);
    store.record_finding(&finding, &[], &alert::render).unwrap();
    let config = config_with_state_dir(dir.path());

    let mut text = Vec::new();
    let text_args = vigie::cli::findings::FindingsArgs {
        config: vigie::cli::ConfigArgs {
            config: config.path.clone(),
        },
        format: vigie::cli::findings::Format::Text,
    };
    vigie::cli::findings::write_findings(&text_args, &config, &mut text).unwrap();
    let mut json = Vec::new();
    let json_args = vigie::cli::findings::FindingsArgs {
        config: vigie::cli::ConfigArgs {
            config: config.path.clone(),
        },
        format: vigie::cli::findings::Format::Json,
    };
    vigie::cli::findings::write_findings(&json_args, &config, &mut json).unwrap();

    let text = String::from_utf8(text).unwrap();
    assert_eq!(text.lines().count(), 2, "header and one finding:\n{text}");
    assert!(text.contains("examp1e[.]com"), "{text}");
    let line: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(line["subject"], "examp1e.com");
    assert_eq!(line["imitates"], "example.com");
}

#[test]
fn two_daemons_record_same_findings() {
    // Two processes on one store file: each has its own connection, and both record the
    // same lookalikes at once, as two daemons started on one state folder would.
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let second = open(dir.path());
    let subjects: Vec<String> = (0..200).map(|i| format!("examp1e{i}.com")).collect();

    let failures = std::thread::scope(|scope| {
        let workers: Vec<_> = [&first, &second]
            .into_iter()
            .map(|store| {
                let subjects = &subjects;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for subject in subjects {
                        let finding = lookalike(subject, &[("a", &["192.0.2.10"])], T0);
                        if let Err(error) =
                            store.record_finding(&finding, &sinks(&["hook"]), &alert::render)
                        {
                            failures.push(format!("{subject}: {error}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect::<Vec<_>>()
    });

    assert!(failures.is_empty(), "failed sightings: {failures:?}");
    assert_eq!(first.findings().unwrap().len(), 200);
    let stats = first.outbox_stats().unwrap();
    assert_eq!(stats.pending, 200, "one alert per finding, none duplicated");
}

#[test]
fn two_daemons_open_new_store() {
    // Both processes find an empty file and create the schema at the same time.
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<Result<Store, StoreError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        Store::open(&dir.path().join("vigie.db"))
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap())
                .collect()
        });
        for result in results {
            let store = result.unwrap_or_else(|error| panic!("round {round}: {error}"));
            assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
        }
    }
}
