//! Runs the `vigie` binary as the daemon under test, with a configuration written into a
//! temporary folder, and reads its store and its sd_notify messages.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A configuration folder: `vigie.toml`, `watchlists/`, and the state folder.
pub struct DaemonConfig {
    pub dir: tempfile::TempDir,
}

/// Where the daemon under test sends its alerts and resolves its names.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub dns: SocketAddr,
    pub smtp_port: u16,
    pub webhook_url: String,
    pub webhook_secret: String,
}

impl DaemonConfig {
    pub fn new() -> DaemonConfig {
        DaemonConfig {
            dir: tempfile::tempdir().expect("create a temporary folder"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("vigie.toml")
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("state").join("vigie.db")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("vigie.log")
    }

    /// Writes `vigie.toml` and one watchlist protecting `example.test` that routes to an SMTP
    /// sink and a webhook sink.
    pub fn write(&self, endpoints: &Endpoints) {
        let secret_file = self.dir.path().join("webhook.secret");
        std::fs::write(&secret_file, format!("{}\n", endpoints.webhook_secret))
            .expect("write the secret");
        set_private(&secret_file);

        let config = format!(
            r#"[daemon]
state_dir = "state"
watchlists_dir = "watchlists"
log_format = "json"
shutdown_grace_secs = 5

[dns]
nameservers = ["{dns}"]
timeout_ms = 1000
attempts = 2
concurrency = 50

[lookalike]
interval_secs = 3600
jitter_secs = 0
dictionary = true
tld_swap = false

[dispatcher]
retry_initial_secs = 1
retry_max_secs = 2

[sinks.soc-mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp}
security = "plain"
from = "vigie@example.test"
to = ["soc@example.test"]
timeout_secs = 10

[sinks.soc-webhook]
type = "webhook"
url = "{webhook}"
secret_file = "webhook.secret"
timeout_secs = 5
"#,
            dns = endpoints.dns,
            smtp = endpoints.smtp_port,
            webhook = endpoints.webhook_url,
        );
        std::fs::write(self.path(), config).expect("write vigie.toml");

        let watchlists = self.dir.path().join("watchlists");
        std::fs::create_dir_all(&watchlists).expect("create the watchlists folder");
        std::fs::write(
            watchlists.join("example.toml"),
            r#"allow = ["exampie.test"]

[brand]
name = "Example Test"
keywords = ["example"]

[[domains]]
name = "example.test"
status = "active"

[alerts]
sinks = ["soc-mail", "soc-webhook"]
min_severity = "low"
"#,
        )
        .expect("write the watchlist");
    }

    /// Starts `vigie run` on this configuration, logging into `vigie.log`.
    pub fn start(&self, notify_socket: Option<&Path>, watchdog_usec: Option<u64>) -> Daemon {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the daemon log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
        command
            .arg("run")
            .arg("--config")
            .arg(self.path())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(socket) = notify_socket {
            command.env("NOTIFY_SOCKET", socket);
        }
        if let Some(usec) = watchdog_usec {
            command.env("WATCHDOG_USEC", usec.to_string());
        }
        Daemon {
            child: command.spawn().expect("start the vigie binary"),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Counts outbox rows: (all, delivered).
    pub fn outbox_counts(&self) -> (i64, i64) {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            self.store_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return (0, 0);
        };
        conn.query_row(
            "SELECT count(*), count(delivered_at) FROM outbox",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap_or((0, 0))
    }

    /// Subjects of the findings in the store.
    pub fn finding_subjects(&self) -> Vec<String> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            self.store_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return Vec::new();
        };
        let Ok(mut statement) = conn.prepare("SELECT subject FROM findings ORDER BY subject")
        else {
            return Vec::new();
        };
        statement
            .query_map([], |row| row.get(0))
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// The running daemon; killed when dropped.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child this harness started and has not reaped.
        let result = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(result, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill_hard(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("wait for the daemon")
            .is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The receiving end of `NOTIFY_SOCKET`, as systemd would hold it.
pub struct NotifySocket {
    pub path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        NotifySocket { path, socket }
    }

    /// Waits up to `limit` for a message containing the line `line`; returns every message
    /// read on the way.
    pub fn wait_for(&self, line: &str, limit: Duration) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let found = message.lines().any(|l| l == line);
                seen.push(message);
                if found {
                    return Ok(seen);
                }
            }
        }
        Err(seen)
    }
}

/// Polls `check` every 100 ms until it returns true or `limit` runs out.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}
