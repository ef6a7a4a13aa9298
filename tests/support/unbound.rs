//! A real Unbound resolver for the blocklist tests, on 127.0.0.1 at a free port.
//!
//! It forwards every query to one test DNS server on 127.0.0.1 (see [`super::dns`]), sends
//! from 127.0.0.1 only, and loads the blocklists the test wrote: an RPZ zone file and an
//! include file of `local-zone` lines. Its config, log and pid file live in a temporary
//! folder; the process is killed by pid when the value is dropped.
//!
//! Needs the Debian package unbound.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Unbound.
pub struct Unbound {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

/// What the resolver loads.
pub struct Blocklists<'a> {
    /// Text of the RPZ zone `rpz.vigie.`, if any.
    pub rpz: Option<&'a str>,
    /// Text of an Unbound include file (`server:` with `local-zone` lines), if any.
    pub include: Option<&'a str>,
}

impl Unbound {
    /// Starts Unbound forwarding to `upstream`, with the blocklists loaded, and waits until
    /// it answers TCP connections.
    pub fn start(upstream: SocketAddr, lists: &Blocklists<'_>) -> Unbound {
        let binary = find_binary("unbound").expect(
            "unbound not found: install the Debian package unbound (scripts/install-test-deps.sh)",
        );
        let dir = tempfile::Builder::new()
            .prefix("vigie-unbound-")
            .tempdir()
            .expect("create a temporary folder for unbound");
        let [port] = super::mail::free_ports();
        let config = render_config(dir.path(), port, upstream, lists);
        let config_path = dir.path().join("unbound.conf");
        std::fs::write(&config_path, config).unwrap();

        let checked = Command::new(find_binary("unbound-checkconf").unwrap_or(binary.clone()))
            .arg(&config_path)
            .output()
            .expect("run unbound-checkconf");
        assert!(
            checked.status.success(),
            "unbound-checkconf rejects the configuration: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );

        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start unbound");
        let mut unbound = Unbound {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            child,
        };
        unbound.wait_ready(Duration::from_secs(15));
        unbound
    }

    /// Unbound's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("unbound exited with {status}: {}", self.log());
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "unbound did not listen on {} within {timeout:?}: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn render_config(dir: &Path, port: u16, upstream: SocketAddr, lists: &Blocklists<'_>) -> String {
    let mut config = format!(
        r#"server:
    interface: 127.0.0.1
    port: {port}
    outgoing-interface: 127.0.0.1
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    logfile: "{dir}/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "respip iterator"
    qname-minimisation: no
    cache-max-ttl: 0
    # Unbound answers the special-use name test. itself (RFC 6761) unless told not to.
    local-zone: "test." nodefault
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: {upstream_ip}@{upstream_port}
"#,
        dir = dir.display(),
        upstream_ip = upstream.ip(),
        upstream_port = upstream.port(),
    );
    if let Some(rpz) = lists.rpz {
        let path = dir.join("blocklist.rpz");
        std::fs::write(&path, rpz).unwrap();
        config.push_str(&format!(
            "rpz:\n    name: rpz.vigie.\n    zonefile: \"{}\"\n    rpz-log: yes\n",
            path.display()
        ));
    }
    if let Some(include) = lists.include {
        let path = dir.join("blocklist-unbound.conf");
        std::fs::write(&path, include).unwrap();
        config.push_str(&format!("include: \"{}\"\n", path.display()));
    }
    config
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
