//! `vigie mail inspect` through the binary, and the `[mail]` section of `vigie.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigie::config::load_with_env;
use vigie::mail::MailSettings;

/// A `vigie.toml` with a `[mail]` section, and a PayPal watchlist.
const CONFIG: &str = r#"[daemon]
state_dir = "state"

[mail]
own_networks = ["185.112.156.0/24", "2001:db8:25::/48", "2603:10a6::/32"]
own_hosts = ["northwind-traders.fr", "Outlook.com", "office365.com"]
max_message_bytes = 1048576
"#;

const WATCHLIST: &str = r#"[brand]
name = "PayPal"
keywords = ["paypal"]

[[domains]]
name = "paypal.com"
"#;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

fn write_config(dir: &Path, config: &str) -> PathBuf {
    std::fs::write(dir.join("vigie.toml"), config).expect("write vigie.toml");
    std::fs::create_dir_all(dir.join("watchlists")).expect("create watchlists");
    std::fs::write(dir.join("watchlists/paypal.toml"), WATCHLIST).expect("write watchlist");
    dir.join("vigie.toml")
}

fn vigie(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .output()
        .expect("run vigie");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn by_file<'a>(lines: &'a [serde_json::Value], suffix: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|line| line["file"].as_str().is_some_and(|f| f.ends_with(suffix)))
        .unwrap_or_else(|| panic!("no output for {suffix}"))
}

/// Counts the files under `dir`, in every subfolder.
fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| if path.is_dir() { walk_files(&path) } else { 1 })
        .sum()
}

#[test]
fn inspect_folder_reports_every_mail_and_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let garbage = dir.path().join("garbage.bin");
    let mut bytes: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes[10] = 0;
    std::fs::write(&garbage, &bytes).unwrap();
    let huge_header = dir.path().join("huge-header.eml");
    let mut huge = b"X-Padding: ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 70_000));
    huge.extend_from_slice(b"\nFrom: a@b.example\n\nbody\n");
    std::fs::write(&huge_header, &huge).unwrap();
    let empty = dir.path().join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.eml");

    let folder = fixtures();
    let (code, stdout, stderr) = vigie(&[
        "mail",
        "inspect",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        folder.to_str().unwrap(),
        garbage.to_str().unwrap(),
        huge_header.to_str().unwrap(),
        empty.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);

    assert_eq!(code, 1, "{stderr}");
    let lines = json_lines(&stdout);
    // One line per fixture file (one of them not a mail), then three bad files and a missing
    // one.
    let fixture_files = walk_files(&folder);
    assert!(fixture_files >= 14, "{fixture_files} fixture files");
    assert_eq!(lines.len(), fixture_files + 4, "{stdout}");

    for required in [
        "message_id",
        "subject",
        "from",
        "reply_to",
        "return_path",
        "origin_ip",
        "received",
        "urls",
        "domains",
        "addresses",
        "auth",
        "attachments",
        "findings",
        "body_digest",
    ] {
        let ipv6 = by_file(&lines, "ipv6-hosted-mailbox.eml");
        assert!(ipv6.get(required).is_some(), "field {required} missing");
    }
    let ipv6 = by_file(&lines, "ipv6-hosted-mailbox.eml");
    assert_eq!(ipv6["origin_ip"]["ip"], "2a05:d014:9f4:1a00::25");
    assert_eq!(ipv6["origin_ip"]["confidence"], "high");
    assert_eq!(ipv6["auth"]["dmarc"]["result"], "pass");
    let roles: Vec<&str> = ipv6["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["role"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"from"), "{roles:?}");

    let relay = by_file(&lines, "forged-own-relay.eml");
    assert_eq!(relay["origin_ip"]["ip"], "91.215.85.147");

    let expectations = [
        ("no-headers.txt", "no-headers", "not a header field"),
        ("garbage.bin", "binary", "binary data"),
        ("huge-header.eml", "header-line-too-long", "header line 1"),
        ("empty.eml", "empty", "empty input"),
        ("missing.eml", "unreadable", "cannot read"),
    ];
    for (file, kind, reason) in expectations {
        let line = by_file(&lines, file);
        assert_eq!(line["error_kind"], kind, "{line}");
        assert!(line["error"].as_str().unwrap().contains(reason), "{line}");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(file) && l.contains("error:") && l.contains(reason)),
            "{stderr}"
        );
    }
    let truncated = by_file(&lines, "truncated.eml");
    assert!(truncated.get("error").is_none());
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("truncated.eml: warning:") && l.contains("truncated")),
        "{stderr}"
    );
    // Rejected: the fixture that is not a mail, the three bad files and the missing one.
    let summary = format!(
        "{} mail(s), {} analysed, 5 rejected",
        fixture_files + 4,
        fixture_files - 1
    );
    assert!(stderr.contains(&summary), "{summary} not in {stderr}");
}

