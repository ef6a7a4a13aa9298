//! The `[inbox.NAME]` and `[intake]` sections: values read, defaults, and every error with its
//! line in `vigie.toml` and the fix.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use vigie::config::{AfterRead, ImapSecurity, InboxLocation, load_with_env};
use vigie::model::Severity;

const ENV: &[(&str, &str)] = &[("IMAP_PASSWORD", "secret"), ("FORM_TOKEN", "token")];

fn lookup(name: &str) -> Option<String> {
    ENV.iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// Loads `[daemon]` plus `extra` and returns every error as `LINE: MESSAGE (fix: FIX)`.
fn errors(extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    support::inbox::write_config(dir.path(), extra);
    match load_with_env(&dir.path().join("vigie.toml"), &lookup) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|error| format!("{}: {} (fix: {})", error.line, error.message, error.fix))
            .collect(),
    }
}

/// Asserts that loading `extra` fails with one error on `line` whose text contains `text`.
fn assert_error(extra: &str, line: usize, text: &str) {
    let found = errors(extra);
    assert!(
        found
            .iter()
            .any(|error| error.starts_with(&format!("{line}: ")) && error.contains(text)),
        "no error on line {line} containing {text:?} in:\n{}",
        found.join("\n")
    );
}

/// Lines 1-4 are `[daemon]` and a blank line, so a section written in `extra` starts at line 5.
const IMAP: &str = "[inbox.abuse]\ntype = \"imap\"\nhost = \"imap.example.test\"\nusername = \"abuse@example.test\"\npassword_env = \"IMAP_PASSWORD\"\n";

#[test]
fn imap_inbox_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::inbox::load_config(dir.path(), IMAP, ENV);
    let inbox = &config.inboxes["abuse"];
    let InboxLocation::Imap(imap) = &inbox.location else {
        panic!("not an IMAP inbox: {inbox:?}");
    };
    assert_eq!(imap.security, ImapSecurity::Tls);
    assert_eq!(imap.port, 993);
    assert_eq!(imap.folders, vec!["INBOX".to_string()]);
    assert!(imap.idle);
    assert_eq!(imap.after, AfterRead::Keep);
    assert_eq!(imap.password.expose(), "secret");
    assert_eq!(inbox.poll_secs, 60);
    assert_eq!(inbox.max_message_bytes, 25 << 20);
    assert_eq!(inbox.watchlist, None);
    assert_eq!(inbox.unmatched_severity, Severity::Low);
    assert!(config.intake.is_none());
}

#[test]
fn imap_inbox_values() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "{IMAP}security = \"starttls\"\nfolders = [\"INBOX\", \"Junk\", \"INBOX\"]\nidle = false\npoll_secs = 30\nafter = \"move\"\nmove_to = \"Done\"\nwatchlist = \"example\"\nunmatched_severity = \"high\"\n"
    );
    let config = support::inbox::load_config(dir.path(), &extra, ENV);
    let inbox = &config.inboxes["abuse"];
    let InboxLocation::Imap(imap) = &inbox.location else {
        panic!("not an IMAP inbox");
    };
    assert_eq!(imap.security, ImapSecurity::StartTls);
    assert_eq!(imap.port, 143);
    assert_eq!(imap.folders, vec!["INBOX".to_string(), "Junk".to_string()]);
    assert!(!imap.idle);
    assert_eq!(imap.after, AfterRead::Move("Done".to_string()));
    assert_eq!(inbox.poll_secs, 30);
    assert_eq!(inbox.watchlist.as_deref(), Some("example"));
    assert_eq!(inbox.unmatched_severity, Severity::High);
}

#[test]
fn maildir_path_is_relative_to_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::inbox::load_config(
        dir.path(),
        "[inbox.trap]\ntype = \"maildir\"\npath = \"mail/trap\"\n",
        ENV,
    );
    assert_eq!(
        config.inboxes["trap"].location,
        InboxLocation::Maildir(dir.path().join("mail/trap"))
    );
}

#[test]
fn intake_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::inbox::load_config(
        dir.path(),
        "[intake]\nlisten = \"127.0.0.1:9999\"\ntoken_env = \"FORM_TOKEN\"\nrate_per_minute = 5\nmax_body_bytes = 4096\n",
        ENV,
    );
    let intake = config.intake.expect("[intake] read");
    assert_eq!(
        intake.listen,
        "127.0.0.1:9999".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(intake.token.expose(), "token");
    assert_eq!(intake.rate_per_minute, 5);
    assert_eq!(intake.max_body_bytes, 4096);
}

