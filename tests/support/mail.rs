//! Real mail servers for tests: Postfix (SMTP, with AUTH against Dovecot) hands mail over LMTP
//! to Dovecot, which stores it in a Maildir and serves it over IMAP. Everything listens on 127.0.0.1 on ports picked
//! free at start, with configs, queues, logs and mail in a temporary folder, so several
//! instances can run side by side. The servers are stopped by pid when the value is dropped.
//!
//! [`MailServers::with_tls`] adds two Postfix listeners that present a given certificate: one
//! that offers STARTTLS and one that speaks TLS from the first byte (wrapper mode, as on port
//! 465). The first listener never offers STARTTLS. Dovecot then presents the same
//! certificate on an IMAPS listener and offers STARTTLS on its plain IMAP port.
//!
//! Needs the Debian packages postfix, dovecot-imapd and dovecot-lmtpd, and root (Postfix and
//! Dovecot switch to their own users).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

/// The only mailbox: static password database, any other login is delayed and rejected.
pub const MAILBOX: &str = "soc@example.test";
/// Password of [`MAILBOX`], for IMAP and SMTP AUTH.
pub const PASSWORD: &str = "test";

/// Dovecot 2.3: plain IMAP and LMTP on loopback, one static account, Maildir.
const DOVECOT_CONF: &str = r#"protocols = imap lmtp
listen = 127.0.0.1
base_dir = @RUN@/dovecot/
state_dir = @RUN@/dovecot-state/
instance_name = @NAME@
log_path = @RUN@/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = static
  args = password=test
  username_filter = soc@example.test
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=@RUN@/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = @IMAP_PORT@
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = @LMTP_PORT@
  }
}
service auth {
  inet_listener auth {
    address = 127.0.0.1
    port = @AUTH_PORT@
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.test
}
"#;

/// Postfix 3.7: SMTP on loopback, mail for example.test relayed to Dovecot over LMTP, and
/// SMTP AUTH checked against Dovecot's password database (offered, not required).
/// Postfix refuses a log file outside `maillog_file_prefixes`, hence the run folder there.
const POSTFIX_MAIN_CF: &str = r#"compatibility_level = 3.6
queue_directory = @RUN@/postfix/queue
data_directory = @RUN@/postfix/data
maillog_file_prefixes = /var, /dev/stdout, @RUN@
maillog_file = @RUN@/postfix.log
myhostname = mx.example.test
mydomain = example.test
myorigin = $mydomain
mydestination =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = inline:{ soc@example.test=ok }
virtual_transport = lmtp:inet:127.0.0.1:@LMTP_PORT@
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:@AUTH_PORT@
smtpd_sasl_authenticated_header = yes
"#;

const POSTFIX_MASTER_CF: &str = r#"127.0.0.1:@SMTP_PORT@ inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#;

/// Postfix listeners added by [`MailServers::with_tls`]. Postfix reads the certificate and
/// key as root before it drops privileges, so they can stay private to root. Both listeners
/// record the TLS version and cipher in the `Received` header, so a test can read from the
/// delivered mail whether it travelled over TLS.
const POSTFIX_MASTER_CF_TLS: &str = r#"127.0.0.1:@STARTTLS_PORT@ inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=@RUN@/tls/server.pem
  -o smtpd_tls_key_file=@RUN@/tls/server.key
  -o smtpd_tls_received_header=yes
  -o smtpd_tls_loglevel=1
127.0.0.1:@TLS_PORT@ inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_cert_file=@RUN@/tls/server.pem
  -o smtpd_tls_key_file=@RUN@/tls/server.key
  -o smtpd_tls_received_header=yes
  -o smtpd_tls_loglevel=1
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
"#;

/// A certificate chain and private key, PEM-encoded, for the TLS listeners.
#[derive(Clone)]
pub struct ServerTls {
    /// The server certificate first, then any intermediate CA certificates.
    pub chain_pem: String,
    /// The private key of the server certificate.
    pub key_pem: String,
}

/// Ports of the listeners added by [`MailServers::with_tls`].
#[derive(Debug, Clone, Copy)]
pub struct TlsPorts {
    /// Plain SMTP that offers STARTTLS (`smtpd_tls_security_level = may`).
    pub starttls: u16,
    /// SMTP inside TLS from the first byte (`smtpd_tls_wrappermode = yes`).
    pub tls: u16,
    /// IMAP inside TLS from the first byte. The plain IMAP port then offers STARTTLS.
    pub imaps: u16,
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// One Postfix + Dovecot pair. Created stopped by [`MailServers::new`], so a test can aim a
/// sink at the SMTP port before anything listens there.
pub struct MailServers {
    dir: tempfile::TempDir,
    pub smtp_port: u16,
    pub imap_port: u16,
    pub lmtp_port: u16,
    pub auth_port: u16,
    /// Set by [`MailServers::with_tls`] only.
    pub tls_ports: Option<TlsPorts>,
    tls: Option<ServerTls>,
    dovecot_started: bool,
    postfix_started: bool,
    /// Dovecot's `instance_name`, unique to this pair; its processes carry it in their title.
    instance: String,
}

impl MailServers {
    /// Picks free ports and renders the configs; starts nothing.
    pub fn new() -> MailServers {
        MailServers::build(None)
    }

    /// Same as [`MailServers::new`], plus a STARTTLS listener and an implicit-TLS listener
    /// that present `tls`; their ports are in [`MailServers::tls_ports`].
    pub fn with_tls(tls: ServerTls) -> MailServers {
        MailServers::build(Some(tls))
    }

    fn build(tls: Option<ServerTls>) -> MailServers {
        for binary in ["postfix", "dovecot"] {
            assert!(
                find_binary(binary).is_some(),
                "{binary} not found: install postfix dovecot-imapd dovecot-lmtpd (Debian)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("vigie-mail-")
            .tempdir()
            .expect("create a temporary folder for the mail servers");
        let [
            smtp_port,
            imap_port,
            lmtp_port,
            auth_port,
            starttls,
            tls_port,
            imaps,
        ] = free_ports();
        let tls_ports = tls.as_ref().map(|_| TlsPorts {
            starttls,
            tls: tls_port,
            imaps,
        });
        let servers = MailServers {
            dir,
            smtp_port,
            imap_port,
            lmtp_port,
            auth_port,
            tls_ports,
            tls,
            dovecot_started: false,
            postfix_started: false,
            instance: format!(
                "vigie-test-{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, Ordering::Relaxed)
            ),
        };
        servers.render_configs();
        servers
    }

    /// Creates and starts a pair, and waits until its ports accept connections.
    pub fn started() -> MailServers {
        let mut servers = MailServers::new();
        servers.start();
        servers
    }

    /// Port of the STARTTLS listener. Panics unless built by [`MailServers::with_tls`].
    pub fn starttls_port(&self) -> u16 {
        self.tls_ports
            .expect("no TLS listeners: build the servers with MailServers::with_tls")
            .starttls
    }

    /// Port of the implicit-TLS listener. Panics unless built by [`MailServers::with_tls`].
    pub fn tls_port(&self) -> u16 {
        self.tls_ports
            .expect("no TLS listeners: build the servers with MailServers::with_tls")
            .tls
    }

    /// Returns the Postfix log so far (`maillog_file`), empty when there is none yet.
    pub fn postfix_log(&self) -> String {
        read(&self.run_dir().join("postfix.log"))
    }

    fn run_dir(&self) -> &Path {
        self.dir.path()
    }

    fn render_configs(&self) {
        let name = &self.instance;
        let ports = self.tls_ports.unwrap_or(TlsPorts {
            starttls: 0,
            tls: 0,
            imaps: 0,
        });
        let render = |template: &str| {
            template
                .replace("@RUN@", &self.run_dir().display().to_string())
                .replace("@NAME@", name)
                .replace("@SMTP_PORT@", &self.smtp_port.to_string())
                .replace("@IMAP_PORT@", &self.imap_port.to_string())
                .replace("@LMTP_PORT@", &self.lmtp_port.to_string())
                .replace("@AUTH_PORT@", &self.auth_port.to_string())
                .replace("@STARTTLS_PORT@", &ports.starttls.to_string())
                .replace("@TLS_PORT@", &ports.tls.to_string())
        };
        let run = self.run_dir();
        for folder in ["postfix/conf", "postfix/queue", "mail"] {
            std::fs::create_dir_all(run.join(folder)).unwrap();
        }
        let mut dovecot_conf = render(DOVECOT_CONF);
        if self.tls.is_some() {
            // Dovecot reads the certificate and key as root at start, like Postfix.
            dovecot_conf = dovecot_conf
                .replace(
                    "ssl = no\n",
                    &render("ssl = yes\nssl_cert = <@RUN@/tls/server.pem\nssl_key = <@RUN@/tls/server.key\n"),
                )
                .replace(
                    "inet_listener imaps {\n    port = 0\n",
                    &format!(
                        "inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n",
                        ports.imaps
                    ),
                );
        }
        std::fs::write(run.join("dovecot.conf"), dovecot_conf).unwrap();
        std::fs::write(run.join("postfix/conf/main.cf"), render(POSTFIX_MAIN_CF)).unwrap();
        let mut master_cf = render(POSTFIX_MASTER_CF);
        if let Some(tls) = &self.tls {
            std::fs::create_dir_all(run.join("tls")).unwrap();
            std::fs::write(run.join("tls/server.pem"), &tls.chain_pem).unwrap();
            std::fs::write(run.join("tls/server.key"), &tls.key_pem).unwrap();
            set_mode(&run.join("tls/server.key"), 0o600);
            master_cf.push_str(&render(POSTFIX_MASTER_CF_TLS));
        }
        std::fs::write(run.join("postfix/conf/master.cf"), master_cf).unwrap();

        // Dovecot delivers as nobody and its login processes run unprivileged: both must
        // reach into the folder that tempfile creates private to root.
        set_mode(run, 0o755);
        run_checked(
            Command::new("chown")
                .args(["nobody:nogroup"])
                .arg(run.join("mail")),
        );
    }

    /// Starts Dovecot, then Postfix, and waits for their ports.
    pub fn start(&mut self) {
        let run = self.run_dir().to_owned();
        // Both daemonize: their children would hold a captured stdout open forever, so
        // output goes to files and only the exit status is awaited.
        let dovecot = spawn_daemon(
            Command::new(binary("dovecot"))
                .arg("-c")
                .arg(run.join("dovecot.conf")),
            &run.join("dovecot-start.log"),
        );
        self.dovecot_started = true;
        assert!(
            dovecot,
            "dovecot failed to start: {}{}",
            read(&run.join("dovecot-start.log")),
            read(&run.join("dovecot.log"))
        );

        let conf = run.join("postfix/conf");
        let postfix = spawn_daemon(
            Command::new(binary("postfix"))
                .arg("-c")
                .arg(&conf)
                .arg("start"),
            &run.join("postfix-start.log"),
        );
        self.postfix_started = true;
        if !postfix {
            // Postfix prints its errors only to a terminal: `script` gives `postfix check` one.
            let check = format!(
                "{} -c {} check",
                binary("postfix").display(),
                conf.display()
            );
            let output = Command::new("script")
                .args(["-qec", &check, "/dev/null"])
                .stdin(Stdio::null())
                .output();
            panic!(
                "postfix failed to start: {}\ncheck: {output:?}\nlog: {}",
                read(&run.join("postfix-start.log")),
                read(&run.join("postfix.log"))
            );
        }

        let tls_ports = self
            .tls_ports
            .map(|ports| [ports.starttls, ports.tls, ports.imaps])
            .unwrap_or_default();
        let ports = [
            self.lmtp_port,
            self.auth_port,
            self.imap_port,
            self.smtp_port,
        ];
        for port in ports.into_iter().chain(tls_ports).filter(|port| *port != 0) {
            wait_for_port(port, Duration::from_secs(15));
        }
    }

    /// Polls the mailbox over IMAP until a message whose `X-Vigie-Idempotency-Key` header is
    /// `key` arrives, and returns it raw. Panics after `timeout`.
    pub async fn wait_for_message(&self, key: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fetch_by_key(key).await {
                Ok(Some(message)) => return message,
                Ok(None) => {}
                Err(error) if Instant::now() > deadline => {
                    panic!("IMAP read of 127.0.0.1:{} failed: {error}", self.imap_port)
                }
                Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "no message with key {key} in {MAILBOX} after {timeout:?}; postfix log:\n{}",
                std::fs::read_to_string(self.run_dir().join("postfix.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn fetch_by_key(&self, key: &str) -> Result<Option<String>, async_imap::error::Error> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port)).await?;
        let mut client = async_imap::Client::new(stream);
        client.read_response().await?;
        let mut session = client
            .login(MAILBOX, PASSWORD)
            .await
            .map_err(|(error, _client)| error)?;
        session.select("INBOX").await?;

        let found = session
            .search(format!("HEADER X-Vigie-Idempotency-Key \"{key}\""))
            .await?;
        let mut message = None;
        if let Some(sequence) = found.into_iter().max() {
            let fetches: Vec<_> = session
                .fetch(sequence.to_string(), "RFC822")
                .await?
                .try_collect()
                .await?;
            message = fetches
                .first()
                .and_then(|fetch| fetch.body())
                .map(|body| String::from_utf8_lossy(body).into_owned());
        }
        session.logout().await?;
        Ok(message)
    }

    /// Counts the messages in the mailbox carrying `key`.
    pub async fn count_messages(&self, key: &str) -> usize {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .expect("connect to IMAP");
        let mut client = async_imap::Client::new(stream);
        client.read_response().await.expect("IMAP greeting");
        let mut session = client
            .login(MAILBOX, PASSWORD)
            .await
            .map_err(|(error, _)| error)
            .expect("IMAP login");
        session.select("INBOX").await.expect("select INBOX");
        let found = session
            .search(format!("HEADER X-Vigie-Idempotency-Key \"{key}\""))
            .await
            .expect("IMAP search");
        let _ = session.logout().await;
        found.len()
    }
}

impl MailServers {
    /// Opens an IMAP session on the mailbox.
    pub async fn imap_session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .expect("connect to IMAP");
        let mut client = async_imap::Client::new(stream);
        client.read_response().await.expect("IMAP greeting");
        client
            .login(MAILBOX, PASSWORD)
            .await
            .map_err(|(error, _)| error)
            .expect("IMAP login")
    }

    /// Appends a raw mail to `folder` (created when missing) over IMAP. A leading mbox
    /// `From ` line is dropped and line ends become CRLF, as IMAP requires.
    pub async fn append(&self, folder: &str, raw: &[u8]) {
        let mut session = self.imap_session().await;
        let _ = session.create(folder).await;
        session
            .append(folder, None, None, to_crlf(strip_mbox_line(raw)))
            .await
            .expect("IMAP APPEND");
        let _ = session.logout().await;
    }

    /// Appends several raw mails to `folder` in one IMAP session, as [`MailServers::append`].
    pub async fn append_all(&self, folder: &str, mails: &[Vec<u8>]) {
        let mut session = self.imap_session().await;
        let _ = session.create(folder).await;
        for raw in mails {
            session
                .append(folder, None, None, to_crlf(strip_mbox_line(raw)))
                .await
                .expect("IMAP APPEND");
        }
        let _ = session.logout().await;
    }

    /// Returns the flags of every mail of `folder`, by UID.
    pub async fn flags(&self, folder: &str) -> Vec<(u32, Vec<String>)> {
        let mut session = self.imap_session().await;
        session.select(folder).await.expect("select the folder");
        let fetches: Vec<_> = session
            .uid_fetch("1:*", "(UID FLAGS)")
            .await
            .expect("UID FETCH")
            .try_collect()
            .await
            .expect("UID FETCH responses");
        let _ = session.logout().await;
        let mut flags: Vec<(u32, Vec<String>)> = fetches
            .iter()
            .map(|fetch| {
                let names = fetch.flags().map(|flag| format!("{flag:?}")).collect();
                (fetch.uid.unwrap_or(0), names)
            })
            .collect();
        flags.sort();
        flags
    }

    /// Returns the number of mails in `folder`.
    pub async fn count(&self, folder: &str) -> u32 {
        let mut session = self.imap_session().await;
        let mailbox = session.select(folder).await.expect("select the folder");
        let _ = session.logout().await;
        mailbox.exists
    }

    /// Stops Dovecot and waits until its master process is gone; Postfix keeps running.
    pub fn stop_dovecot(&mut self) {
        let run = self.run_dir().to_owned();
        let Some(pid) = read_pid(&run.join("dovecot/master.pid")) else {
            panic!("dovecot is not running: no master.pid");
        };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_running(pid) {
            assert!(Instant::now() < deadline, "dovecot {pid} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Dovecot 2.3's master leaves its children (imap, auth, log...) running when it exits:
        // an IMAP client would keep its connection and never see the restart. They are ended
        // by pid, found by the instance name in their process title.
        let children = self.instance_processes();
        for child in &children {
            let _ = Command::new("kill").arg(child.to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while children.iter().any(|child| is_running(*child)) {
            assert!(
                Instant::now() < deadline,
                "dovecot processes {children:?} did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.dovecot_started = false;
    }

    /// Returns the pids of the processes whose title starts with `dovecot-INSTANCE/`.
    fn instance_processes(&self) -> Vec<u32> {
        let prefix = format!("dovecot-{}/", self.instance);
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| cmdline.starts_with(prefix.as_bytes()))
            })
            .collect()
    }

    /// Starts Dovecot again after [`MailServers::stop_dovecot`] and waits for its IMAP port.
    pub fn start_dovecot(&mut self) {
        let run = self.run_dir().to_owned();
        let started = spawn_daemon(
            Command::new(binary("dovecot"))
                .arg("-c")
                .arg(run.join("dovecot.conf")),
            &run.join("dovecot-restart.log"),
        );
        assert!(
            started,
            "dovecot failed to start again: {}",
            read(&run.join("dovecot-restart.log"))
        );
        self.dovecot_started = true;
        wait_for_port(self.imap_port, Duration::from_secs(15));
    }
}

/// Drops the `From ` separator line that mbox files put before each mail.
pub fn strip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|byte| *byte == b'\n') {
            Some(end) => &raw[end + 1..],
            None => &[],
        }
    } else {
        raw
    }
}

/// Turns bare LF line ends into CRLF.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    let mut previous = 0u8;
    for byte in raw {
        if *byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(*byte);
        previous = *byte;
    }
    out
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let run = self.run_dir().to_owned();
        let mut pids = Vec::new();
        if self.postfix_started {
            pids.extend(read_pid(&run.join("postfix/queue/pid/master.pid")));
            let _ = Command::new(binary("postfix"))
                .arg("-c")
                .arg(run.join("postfix/conf"))
                .arg("stop")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(pid) = read_pid(&run.join("dovecot/master.pid"))
            && self.dovecot_started
        {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            pids.push(pid);
        }

        // Wait for the masters to exit before the folder goes away under them.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && pids.iter().any(|pid| is_running(*pid)) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reserves `N` distinct free ports on 127.0.0.1. Another process may take one before the
/// server binds it; the suite accepts that small race.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Waits until 127.0.0.1:`port` accepts a connection.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} did not open within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Splits a raw message into its unfolded header lines and its body.
pub fn split_message(raw: &str) -> (Vec<String>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<String> = Vec::new();
    for line in head.lines() {
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(line.trim_start());
            }
            _ => headers.push(line.to_owned()),
        }
    }
    (headers, body.to_owned())
}

/// Value of the first header called `name` (case-insensitive).
pub fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn binary(name: &str) -> PathBuf {
    find_binary(name).unwrap_or_else(|| {
        panic!("{name} not found: install postfix dovecot-imapd dovecot-lmtpd (Debian)")
    })
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs a command that daemonizes, with its output in `log`; returns whether it succeeded.
fn spawn_daemon(command: &mut Command, log: &Path) -> bool {
    let file = std::fs::File::create(log).expect("create a start log");
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone the log handle"))
        .stderr(file)
        .status()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    status.success()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn run_checked(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
