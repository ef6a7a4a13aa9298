//! The shipped systemd unit: it must pass `systemd-analyze verify`, keep the directives the
//! daemon relies on, and score "OK" or better (exposure below 5.0) in
//! `systemd-analyze security`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNIT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/vigie.service");

/// Highest exposure figure that `systemd-analyze security` still labels "OK".
const MAX_EXPOSURE: f64 = 5.0;

/// Writes the unit to a temporary folder with ExecStart pointing at the vigie binary built for
/// this test run, since `verify` checks that the executable exists.
fn unit_copy() -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(UNIT_PATH).expect("read systemd/vigie.service");
    let text = text.replace(
        "ExecStart=/usr/bin/vigie ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_vigie")),
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("vigie.service");
    std::fs::write(&path, text).expect("write unit copy");
    (dir, path)
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    match Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("systemd-analyze not found: install systemd (apt-get install systemd)")
        }
        Err(error) => panic!("cannot run systemd-analyze: {error}"),
    }
}

fn directive_values(key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(UNIT_PATH).expect("read systemd/vigie.service");
    text.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim().to_string())
        .collect()
}

#[test]
fn unit_passes_verify() {
    let (_dir, unit) = unit_copy();
    let output = systemd_analyze(&["verify", "--man=no"], &unit);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    // verify reports problems of the unit as "FILE:LINE: message" and may still exit 0.
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("vigie.service"))
        .collect();
    assert!(complaints.is_empty(), "systemd-analyze verify:\n{stderr}");
}

#[test]
fn unit_exposure_is_ok() {
    let (_dir, unit) = unit_copy();
    let output = systemd_analyze(&["security", "--offline=yes", "--no-pager"], &unit);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("unrecognized option") {
        eprintln!("This systemd-analyze has no --offline; exposure not measured.\n{stderr}");
        return;
    }
    assert!(
        output.status.success(),
        "systemd-analyze security failed:\n{stderr}"
    );

    let summary = stdout
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure summary in:\n{stdout}"));
    let figure: f64 = summary
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure figure in `{summary}`"));
    println!("systemd-analyze security exposure: {figure}");
    assert!(
        figure < MAX_EXPOSURE,
        "exposure {figure} is not below {MAX_EXPOSURE}:\n{stdout}"
    );
}

#[test]
fn unit_keeps_required_directives() {
    let expected = [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        (
            "ExecStart",
            "/usr/bin/vigie run --config /etc/vigie/vigie.toml",
        ),
        ("DynamicUser", "yes"),
        ("StateDirectory", "vigie"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
        ("RestrictNamespaces", "yes"),
        ("UMask", "0077"),
    ];
    for (key, value) in expected {
        let values = directive_values(key);
        assert!(
            values.iter().any(|found| found == value),
            "{key}={value} missing from the unit; found {values:?}"
        );
    }

    let watchdog = directive_values("WatchdogSec");
    assert_eq!(watchdog.len(), 1, "WatchdogSec= must be set once");
    let configuration = directive_values("ConfigurationDirectory");
    assert!(
        configuration
            .iter()
            .any(|value| value.split(' ').any(|dir| dir == "vigie")),
        "ConfigurationDirectory=vigie missing; found {configuration:?}"
    );
    assert!(
        directive_values("LoadCredential")
            .iter()
            .any(|value| value.starts_with("vigie:/etc/vigie/credentials")),
        "LoadCredential= for the secret files missing"
    );
}
