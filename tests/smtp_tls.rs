//! The SMTP sink over STARTTLS and implicit TLS, against a real Postfix that presents a
//! certificate from a private CA generated for each test. Sinks are built from a `vigie.toml`,
//! so `ca_file` and `tls_server_name` go through the config loader as in production. Also
//! covers the config errors of those two keys.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;
use vigie::alert::{self, Dispatcher, Sink};
use vigie::config::{ConfigErrors, DispatcherConfig, Loaded, SinkConfig, load_with_env};
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::store::{OutboxAlert, Store};

use support::mail::{MailServers, ServerTls, header, split_message};

const IMAP_WAIT: Duration = Duration::from_secs(20);

/// Name in the relay's certificate; the tests reach the relay at 127.0.0.1.
const RELAY_NAME: &str = "mx.example.test";

/// A CA generated for one test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(common_name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Issues a server certificate for `names` (DNS names).
    fn server(&self, names: &[&str]) -> ServerTls {
        self.server_with(names, |_| {})
    }

    /// Issues a server certificate for `names`, with `adjust` applied to its parameters.
    fn server_with(
        &self,
        names: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> ServerTls {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, RELAY_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        adjust(&mut params);
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        ServerTls {
            chain_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A config folder with `vigie.toml`, one watchlist and any extra files.
struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    /// Writes `vigie.toml` with the given `[sinks.*]` tables after a minimal `[daemon]`.
    fn new(sinks: &str) -> ConfigDir {
        let dir = tempfile::tempdir().unwrap();
        let config = format!("[daemon]\nstate_dir = \"state\"\n\n{sinks}");
        std::fs::write(dir.path().join("vigie.toml"), config).unwrap();
        std::fs::create_dir(dir.path().join("watchlists")).unwrap();
        std::fs::write(
            dir.path().join("watchlists/acme.toml"),
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n",
        )
        .unwrap();
        ConfigDir { dir }
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("vigie.toml")
    }

    fn load(&self) -> Result<Loaded, ConfigErrors> {
        load_with_env(&self.config_path(), &|_| None)
    }

    fn sinks(&self) -> BTreeMap<String, SinkConfig> {
        match self.load() {
            Ok(loaded) => loaded.config.sinks,
            Err(errors) => panic!("test config does not load:\n{errors}"),
        }
    }
}

/// Renders a `[sinks.NAME]` table for an SMTP relay at 127.0.0.1:`port`, then `extra` keys.
fn smtp_table(name: &str, port: u16, security: &str, extra: &str) -> String {
    format!(
        "[sinks.{name}]\ntype = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         security = \"{security}\"\nfrom = \"vigie@alerts.test\"\n\
         to = [\"{}\"]\ntimeout_secs = 10\n{extra}\n",
        support::mail::MAILBOX
    )
}

fn lookalike(subject: &str) -> Finding {
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "acme.example".into(),
        techniques: vec!["homoglyph".into()],
        reasons: vec![format!("{subject} is a homoglyph of acme.example")],
        severity: Severity::High,
        score: 85,
        indicators: vec![Indicator::new(IndicatorKind::Domain, subject)],
        facts: BTreeMap::from([("a".to_string(), BTreeSet::from(["192.0.2.10".to_string()]))]),
        evidence: serde_json::json!({}),
        observed_at: OffsetDateTime::now_utc(),
    }
}

/// Builds a dispatcher with one-second retries over every sink of `sinks`.
fn dispatcher(store: &Arc<Store>, sinks: &BTreeMap<String, SinkConfig>) -> Dispatcher {
    let sinks: BTreeMap<String, Sink> = sinks
        .iter()
        .map(|(name, config)| (name.clone(), Sink::from_config(name, config).unwrap()))
        .collect();
    let config = DispatcherConfig {
        retry_initial_secs: 1,
        retry_max_secs: 1,
    };
    Dispatcher::new(Arc::clone(store), sinks, config)
}

fn open_store(dir: &Path) -> Arc<Store> {
    Arc::new(Store::open(&dir.join("vigie.db")).unwrap())
}

/// Records `finding` with one outbox row for each sink and returns its id.
fn record(store: &Store, finding: &Finding, sinks: &[&str]) -> i64 {
    let sinks: Vec<String> = sinks.iter().map(|s| s.to_string()).collect();
    store
        .record_finding(finding, &sinks, &alert::render)
        .unwrap()
        .finding_id()
}

fn row(store: &Store, finding_id: i64, sink: &str) -> OutboxAlert {
    store
        .outbox_for_finding(finding_id)
        .unwrap()
        .into_iter()
        .find(|row| row.sink == sink)
        .unwrap_or_else(|| panic!("no outbox row for sink {sink}"))
}

async fn start_servers(tls: ServerTls) -> MailServers {
    tokio::task::spawn_blocking(move || {
        let mut servers = MailServers::with_tls(tls);
        servers.start();
        servers
    })
    .await
    .unwrap()
}

/// Delivers one alert through the only sink, `mail`, and returns the raw message that
/// reached the mailbox.
async fn deliver_one(servers: &MailServers, config: &ConfigDir, subject: &str) -> String {
    let store_dir = tempfile::tempdir().unwrap();
    let store = open_store(store_dir.path());
    let finding = lookalike(subject);
    let id = record(&store, &finding, &["mail"]);
    let dispatcher = dispatcher(&store, &config.sinks());

    let delivered = dispatcher.deliver_due().await.unwrap();
    let outcome = row(&store, id, "mail");
    assert_eq!(delivered, 1, "not delivered: {:?}", outcome.last_error);
    assert!(outcome.delivered_at.is_some(), "{outcome:?}");

    let key = format!("{}-r1", finding.fingerprint);
    servers.wait_for_message(&key, IMAP_WAIT).await
}

/// Returns the `Received` header that Postfix added, which records the TLS version it used.
/// Dovecot's LMTP header comes first, so this picks the one written `by mx.example.test`.
fn postfix_received(raw: &str) -> String {
    let (headers, _body) = split_message(raw);
    headers
        .iter()
        .filter_map(|line| line.strip_prefix("Received:"))
        .find(|value| value.contains(&format!("by {RELAY_NAME}")))
        .unwrap_or_else(|| panic!("no Received header from Postfix in:\n{raw}"))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_delivers_with_private_ca() {
    let ca = TestCa::new("vigie test CA");
    let servers = start_servers(ca.server(&[RELAY_NAME])).await;
    // Port 587 as companies run it: STARTTLS, then SMTP AUTH inside the encrypted session.
    let extra = format!(
        "ca_file = \"tls/ca.pem\"\ntls_server_name = \"{RELAY_NAME}\"\n\
         username = \"{}\"\npassword_file = \"smtp-password\"",
        support::mail::MAILBOX
    );
    let config = ConfigDir::new(&smtp_table(
        "mail",
        servers.starttls_port(),
        "starttls",
        &extra,
    ));
    config.write("tls/ca.pem", ca.pem());
    config.write("smtp-password", support::mail::PASSWORD);

    let raw = deliver_one(&servers, &config, "acrne.example").await;

    let received = postfix_received(&raw);
    assert!(
        received.contains("using TLSv1."),
        "the mail did not travel over TLS: {received}"
    );
    assert!(
        raw.contains("Authenticated sender: soc@example.test"),
        "the mail was not sent with SMTP AUTH:\n{raw}"
    );
    let (headers, _body) = split_message(&raw);
    assert_eq!(header(&headers, "From"), Some("vigie@alerts.test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_rejected() {
    let ca = TestCa::new("vigie test CA");
    let expired = ca.server_with(&[RELAY_NAME], |params| {
        params.not_before = OffsetDateTime::now_utc() - time::Duration::days(30);
        params.not_after = OffsetDateTime::now_utc() - time::Duration::days(1);
    });
    let servers = start_servers(expired).await;
    let extra = format!("ca_file = \"ca.pem\"\ntls_server_name = \"{RELAY_NAME}\"");
    let config = ConfigDir::new(&smtp_table("mail", servers.tls_port(), "tls", &extra));
    config.write("ca.pem", ca.pem());
    let store_dir = tempfile::tempdir().unwrap();
    let store = open_store(store_dir.path());
    let id = record(&store, &lookalike("acme-mail.example"), &["mail"]);
    let dispatcher = dispatcher(&store, &config.sinks());

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    let failed = row(&store, id, "mail");
    assert!(failed.delivered_at.is_none(), "{failed:?}");
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains("TLS certificate of relay 127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("expired"), "{error}");
    assert!(error.contains("renew the relay's certificate"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_with_private_ca() {
    let ca = TestCa::new("vigie test CA");
    let servers = start_servers(ca.server(&[RELAY_NAME])).await;
    let extra = format!("ca_file = \"ca.pem\"\ntls_server_name = \"{RELAY_NAME}\"");
    let config = ConfigDir::new(&smtp_table("mail", servers.tls_port(), "tls", &extra));
    config.write("ca.pem", ca.pem());

    let raw = deliver_one(&servers, &config, "acme-login.example").await;

    let received = postfix_received(&raw);
    assert!(
        received.contains("using TLSv1."),
        "the mail did not travel over TLS: {received}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_bundle_with_several_certificates() {
    // The relay's CA is the second certificate of the bundle, as in a file that
    // concatenates an old and a new internal CA.
    let old_ca = TestCa::new("vigie old CA");
    let ca = TestCa::new("vigie test CA");
    let servers = start_servers(ca.server(&[RELAY_NAME])).await;
    let extra = format!("ca_file = \"bundle.pem\"\ntls_server_name = \"{RELAY_NAME}\"");
    let config = ConfigDir::new(&smtp_table("mail", servers.tls_port(), "tls", &extra));
    config.write("bundle.pem", format!("{}{}", old_ca.pem(), ca.pem()));

    let raw = deliver_one(&servers, &config, "acme-sso.example").await;

    assert!(postfix_received(&raw).contains("using TLSv1."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_rejected_and_retried() {
    let relay_ca = TestCa::new("vigie relay CA");
    let other_ca = TestCa::new("vigie other CA");
    let servers = start_servers(relay_ca.server(&[RELAY_NAME])).await;
    let name = format!("tls_server_name = \"{RELAY_NAME}\"");
    let sinks = [
        smtp_table(
            "other-ca",
            servers.starttls_port(),
            "starttls",
            &format!("ca_file = \"other.pem\"\n{name}"),
        ),
        smtp_table("public-roots", servers.tls_port(), "tls", &name),
    ];
    let config = ConfigDir::new(&sinks.concat());
    config.write("other.pem", other_ca.pem());
    let store_dir = tempfile::tempdir().unwrap();
    let store = open_store(store_dir.path());
    let finding = lookalike("acme-pay.example");
    let id = record(&store, &finding, &["other-ca", "public-roots"]);
    let dispatcher = dispatcher(&store, &config.sinks());

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);
    // The dispatcher pauses a failed sink for `retry_initial_secs`, then tries again.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    for sink in ["other-ca", "public-roots"] {
        let failed = row(&store, id, sink);
        assert!(failed.delivered_at.is_none(), "{failed:?}");
        assert_eq!(failed.attempts, 2, "{sink} was not retried: {failed:?}");
        let error = failed.last_error.unwrap_or_default();
        assert!(error.contains(&format!("sink {sink}:")), "{error}");
        assert!(
            error.contains("TLS certificate of relay 127.0.0.1:"),
            "{error}"
        );
        assert!(error.contains("UnknownIssuer"), "{error}");
        assert!(
            error.contains("add that CA's certificate to ca_file"),
            "{error}"
        );
    }
    let key = format!("{}-r1", finding.fingerprint);
    assert_eq!(servers.count_messages(&key).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_mismatch_rejected() {
    let ca = TestCa::new("vigie test CA");
    let servers = start_servers(ca.server(&[RELAY_NAME])).await;
    let ca_file = "ca_file = \"ca.pem\"";
    let sinks = [
        // The certificate names mx.example.test, not the address the sink connects to.
        smtp_table("by-address", servers.tls_port(), "tls", ca_file),
        smtp_table(
            "other-name",
            servers.starttls_port(),
            "starttls",
            &format!("{ca_file}\ntls_server_name = \"smtp.example.test\""),
        ),
    ];
    let config = ConfigDir::new(&sinks.concat());
    config.write("ca.pem", ca.pem());
    let store_dir = tempfile::tempdir().unwrap();
    let store = open_store(store_dir.path());
    let finding = lookalike("acme-hr.example");
    let id = record(&store, &finding, &["by-address", "other-name"]);
    let dispatcher = dispatcher(&store, &config.sinks());

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    for sink in ["by-address", "other-name"] {
        let failed = row(&store, id, sink);
        assert!(failed.delivered_at.is_none(), "{failed:?}");
        let error = failed.last_error.unwrap_or_default();
        assert!(
            error.contains("TLS certificate of relay 127.0.0.1:"),
            "{error}"
        );
        assert!(error.contains("not valid for name"), "{error}");
        assert!(error.contains("set tls_server_name"), "{error}");
    }
    let key = format!("{}-r1", finding.fingerprint);
    assert_eq!(servers.count_messages(&key).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_not_offered_sends_nothing() {
    let ca = TestCa::new("vigie test CA");
    let servers = start_servers(ca.server(&[RELAY_NAME])).await;
    // The first listener offers no STARTTLS.
    let extra = format!("ca_file = \"ca.pem\"\ntls_server_name = \"{RELAY_NAME}\"");
    let config = ConfigDir::new(&smtp_table("mail", servers.smtp_port, "starttls", &extra));
    config.write("ca.pem", ca.pem());
    let store_dir = tempfile::tempdir().unwrap();
    let store = open_store(store_dir.path());
    let finding = lookalike("acme-it.example");
    let id = record(&store, &finding, &["mail"]);
    let dispatcher = dispatcher(&store, &config.sinks());

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    let failed = row(&store, id, "mail");
    assert!(failed.delivered_at.is_none(), "{failed:?}");
    let error = failed.last_error.unwrap_or_default();
    assert!(error.contains("does not offer STARTTLS"), "{error}");
    assert!(error.contains("nothing was sent"), "{error}");

    // Postfix counts the commands of each session when it ends: the session must have ended
    // without a MAIL command, so no part of the alert crossed in clear.
    let log = wait_for_disconnect(&servers).await;
    let disconnect = log
        .lines()
        .find(|line| line.contains("disconnect from") && line.contains("ehlo="))
        .unwrap();
    assert!(disconnect.contains("ehlo=1"), "{disconnect}");
    assert!(!disconnect.contains("mail="), "{disconnect}");
    let key = format!("{}-r1", finding.fingerprint);
    assert_eq!(servers.count_messages(&key).await, 0);
}

/// Waits until Postfix logs the end of an SMTP session that sent EHLO, and returns its log.
/// Sessions without commands are the harness's own port checks.
async fn wait_for_disconnect(servers: &MailServers) -> String {
    for _ in 0..100 {
        let log = servers.postfix_log();
        if log
            .lines()
            .any(|line| line.contains("disconnect from") && line.contains("ehlo="))
        {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "postfix logged no end of session:\n{}",
        servers.postfix_log()
    );
}

// Config errors of `ca_file` and `tls_server_name`.

/// Loads a config whose only sink has `extra` keys, with `files` beside it, and returns the
/// errors. Panics if it loads.
fn config_errors(security: &str, extra: &str, files: &[(&str, &[u8])]) -> ConfigErrors {
    let config = ConfigDir::new(&smtp_table("mail", 465, security, extra));
    for (name, contents) in files {
        config.write(name, contents);
    }
    match config.load() {
        Ok(_) => panic!("config with {extra:?} loaded"),
        Err(errors) => errors,
    }
}

/// Returns the line of `key` in a config built by [`config_errors`].
fn line_of_key(extra: &str, key: &str) -> usize {
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n\n{}",
        smtp_table("mail", 465, "tls", extra)
    );
    text.lines()
        .position(|line| line.starts_with(key))
        .map(|index| index + 1)
        .unwrap()
}

fn only_error(errors: &ConfigErrors) -> &vigie::config::ConfigError {
    assert_eq!(errors.len(), 1, "{errors}");
    errors.iter().next().unwrap()
}

#[test]
fn ca_file_missing_names_path() {
    let extra = "ca_file = \"tls/missing.pem\"";
    let errors = config_errors("tls", extra, &[]);

    let error = only_error(&errors);
    assert!(error.file.ends_with("vigie.toml"), "{error}");
    assert_eq!(error.line, line_of_key(extra, "ca_file"), "{error}");
    assert!(error.message.contains("sinks.mail.ca_file"), "{error}");
    assert!(error.message.contains("tls/missing.pem"), "{error}");
    assert!(error.message.contains("not found"), "{error}");
    assert!(error.fix.contains("relative path starts from"), "{error}");
}

#[test]
fn ca_file_without_certificate_rejected() {
    let extra = "ca_file = \"ca.der\"";
    // A DER file, or a PEM file holding only a key, has no CERTIFICATE block.
    let key = KeyPair::generate().unwrap();
    let cases: [(&str, Vec<u8>); 2] = [
        ("DER certificate", TestCa::new("der").issuer.der().to_vec()),
        ("key only", key.serialize_pem().into_bytes()),
    ];
    for (case, contents) in cases {
        let errors = config_errors("tls", extra, &[("ca.der", &contents)]);

        let error = only_error(&errors);
        assert_eq!(error.line, line_of_key(extra, "ca_file"), "{case}: {error}");
        assert!(
            error.message.contains("contains no PEM certificate"),
            "{case}: {error}"
        );
        assert!(
            error.fix.contains("openssl x509 -inform der"),
            "{case}: {error}"
        );
    }
}

#[test]
fn ca_file_broken_pem_rejected() {
    let extra = "ca_file = \"ca.pem\"";
    let pem = TestCa::new("vigie test CA").pem();
    let truncated = &pem[..pem.len() / 2];
    let errors = config_errors("starttls", extra, &[("ca.pem", truncated.as_bytes())]);

    let error = only_error(&errors);
    assert_eq!(error.line, line_of_key(extra, "ca_file"), "{error}");
    assert!(error.message.contains("is not valid PEM"), "{error}");
    assert!(
        error.message.contains("no -----END CERTIFICATE----- line"),
        "{error}"
    );
}

#[test]
fn ca_file_garbage_certificate_rejected() {
    let extra = "ca_file = \"ca.pem\"";
    // Valid PEM and base64 around bytes that are not a certificate.
    let garbage =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let errors = config_errors("tls", extra, &[("ca.pem", garbage.as_bytes())]);

    let error = only_error(&errors);
    assert_eq!(error.line, line_of_key(extra, "ca_file"), "{error}");
    assert!(
        error.message.contains("certificate 1 of CA file"),
        "{error}"
    );
    assert!(error.message.contains("cannot be parsed"), "{error}");
}

#[test]
fn tls_server_name_invalid_rejected() {
    let extra = "tls_server_name = \"mx example\"";
    let errors = config_errors("tls", extra, &[]);

    let error = only_error(&errors);
    assert_eq!(error.line, line_of_key(extra, "tls_server_name"), "{error}");
    assert!(
        error.message.contains("is not a DNS name or an IP address"),
        "{error}"
    );
}

#[test]
fn tls_keys_with_plain_rejected() {
    let extra = "ca_file = \"ca.pem\"\ntls_server_name = \"mx.example.test\"";
    let pem = TestCa::new("vigie test CA").pem();
    let errors = config_errors("plain", extra, &[("ca.pem", pem.as_bytes())]);

    assert_eq!(errors.len(), 2, "{errors}");
    for (error, key) in errors.iter().zip(["ca_file", "tls_server_name"]) {
        assert_eq!(error.line, line_of_key(extra, key), "{error}");
        assert!(error.message.contains("security is \"plain\""), "{error}");
        assert!(error.fix.contains("\"starttls\" or \"tls\""), "{error}");
    }
}

#[test]
fn ca_file_loaded_with_every_certificate() {
    let first = TestCa::new("vigie first CA");
    let second = TestCa::new("vigie second CA");
    let config = ConfigDir::new(&smtp_table(
        "mail",
        465,
        "tls",
        "ca_file = \"tls/bundle.pem\"\ntls_server_name = \"10.0.0.25\"",
    ));
    config.write("tls/bundle.pem", format!("{}{}", first.pem(), second.pem()));

    let sinks = config.sinks();
    let SinkConfig::Smtp(smtp) = &sinks["mail"] else {
        panic!("mail sink is not smtp");
    };
    let ca_file = smtp.ca_file.as_ref().expect("ca_file read");
    assert!(ca_file.path.ends_with("tls/bundle.pem"), "{ca_file:?}");
    let certificates: Vec<&[u8]> = ca_file.certificates.iter().map(|c| c.as_ref()).collect();
    assert_eq!(
        certificates,
        [first.issuer.der().as_ref(), second.issuer.der().as_ref()]
    );
    assert_eq!(smtp.tls_server_name.as_deref(), Some("10.0.0.25"));
}
