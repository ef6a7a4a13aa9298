//! The inbox source over TLS (rustls) against a Dovecot on 127.0.0.1 that presents a
//! certificate of a CA made for the test: implicit TLS, STARTTLS, and an untrusted CA.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_util::sync::CancellationToken;
use vigie::sources::SourceContext;

use support::mail::{MailServers, ServerTls};

const PASSWORD_VARIABLE: &str = "VIGIE_TEST_IMAP_PASSWORD";
const SERVER_NAME: &str = "imap.example.test";
const MAIL: &str = "spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml";

/// A CA and a server certificate for [`SERVER_NAME`]; returns the CA's PEM and the server's.
fn certificates() -> (String, ServerTls) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "vigie inbox test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let mut server = CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let certificate = server.signed_by(&key, &issuer).unwrap();
    (
        issuer.pem(),
        ServerTls {
            chain_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

async fn servers(tls: ServerTls) -> MailServers {
    tokio::task::spawn_blocking(move || {
        let mut servers = MailServers::with_tls(tls);
        servers.start();
        servers
    })
    .await
    .unwrap()
}

/// Runs the inbox source with `keys` until `done` holds or `limit` passes; returns the
/// number of mails stored and the health errors of the folder.
async fn run_source(
    dir: &Path,
    keys: &str,
    limit: Duration,
    done: impl Fn(usize) -> bool,
) -> (usize, Vec<String>) {
    let extra = format!(
        "[inbox.abuse]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nusername = \"{}\"\n\
         password_env = \"{PASSWORD_VARIABLE}\"\nwatchlist = \"example\"\ntimeout_secs = 10\n\
         reconnect_max_secs = 1\ntls_server_name = \"{SERVER_NAME}\"\n{keys}\n",
        support::mail::MAILBOX
    );
    let config =
        support::inbox::load_config(dir, &extra, &[(PASSWORD_VARIABLE, support::mail::PASSWORD)]);
    let (pipeline, store, config_tx) = support::inbox::pipeline(dir, config);
    let health = pipeline.health().clone();
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let task = tokio::spawn(vigie::sources::inbox::run(ctx));

    let deadline = Instant::now() + limit;
    while !done(store.mails().unwrap().len()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    task.await.unwrap();
    drop(config_tx);
    let errors = health
        .snapshot()
        .get("inbox:abuse/INBOX")
        .map(|folder| {
            folder
                .recent_errors
                .iter()
                .map(|(_, message)| message.clone())
                .collect()
        })
        .unwrap_or_default();
    (store.mails().unwrap().len(), errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_private_ca() {
    let (ca, tls) = certificates();
    let servers = servers(tls).await;
    servers
        .append("INBOX", &support::inbox::fixture(MAIL))
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let imaps = servers.tls_ports.unwrap().imaps;

    let keys = format!("security = \"tls\"\nport = {imaps}\nca_file = \"ca.pem\"");
    let (mails, errors) = run_source(dir.path(), &keys, Duration::from_secs(20), |count| {
        count == 1
    })
    .await;

    assert_eq!(mails, 1, "errors: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_private_ca() {
    let (ca, tls) = certificates();
    let servers = servers(tls).await;
    servers
        .append("INBOX", &support::inbox::fixture(MAIL))
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();

    let keys = format!(
        "security = \"starttls\"\nport = {}\nca_file = \"ca.pem\"",
        servers.imap_port
    );
    let (mails, errors) = run_source(dir.path(), &keys, Duration::from_secs(20), |count| {
        count == 1
    })
    .await;

    assert_eq!(mails, 1, "errors: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_rejected() {
    let (_ca, tls) = certificates();
    let servers = servers(tls).await;
    servers
        .append("INBOX", &support::inbox::fixture(MAIL))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let imaps = servers.tls_ports.unwrap().imaps;

    let keys = format!("security = \"tls\"\nport = {imaps}");
    let (mails, errors) = run_source(dir.path(), &keys, Duration::from_secs(3), |_| false).await;

    assert_eq!(mails, 0);
    assert!(!errors.is_empty(), "no failure recorded");
    assert!(
        errors
            .iter()
            .all(|error| error.contains("TLS handshake failed")),
        "{errors:?}"
    );
    assert!(errors[0].contains("ca_file"), "{}", errors[0]);
}
