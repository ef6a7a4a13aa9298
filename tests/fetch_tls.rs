//! HTTPS pages: the certificate's subject, issuer, validity and names reach the page evidence
//! when the certificate verifies, and a certificate that does not verify is an error kept
//! with the evidence, never a silent success.

mod support;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use support::dns::TestDns;
use support::tls::{LabTls, serve};
use vigie::config::{CaFile, DnsConfig, FetchConfig};
use vigie::evidence::parked::PageState;
use vigie::evidence::web::{CheckContext, check_host};
use vigie::net::fetch::Fetcher;

const HOST: &str = "secure.lab.test";
const PAGE: &str = "<html><head><title>Secure sign in</title></head><body><form>\
    <input name=user><input type=password name=pw></form></body></html>";

fn fetcher(dns: &TestDns, ca: Option<&str>) -> Fetcher {
    let ca_file = ca.map(|pem| CaFile {
        path: "lab-ca.pem".into(),
        certificates: CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(Result::unwrap)
            .collect(),
    });
    let config = FetchConfig {
        allow_private_addresses: true,
        timeout_secs: 5,
        ca_file,
        ..FetchConfig::default()
    };
    let dns = DnsConfig {
        nameservers: vec![dns.addr],
        timeout_ms: 1000,
        attempts: 2,
        concurrency: 10,
    };
    Fetcher::new(&config, &dns).unwrap()
}

async fn dns() -> TestDns {
    TestDns::builder()
        .zone(
            "lab.test.",
            "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns\n\
             ns 3600 IN A 127.0.0.1\nsecure 3600 IN A 127.0.0.1\n",
        )
        .start()
        .await
}

#[tokio::test]
async fn certificate_reaches_the_evidence() {
    let tls = LabTls::new("Lab Test Root CA", HOST, &[HOST]);
    let port = serve(&tls, "text/html", PAGE.to_string()).await.port;
    let dns = dns().await;
    let fetcher = fetcher(&dns, Some(&tls.ca_pem));

    let evidence = check_host(
        &fetcher,
        &format!("{HOST}:{port}"),
        &CheckContext::default(),
    )
    .await;
    assert_eq!(evidence.state, PageState::Live, "{:?}", evidence.errors);
    assert!(evidence.url.as_deref().unwrap().starts_with("https://"));
    assert!(evidence.login_form);
    let certificate = evidence.certificate.expect("certificate read");
    assert!(
        certificate.subject.contains(&format!("CN={HOST}")),
        "{}",
        certificate.subject
    );
    assert!(
        certificate.issuer.contains("CN=Lab Test Root CA"),
        "{}",
        certificate.issuer
    );
    assert_eq!(certificate.names, vec![HOST.to_string()]);
    assert!(certificate.not_before < certificate.not_after);
    assert_eq!(certificate.sha256.len(), 64);
}

#[tokio::test]
async fn untrusted_certificate_is_an_error() {
    let tls = LabTls::new("Lab Test Root CA", HOST, &[HOST]);
    let port = serve(&tls, "text/html", PAGE.to_string()).await.port;
    let dns = dns().await;
    let fetcher = fetcher(&dns, None);

    let evidence = check_host(
        &fetcher,
        &format!("{HOST}:{port}"),
        &CheckContext::default(),
    )
    .await;
    // https fails verification; plain http to the TLS port fails too.
    assert_eq!(evidence.state, PageState::Unreachable);
    assert!(evidence.certificate.is_none());
    assert!(
        evidence
            .errors
            .iter()
            .any(|e| e.contains(&format!("https://{HOST}:{port}/"))),
        "{:?}",
        evidence.errors
    );
}
