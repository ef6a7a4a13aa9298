//! HTTPS pages: the certificate's subject, issuer, validity and names reach the page evidence
//! when the certificate verifies, and a certificate that does not verify is an error kept
//! with the evidence, never a silent success.

mod support;

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::dns::TestDns;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigie::config::{CaFile, DnsConfig, FetchConfig};
use vigie::evidence::parked::PageState;
use vigie::evidence::web::{CheckContext, check_host};
use vigie::net::fetch::Fetcher;

const HOST: &str = "secure.lab.test";
const PAGE: &str = "<html><head><title>Secure sign in</title></head><body><form>\
    <input name=user><input type=password name=pw></form></body></html>";

struct Tls {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn certificates() -> Tls {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Lab Test Root CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let mut server = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, HOST);
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let certificate = server.signed_by(&key, &issuer).unwrap();
    Tls {
        ca_pem: issuer.pem(),
        chain: vec![certificate.der().clone()],
        key: PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
    }
}

/// Serves `PAGE` over TLS on a free port of 127.0.0.1 until the test ends.
async fn serve(tls: &Tls) -> u16 {
    vigie::init_tls();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(tls.chain.clone(), tls.key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{PAGE}",
                    PAGE.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

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
    let tls = certificates();
    let port = serve(&tls).await;
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
    let tls = certificates();
    let port = serve(&tls).await;
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
