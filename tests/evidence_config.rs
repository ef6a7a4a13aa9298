//! The `[fetch]`, `[evidence]` and `[rdap]` sections: defaults, values read, and every bad
//! value reported with its file, line and fix.

use std::path::Path;

use vigie::config::{ConfigError, ReferenceLocation};

const WATCHLIST: &str = "[brand]\nname = \"Example\"\n\n[[domains]]\nname = \"example.test\"\n";

fn write(dir: &Path, toml: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(dir.join("watchlists/example.toml"), WATCHLIST).unwrap();
    let path = dir.join("vigie.toml");
    std::fs::write(
        &path,
        format!("[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n{toml}"),
    )
    .unwrap();
    path
}

fn errors(toml: &str) -> Vec<ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), toml);
    let errors = vigie::config::load(&path).expect_err("the configuration should not load");
    errors.iter().cloned().collect()
}

/// Asserts one error on `line` whose message holds `message` and whose fix holds `fix`.
fn assert_error(errors: &[ConfigError], line: usize, message: &str, fix: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.line == line && e.message.contains(message) && e.fix.contains(fix)),
        "no error on line {line} with {message:?} / {fix:?}: {errors:#?}"
    );
}

#[test]
fn defaults_without_the_sections() {
    let dir = tempfile::tempdir().unwrap();
    let config = vigie::config::load(&write(dir.path(), "")).unwrap();
    assert_eq!(config.fetch.timeout_secs, 20);
    assert_eq!(config.fetch.max_redirects, 5);
    assert_eq!(config.fetch.max_body_bytes, 2 << 20);
    assert!(!config.fetch.allow_private_addresses);
    assert!(config.fetch.user_agent.contains("vigie"));
    assert!(config.evidence.enabled);
    assert_eq!(config.evidence.live_interval_secs, 3600);
    assert!(config.rdap.enabled);
    assert_eq!(config.rdap.bootstrap_url, "https://data.iana.org/rdap/");
}

#[test]
fn values_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("login.html"), "<title>Sign in</title>").unwrap();
    std::fs::create_dir_all(dir.path().join("rdap")).unwrap();
    let config = vigie::config::load(&write(
        dir.path(),
        r#"[fetch]
timeout_secs = 7
max_redirects = 2
user_agent = "lab-agent"
allow_private_addresses = true
allow_networks = ["10.20.0.0/16", "fd00::1"]

[evidence]
live_interval_secs = 600
concurrency = 2

[[evidence.reference]]
watchlist = "example"
path = "login.html"

[[evidence.reference]]
watchlist = "example"
url = "https://login.example.test/"

[rdap]
bootstrap_dir = "rdap"
refresh_secs = 86400
"#,
    ))
    .unwrap();
    assert_eq!(config.fetch.timeout_secs, 7);
    assert_eq!(config.fetch.user_agent, "lab-agent");
    assert!(config.fetch.allow_private_addresses);
    assert_eq!(
        config
            .fetch
            .allow_networks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.20.0.0/16", "fd00::1/128"]
    );
    assert_eq!(config.evidence.live_interval_secs, 600);
    assert_eq!(config.evidence.references.len(), 2);
    assert_eq!(
        config.evidence.references[0].location,
        ReferenceLocation::Path(dir.path().join("login.html"))
    );
    assert_eq!(config.rdap.bootstrap_dir, Some(dir.path().join("rdap")));
}

#[test]
fn bad_values_name_the_line_and_the_fix() {
    let errors = errors(
        r#"[fetch]
allow_networks = ["10.0.0.0/33", "lab"]
user_agent = "two\nlines"
max_body_bytes = 10
timeout = 5

[evidence]
live_interval_secs = 5

[[evidence.reference]]
watchlist = "example"
url = "ftp://login.example.test/"

[[evidence.reference]]
watchlist = "example"
path = "missing.html"

[[evidence.reference]]
watchlist = "example"

[[evidence.reference]]
watchlist = "exmaple"
url = "https://login.example.test/"

[rdap]
bootstrap_dir = "nowhere"
ip_server = "rdap.arin.net"
"#,
    );
    // The daemon section takes lines 1 to 4 of the file.
    assert_error(&errors, 6, "invalid network \"10.0.0.0/33\"", "CIDR");
    assert_error(&errors, 6, "invalid network \"lab\"", "CIDR");
    assert_error(&errors, 7, "fetch.user_agent", "one line");
    assert_error(&errors, 8, "fetch.max_body_bytes must be between 1024", "");
    assert_error(
        &errors,
        9,
        "unknown key `timeout` in [fetch]",
        "timeout_secs",
    );
    assert_error(
        &errors,
        12,
        "evidence.live_interval_secs must be between 60",
        "",
    );
    assert_error(
        &errors,
        16,
        "must be an http or https URL",
        "real login page",
    );
    assert_error(&errors, 20, "missing.html", "save the real page there");
    assert_error(&errors, 22, "has neither `url` nor `path`", "url = ");
    assert_error(
        &errors,
        26,
        "names \"exmaple\", which is no watchlist",
        "file stem",
    );
    assert_error(&errors, 30, "rdap.bootstrap_dir not found", "dns.json");
    assert_error(
        &errors,
        31,
        "rdap.ip_server must be an http or https URL",
        "",
    );
    assert_eq!(errors.len(), 12, "{errors:#?}");
}
