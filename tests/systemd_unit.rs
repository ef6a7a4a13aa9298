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

/// Copies the backup service and its timer to a temporary folder, with ExecStart pointing at
/// the vigie binary built for this test run.
fn backup_units() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd");
    let dir = tempfile::tempdir().expect("temporary directory");
    let service = std::fs::read_to_string(format!("{folder}/vigie-backup.service"))
        .expect("read vigie-backup.service")
        .replace(
            "ExecStart=/usr/bin/vigie ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_vigie")),
        );
    let timer = std::fs::read_to_string(format!("{folder}/vigie-backup.timer"))
        .expect("read vigie-backup.timer");
    let service_path = dir.path().join("vigie-backup.service");
    let timer_path = dir.path().join("vigie-backup.timer");
    std::fs::write(&service_path, service).unwrap();
    std::fs::write(&timer_path, timer).unwrap();
    (dir, service_path, timer_path)
}

#[test]
fn backup_units_pass_verify() {
    let (_dir, service, timer) = backup_units();
    for unit in [&service, &timer] {
        let output = systemd_analyze(&["verify", "--man=no"], unit);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "verify {unit:?} failed:\n{stderr}");
        let complaints: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains("vigie-backup."))
            .collect();
        assert!(complaints.is_empty(), "systemd-analyze verify:\n{stderr}");
    }
}

#[test]
fn backup_service_exposure_is_ok() {
    let (_dir, service, _timer) = backup_units();
    let output = systemd_analyze(&["security", "--offline=yes", "--no-pager"], &service);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("unrecognized option") {
        eprintln!("This systemd-analyze has no --offline; exposure not measured.\n{stderr}");
        return;
    }
    let figure: f64 = stdout
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .and_then(|line| line.split(':').nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure in:\n{stdout}\n{stderr}"));
    println!("vigie-backup.service exposure: {figure}");
    assert!(figure < MAX_EXPOSURE, "exposure {figure}:\n{stdout}");
}

#[test]
fn backup_command_runs_as_unit_says() {
    // Runs the unit's ExecStart against a store in a temporary folder, twice, with --keep 1.
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("vigie.db");
    drop(vigie::store::Store::open(&store_path).unwrap());
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/vigie-backup.service"
    ))
    .unwrap();
    let exec = text
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart=/usr/bin/vigie "))
        .expect("ExecStart of vigie");
    let backups = dir.path().join("backups");
    let args: Vec<String> = exec
        .replace("/var/lib/vigie/vigie.db", store_path.to_str().unwrap())
        .replace("/var/lib/vigie/backups", backups.to_str().unwrap())
        .replace("--keep 14", "--keep 1")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for _ in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Backup names have one-second resolution.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let names: Vec<_> = std::fs::read_dir(&backups).unwrap().collect();
    assert_eq!(names.len(), 1, "--keep 1 leaves one backup");
}