#[test]
fn inbox_errors_name_the_line_and_fix() {
    assert_error(
        "[inbox.abuse]\nhost = \"x\"\n",
        5,
        "missing key `inbox.abuse.type`",
    );
    assert_error(
        "[inbox.abuse]\ntype = \"pop3\"\n",
        6,
        "invalid value \"pop3\"",
    );
    assert_error(
        &format!("{IMAP}folder = [\"INBOX\"]\n"),
        10,
        "did you mean `folders`?",
    );
    assert_error(
        "[inbox.abuse]\ntype = \"imap\"\nusername = \"a@b.test\"\npassword_env = \"IMAP_PASSWORD\"\n",
        5,
        "missing key `inbox.abuse.host`",
    );
    assert_error(
        "[inbox.abuse]\ntype = \"imap\"\nhost = \"h\"\nusername = \"a@b.test\"\n",
        5,
        "has no password",
    );
    assert_error(
        "[inbox.abuse]\ntype = \"imap\"\nhost = \"h\"\nusername = \"a@b.test\"\npassword = \"hunter2\"\n",
        9,
        "writes a secret directly in the TOML",
    );
    assert_error(
        "[inbox.abuse]\ntype = \"imap\"\nhost = \"h\"\nusername = \"a@b.test\"\npassword_env = \"UNSET_VARIABLE\"\n",
        9,
        "UNSET_VARIABLE named by inbox.abuse.password_env is not set",
    );
    assert_error(
        &format!("{IMAP}after = \"move\"\n"),
        10,
        "move_to is missing",
    );
    assert_error(
        &format!("{IMAP}move_to = \"Done\"\n"),
        10,
        "after is not \"move\"",
    );
    assert_error(&format!("{IMAP}folders = []\n"), 10, "is empty");
    assert_error(
        &format!("{IMAP}folders = [\"a\\\"b\"]\n"),
        10,
        "invalid folder name",
    );
    assert_error(
        &format!("{IMAP}security = \"plain\"\ntls_server_name = \"imap.example.test\"\n"),
        11,
        "security is \"plain\"",
    );
    assert_error(
        &format!("{IMAP}watchlist = \"acme\"\n"),
        10,
        "names watchlist \"acme\", which does not exist",
    );
    assert_error(
        &format!("{IMAP}unmatched_severity = \"urgent\"\n"),
        10,
        "invalid value \"urgent\"",
    );
    assert_error(
        &format!("{IMAP}poll_secs = 0\n"),
        10,
        "must be between 1 and 86400",
    );
    assert_error(
        "[inbox.trap]\ntype = \"maildir\"\n",
        5,
        "missing key `inbox.trap.path`",
    );
    assert_error(
        "[inbox.\"a b\"]\ntype = \"maildir\"\npath = \"x\"\n",
        5,
        "invalid inbox name",
    );
}

#[test]
fn intake_errors_name_the_line_and_fix() {
    assert_error(
        "[intake]\nlisten = \"127.0.0.1:1\"\n",
        5,
        "[intake] has no token",
    );
    assert_error(
        "[intake]\ntoken_env = \"FORM_TOKEN\"\nlisten = \"localhost\"\n",
        7,
        "invalid address \"localhost\" for intake.listen",
    );
    assert_error(
        "[intake]\ntoken = \"abc\"\n",
        6,
        "writes a secret directly in the TOML",
    );
    assert_error(
        "[intake]\ntoken_env = \"FORM_TOKEN\"\nrate_per_minute = 0\n",
        7,
        "must be between 1 and 100000",
    );
    assert_error(
        "[intake]\ntoken_env = \"FORM_TOKEN\"\nwatchlist = \"nope\"\n",
        7,
        "names watchlist \"nope\"",
    );
    assert_error(
        "[intake]\ntoken_env = \"FORM_TOKEN\"\ntoken_file = \"missing.txt\"\n",
        7,
        "are both set",
    );
}

#[test]
fn token_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("form.token");
    std::fs::write(&token, "from-a-file\n").unwrap();
    set_private(&token);
    let config =
        support::inbox::load_config(dir.path(), "[intake]\ntoken_file = \"form.token\"\n", ENV);
    assert_eq!(config.intake.unwrap().token.expose(), "from-a-file");
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
