//! Fault tests of the store under the running daemon: its file system fills up, or is
//! read-only. The state folder is a small tmpfs mounted for the test, so these tests need
//! root (CI runs as root); where the mount fails they print why and skip.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::daemon::{DaemonConfig, Endpoints, wait_until};
use support::dns::TestDns;
use support::webhook::WebhookReceiver;

const SECRET: &str = "store-fault-secret";
const PREFIX: &str = "example-account-";

/// A tmpfs mounted on a folder for the life of the value.
struct Tmpfs {
    target: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it) on `target`; returns why when
    /// the mount fails.
    fn mount(target: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(target).map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("vigie-test")
            .arg(target)
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        Ok(Tmpfs {
            target: target.to_owned(),
        })
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.target)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -o remount,{options} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.target).status();
    }
}

/// Mounts the tmpfs or prints why the test is skipped.
fn mount_or_skip(test: &str, target: &Path, size: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(target, size) {
        Ok(mount) => Some(mount),
        Err(reason) => {
            eprintln!(
                "SKIPPED {test}: mounting a tmpfs on {} failed ({reason}); run the test as root",
                target.display()
            );
            None
        }
    }
}

/// Writes the daemon configuration with one list of newly registered domains, read from
/// `burst.txt` every 2 seconds, and returns the receivers it alerts.
async fn configure(config: &DaemonConfig) -> (TestDns, WebhookReceiver) {
    let mut builder = TestDns::builder();
    for (origin, text) in support::dns::STANDARD_ZONES {
        builder = builder.zone(origin, text);
    }
    let dns = builder.start().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    std::fs::write(config.dir.path().join("burst.txt"), "# empty for now\n").unwrap();
    let mut text = std::fs::read_to_string(config.path()).unwrap();
    text.push_str("\n[nrd.burst]\npath = \"burst.txt\"\ninterval_secs = 2\n");
    std::fs::write(config.path(), text).unwrap();
    (dns, webhook)
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Writes `count` newly registered domains that carry the brand into `burst.txt`.
fn write_burst(config: &DaemonConfig, first: usize, count: usize) -> Vec<String> {
    let names: Vec<String> = (first..first + count)
        .map(|i| format!("{PREFIX}{i:04}.test"))
        .collect();
    let list: String = names.iter().map(|name| format!("{name}\n")).collect();
    std::fs::write(config.dir.path().join("burst.txt"), list).unwrap();
    names
}

/// Fills the file system of `folder` with one file until a write fails with "no space".
fn fill(folder: &Path) -> PathBuf {
    let path = folder.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler file");
    let chunk = vec![0x5a_u8; 16 * 1024];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(error) => panic!("writing the filler file failed: {error}"),
        }
    }
    path
}

fn integrity(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store).expect("open the store after the test");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("run integrity_check")
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Returns the burst subjects the webhook received, without repeats.
fn delivered(webhook: &WebhookReceiver) -> std::collections::BTreeSet<String> {
    webhook
        .subjects()
        .into_iter()
        .filter(|subject| subject.starts_with(PREFIX))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_is_named_and_recovered() {
    let config = DaemonConfig::new();
    let state = config.dir.path().join("state");
    let Some(_mount) = mount_or_skip("full_disk_is_named_and_recovered", &state, "16m") else {
        return;
    };
    let (_dns, webhook) = configure(&config).await;

    let mut daemon = config.start(None, None);
    let store = config.store_path();
    assert!(
        wait_until(Duration::from_secs(30), || store.exists()
            && config.log().contains("Starting vigie.")),
        "the daemon did not start; log tail:\n{}",
        tail(&config.log())
    );
    // Let the first lookalike pass settle so that the filler takes the space it left.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let filler = fill(&state);
    let burst = write_burst(&config, 0, 600);
    let store_text = store.display().to_string();
    let named = wait_until(Duration::from_secs(60), || {
        config
            .log()
            .lines()
            .any(|line| line.contains("its file system is full") && line.contains(&store_text))
    });
    assert!(
        named,
        "no log line names the full store {store_text}; log tail:\n{}",
        tail(&config.log())
    );
    let log = config.log();
    let line = log
        .lines()
        .find(|line| line.contains("its file system is full"))
        .unwrap();
    assert!(line.contains("free space on it"), "no fix in: {line}");

    // The daemon keeps running while the disk stays full.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        daemon.is_running(),
        "the daemon exited on a full disk; log tail:\n{}",
        tail(&config.log())
    );
    let before = delivered(&webhook).len();
    assert!(
        before < burst.len(),
        "all {} alerts arrived although the disk was full",
        burst.len()
    );

    // Space returns: every finding of the list is recorded and alerted.
    std::fs::remove_file(&filler).expect("remove the filler file");
    let deadline = Instant::now() + Duration::from_secs(180);
    while delivered(&webhook).len() < burst.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} alerts arrived after space returned; log tail:\n{}",
            delivered(&webhook).len(),
            burst.len(),
            tail(&config.log())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let received = delivered(&webhook);
    for name in &burst {
        assert!(received.contains(name), "no alert for {name}");
    }
    assert_eq!(webhook.bad_signatures(), 0);

    daemon.signal(libc::SIGTERM);
    assert!(
        daemon.wait_exit(Duration::from_secs(30)).is_some(),
        "the daemon did not stop on SIGTERM"
    );
    assert_eq!(integrity(&store), "ok");
    let recorded: Vec<String> = config
        .finding_subjects()
        .into_iter()
        .filter(|subject| subject.starts_with(PREFIX))
        .collect();
    assert_eq!(recorded, burst, "findings recorded after space returned");
    println!(
        "full disk: {before} of {} alerts before space returned, all after",
        burst.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_store_is_named_then_recovered() {
    let config = DaemonConfig::new();
    let state = config.dir.path().join("state");
    let Some(mount) = mount_or_skip("read_only_store_is_named_then_recovered", &state, "16m")
    else {
        return;
    };
    let (_dns, webhook) = configure(&config).await;
    let store = config.store_path();

    // A first run creates the store, then stops.
    let mut daemon = config.start(None, None);
    assert!(
        wait_until(Duration::from_secs(30), || store.exists()
            && config.log().contains("Starting vigie.")),
        "the daemon did not start; log tail:\n{}",
        tail(&config.log())
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());

    // On a read-only file system the daemon stops at once with an error naming the file.
    mount.remount("ro");
    let mut daemon = config.start(None, None);
    let status = daemon.wait_exit(Duration::from_secs(30));
    let log = config.log();
    assert!(
        status.is_some_and(|status| !status.success()),
        "the daemon ran on a read-only store; log tail:\n{}",
        tail(&log)
    );
    let line = log
        .lines()
        .find(|line| line.contains("it is read-only"))
        .unwrap_or_else(|| panic!("no read-only error; log tail:\n{}", tail(&log)));
    assert!(
        line.contains(&store.display().to_string()),
        "no path in: {line}"
    );
    assert!(line.contains("writable"), "no fix in: {line}");

    // Once writable again, it starts and records.
    mount.remount("rw");
    let burst = write_burst(&config, 0, 20);
    let _daemon = config.start(None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered(&webhook).len() < burst.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} alerts arrived after the store became writable; log tail:\n{}",
            delivered(&webhook).len(),
            burst.len(),
            tail(&config.log())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(integrity(&store), "ok");
}

/// Bytes that gzip cannot shrink, so that a write of them needs new pages on the disk.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn mail(sha256: &str, raw: Vec<u8>) -> vigie::store::NewMail {
    vigie::store::NewMail {
        sha256: sha256.to_string(),
        source: "intake".to_string(),
        origin: "report form".to_string(),
        folder: None,
        uidvalidity: None,
        uid: None,
        received_at: time::OffsetDateTime::now_utc(),
        message_id: None,
        subject: Some("Your account".to_string()),
        sender: None,
        origin_ip: None,
        raw,
        analysis: serde_json::json!({}),
        attachments: Vec::new(),
        campaign: None,
    }
}

