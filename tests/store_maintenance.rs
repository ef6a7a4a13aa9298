//! Backup, check, vacuum and restore of the SQLite store, while a writer is busy.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;
use vigie::alert;
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::{MaintenanceError, Store, check_file};

fn finding(subject: &str) -> Finding {
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "example.com".into(),
        techniques: vec!["addition".into()],
        reasons: vec![format!("addition of example.com: {subject}")],
        severity: Severity::Medium,
        score: 60,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: Default::default(),
        evidence: serde_json::json!({ "padding": "x".repeat(2_000) }),
        observed_at: OffsetDateTime::now_utc(),
    }
}

fn record(store: &Store, subject: &str) {
    store
        .record_finding(&finding(subject), &["soc".to_owned()], &alert::render)
        .expect("record finding");
}

fn count(store: &Store) -> usize {
    store.findings().expect("list findings").len()
}

fn open(path: &Path) -> Store {
    Store::open(path).expect("open store")
}

#[test]
fn backup_during_writes_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir.path().join("vigie.db")));
    for i in 0..500 {
        record(&store, &format!("before{i}.example"));
    }

    // A writer keeps committing findings while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut written = 0;
            while !stop.load(Ordering::Relaxed) {
                record(&store, &format!("during{written}.example"));
                written += 1;
            }
            written
        })
    };
    let backup = dir.path().join("backup.db");
    let report = store.backup_to(&backup).expect("backup");
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();

    assert!(report.findings >= 500, "{report:?}");
    assert!(report.findings as usize <= 500 + written, "{report:?}");
    assert!(!dir.path().join("backup.db.partial").exists());
    assert!(
        !dir.path().join("backup.db-wal").exists(),
        "a backup is one file"
    );
    let copy = open(&backup);
    assert_eq!(count(&copy), report.findings as usize);
    assert!(copy.integrity_problems().unwrap().is_empty());
    // Every outbox row came with its finding.
    let first = &copy.findings().unwrap()[0];
    assert_eq!(copy.outbox_for_finding(first.id).unwrap().len(), 1);
}

#[test]
fn backup_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("vigie.db"));
    record(&store, "one.example");
    let backup = dir.path().join("backup.db");
    std::fs::write(&backup, b"older backup").unwrap();

    let error = store.backup_to(&backup).expect_err("existing file kept");

    assert!(matches!(error, MaintenanceError::Exists { .. }), "{error}");
    assert_eq!(std::fs::read(&backup).unwrap(), b"older backup");
}

#[test]
fn restore_brings_back_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let store = open(&path);
    for i in 0..3 {
        record(&store, &format!("kept{i}.example"));
    }
    let backup = dir.path().join("backup.db");
    store.backup_to(&backup).unwrap();
    record(&store, "later.example");
    assert_eq!(count(&store), 4);

    let report = store.restore_from(&backup).expect("restore");

    assert_eq!(report.findings, 3);
    assert_eq!(count(&store), 3);
    drop(store);
    // The restored store is a normal store for the next start.
    let reopened = open(&path);
    assert_eq!(count(&reopened), 3);
    record(&reopened, "after-restore.example");
    assert_eq!(count(&reopened), 4);
}

#[test]
fn damaged_backup_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let store = open(&path);
    for i in 0..200 {
        record(&store, &format!("row{i}.example"));
    }
    let backup = dir.path().join("backup.db");
    store.backup_to(&backup).unwrap();

    // Overwrite pages in the middle of the file, past the header.
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 8192] {
        *byte = 0xA5;
    }
    let damaged = dir.path().join("damaged.db");
    std::fs::write(&damaged, &bytes).unwrap();

    let error = check_file(&damaged).expect_err("damage found");
    let text = error.to_string();
    assert!(text.contains("damaged.db"), "{text}");
    let error = store
        .restore_from(&damaged)
        .expect_err("damaged backup refused");
    assert!(error.to_string().contains("damaged.db"), "{error}");
    assert_eq!(count(&store), 200, "the store is untouched");

    // A file that is not a database at all.
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not a store\n".repeat(100)).unwrap();
    let error = check_file(&text_file).expect_err("not a store");
    assert!(
        matches!(error, MaintenanceError::NotAStore { .. }),
        "{error}"
    );
}

#[test]
fn vacuum_truncates_log_keeps_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let store = open(&path);
    for i in 0..300 {
        record(&store, &format!("v{i}.example"));
    }
    let wal = dir.path().join("vigie.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);

    let report = store.vacuum().expect("vacuum");

    assert!(report.after < report.before, "{report:?}");
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert_eq!(count(&store), 300);
    assert!(store.integrity_problems().unwrap().is_empty());
}

#[test]
fn root_refused_on_other_users_store() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the ownership guard does not apply");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    drop(open(&path));
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["db", "--store", path.to_str().unwrap(), "vacuum"])
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    assert!(stderr.contains("setpriv --reuid=65534"), "{stderr}");
    assert!(!dir.path().join("vigie.db-wal").exists(), "nothing written");
}
