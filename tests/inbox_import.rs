//! `vigie import mbox` and `vigie import eml` through the binary: mails land in the store with
//! their campaigns, duplicates are counted once, and bad items are reported and skipped.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use vigie::store::Store;

const SPAM: &[&str] = &[
    "spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml",
    "spamassassin/spam-1__00026.da18dbed27ae933172f7a70f860c6ad0.eml",
    "spamassassin/spam-1__00278.b62c5fc23a2f87760696cb9fa51f073c.eml",
];

fn vigie(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("import")
        .arg("--config")
        .arg(dir.join("vigie.toml"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run vigie import")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn store(dir: &Path) -> Store {
    Store::open(&dir.join("state/vigie.db")).expect("open the store")
}

#[test]
fn eml_files_are_imported() {
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), "");
    let files: Vec<String> = SPAM
        .iter()
        .map(|name| support::inbox::fixtures().join(name).display().to_string())
        .collect();
    let mut args = vec!["--watchlist", "example", "eml"];
    args.extend(files.iter().map(String::as_str));

    let output = vigie(dir.path(), &args);

    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("3 mails imported (0 already in the store)"),
        "{stdout}"
    );
    let mails = store(dir.path()).mails().unwrap();
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().all(|mail| mail.source == "import"));
    assert!(mails.iter().all(|mail| mail.campaign_id.is_some()));
    assert_eq!(mails[0].origin, files[0]);

    let again = vigie(dir.path(), &args);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("3 mails imported (3 already in the store)"),
        "{stdout}"
    );
    assert_eq!(store(dir.path()).mails().unwrap().len(), 3);
}

#[test]
fn mbox_is_split_into_mails() {
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), "");
    // The SpamAssassin files keep their mbox separator line, so joined they make an mbox.
    let mut mbox = Vec::new();
    for name in SPAM {
        mbox.extend_from_slice(&support::inbox::fixture(name));
        mbox.push(b'\n');
    }
    let path = dir.path().join("reported.mbox");
    std::fs::write(&path, &mbox).unwrap();

    let output = vigie(dir.path(), &["mbox", path.to_str().unwrap()]);

    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("3 mails imported"), "{stdout}");
    let mails = store(dir.path()).mails().unwrap();
    assert_eq!(mails.len(), 3);
    // Without --watchlist, only a mail that matches a watchlist joins a campaign.
    for mail in &mails {
        let matched = mail.analysis["findings"]
            .as_array()
            .is_some_and(|found| !found.is_empty());
        assert_eq!(mail.campaign_id.is_some(), matched, "mail {}", mail.origin);
    }
    let without = mails
        .iter()
        .filter(|mail| mail.campaign_id.is_none())
        .count();
    assert!(
        stdout.contains(&format!("{without} without campaign")),
        "{stdout}"
    );
    assert!(
        mails[0].origin.ends_with("reported.mbox:1"),
        "{}",
        mails[0].origin
    );
    let first = store(dir.path()).mail_raw(mails[0].id).unwrap().unwrap();
    assert!(first.starts_with(b"Return-Path: <seko_mam@spinfinder.com>"));
}

#[test]
fn bad_items_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), "");
    let good = support::inbox::fixtures().join(SPAM[0]);
    let missing = dir.path().join("missing.eml");

    let output = vigie(
        dir.path(),
        &[
            "--max-message-bytes",
            "100000",
            "eml",
            missing.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
    );

    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.eml"), "{stderr}");
    assert_eq!(store(dir.path()).mails().unwrap().len(), 1);

    let small = vigie(
        dir.path(),
        &["--max-message-bytes", "1000", "eml", good.to_str().unwrap()],
    );
    assert_eq!(small.status.code(), Some(1), "{}", text(&small));
    assert!(String::from_utf8_lossy(&small.stderr).contains("larger than --max-message-bytes"));
}

#[test]
fn unknown_watchlist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), "");
    let good = support::inbox::fixtures().join(SPAM[0]);

    let output = vigie(
        dir.path(),
        &["--watchlist", "nope", "eml", good.to_str().unwrap()],
    );

    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--watchlist nope: no such watchlist")
    );
}

/// The Nazario phishing corpus (CC BY 4.0, not committed) when the shared data folder is found
/// by [`support::inbox::shared_data`]; skipped otherwise. Prints the import rate.
#[test]
fn nazario_mbox_imports_every_mail() {
    let relative = "emails/nazario/20051114.mbox";
    let Some(mbox) = support::inbox::shared_data(relative) else {
        eprintln!("skipped: {relative} not found under ../shared/data or ../../shared/data");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), "");

    let started = std::time::Instant::now();
    let output = vigie(
        dir.path(),
        &["--watchlist", "example", "mbox", mbox.to_str().unwrap()],
    );
    let elapsed = started.elapsed();

    assert!(output.status.success(), "{}", text(&output));
    let mails = store(dir.path()).mails().unwrap();
    // The file has 438 `From ` separator lines, each after a blank line.
    assert_eq!(mails.len(), 438, "{}", text(&output));
    eprintln!(
        "imported 438 mails from {} in {:.2} s ({:.0} mails/s)",
        mbox.display(),
        elapsed.as_secs_f64(),
        438.0 / elapsed.as_secs_f64()
    );
}