/// The writers of mails, report-form reports and change-watch schedules name the store and
/// the fix when its file system is full, as the finding writer does. Nothing half-written
/// stays behind.
#[test]
fn other_writers_name_full_store() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let Some(_mount) = mount_or_skip(
        "mail_report_and_schedule_writers_name_a_full_store",
        &state,
        "8m",
    ) else {
        return;
    };
    let path = state.join("vigie.db");
    let store = vigie::store::Store::open(&path).unwrap();
    let first = store
        .record_mail(&mail("a", b"Subject: x\r\n\r\nhello".to_vec()))
        .unwrap();
    let finding = vigie::model::Finding {
        fingerprint: "fault-finding".to_string(),
        kind: "lookalike-domain".to_string(),
        source: "nrd".to_string(),
        watchlist: "example".to_string(),
        subject: "examp1e.test".to_string(),
        imitates: "example.test".to_string(),
        techniques: Vec::new(),
        reasons: Vec::new(),
        severity: vigie::model::Severity::Low,
        score: 30,
        indicators: Vec::new(),
        facts: Default::default(),
        evidence: serde_json::json!({}),
        observed_at: time::OffsetDateTime::now_utc(),
    };
    let finding_id = store
        .record_finding(&finding, &[], &vigie::alert::render)
        .unwrap()
        .finding_id();

    let filler = fill(&state);
    let big = noise(2 << 20);
    let big_text = hex::encode(&big[..1 << 20]);
    let report = vigie::store::IntakeReport {
        id: "r-1".to_string(),
        mail_id: first.mail_id,
        reporter: None,
        comment: Some(big_text.clone()),
        client_ip: "127.0.0.1".to_string(),
        received_at: time::OffsetDateTime::now_utc(),
    };
    let errors = [
        (
            "record_mail",
            store.record_mail(&mail("b", big)).unwrap_err(),
        ),
        (
            "record_intake_report",
            store.record_intake_report(&report).unwrap_err(),
        ),
        (
            "schedule_web_check",
            store
                .schedule_web_check(
                    finding_id,
                    &big_text,
                    time::OffsetDateTime::now_utc(),
                    None,
                    None,
                )
                .unwrap_err(),
        ),
    ];
    let path_text = path.display().to_string();
    for (writer, error) in &errors {
        let text = error.to_string();
        assert!(text.contains(&path_text), "{writer}: no path in {text}");
        assert!(
            text.contains("free space on it") || text.contains("check the disk"),
            "{writer}: no fix in {text}"
        );
    }

    // Space returns: the same writes succeed and the store is whole.
    std::fs::remove_file(&filler).unwrap();
    assert!(store.mails().unwrap().len() == 1, "no half-written mail");
    store.record_intake_report(&report).unwrap();
    store
        .schedule_web_check(
            finding_id,
            "examp1e.test",
            time::OffsetDateTime::now_utc(),
            None,
            None,
        )
        .unwrap();
    drop(store);
    assert_eq!(integrity(&path), "ok");
}