#[test]
fn inspect_mbox_numbers_its_mails() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = Vec::new();
    for name in [
        "findings/freemail-display-name.eml",
        "received/forged-own-relay.eml",
    ] {
        mbox.extend_from_slice(b"From sender@example.org Fri Oct 18 09:12:45 2024\n");
        mbox.extend_from_slice(&std::fs::read(fixtures().join(name)).unwrap());
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path().join("two.mbox");
    std::fs::write(&path, &mbox).unwrap();

    let (code, stdout, stderr) = vigie(&[
        "mail",
        "inspect",
        "--format",
        "json",
        "--domain",
        "paypal.com",
        path.to_str().unwrap(),
    ]);

    assert_eq!(code, 0, "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["file"].as_str().unwrap().ends_with("two.mbox#1"));
    assert_eq!(lines[0]["subject"], "Refund pending");
    assert_eq!(lines[0]["findings"][0]["role"], "display-name");
    assert!(lines[1]["file"].as_str().unwrap().ends_with("two.mbox#2"));
    assert_eq!(lines[1]["subject"], "Overdue invoice 2024-1187");
}

#[test]
fn inspect_text_output_defangs_indicators() {
    let file = fixtures().join("arf/fraud-report.eml");
    let (code, stdout, stderr) = vigie(&[
        "mail",
        "inspect",
        "--domain",
        "paypal.com",
        file.to_str().unwrap(),
    ]);

    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("ARF report:  feedback type fraud"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hxxps://paypa1-secure[.]com/verify"),
        "{stdout}"
    );
    assert!(stdout.contains("Origin IP:   45.141.84.120"), "{stdout}");
    assert!(!stdout.contains("https://paypa1-secure.com"), "{stdout}");
    assert!(!stdout.contains(" paypa1-secure.com"), "{stdout}");
    assert!(stdout.contains("Finding:     high"), "{stdout}");
}

#[test]
fn mail_section_loads_into_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), CONFIG);
    let loaded = load_with_env(&path, &|_: &str| None).unwrap_or_else(|e| panic!("{e}"));
    let settings = MailSettings::from_config(&loaded.config);

    assert!(settings.is_own_ip("185.112.156.9".parse().unwrap()));
    assert!(settings.is_own_ip("2001:db8:25::1".parse().unwrap()));
    assert!(!settings.is_own_ip("185.112.157.9".parse().unwrap()));
    assert!(settings.is_own_host("am6p194ca0071.eurp194.prod.outlook.com"));
    assert!(settings.is_free_mail("gmail.com"));
    assert_eq!(settings.limits.max_bytes, 1_048_576);
}

#[test]
fn mail_section_free_mail_override() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[daemon]\nstate_dir = \"state\"\n\n[mail]\nfree_mail_domains = [\"mail.example.org\", \"webmail.*\"]\n";
    let path = write_config(dir.path(), config);
    let loaded = load_with_env(&path, &|_: &str| None).unwrap_or_else(|e| panic!("{e}"));
    let settings = MailSettings::from_config(&loaded.config);

    assert!(settings.is_free_mail("mail.example.org"));
    assert!(settings.is_free_mail("webmail.co.uk"));
    assert!(!settings.is_free_mail("gmail.com"));
}

#[test]
fn mail_section_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[daemon]\nstate_dir = \"state\"\n\n[mail]\nown_networks = [\"10.0.0.0/33\"]\nown_hosts = [\"bad host\"]\nfree_mail_domains = [\"*.gmail\"]\nmax_mesage_bytes = 10\n";
    let path = write_config(dir.path(), config);
    let errors = load_with_env(&path, &|_: &str| None).expect_err("invalid [mail]");
    let text = errors.to_string();

    assert!(text.contains("vigie.toml:5:"), "{text}");
    assert!(
        text.contains("invalid network \"10.0.0.0/33\" in mail.own_networks"),
        "{text}"
    );
    assert!(text.contains("vigie.toml:6:"), "{text}");
    assert!(text.contains("invalid host name \"bad host\""), "{text}");
    assert!(text.contains("vigie.toml:7:"), "{text}");
    assert!(text.contains("invalid domain \"*.gmail\""), "{text}");
    assert!(text.contains("vigie.toml:8:"), "{text}");
    assert!(text.contains("did you mean `max_message_bytes`?"), "{text}");
}
