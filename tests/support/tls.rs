//! A lab certificate authority and an HTTPS server on 127.0.0.1: certificates made with
//! rcgen, served with tokio-rustls, the same body for every request.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA and one server certificate it signed, with the server's key.
pub struct LabTls {
    /// The CA certificate in PEM, for a `ca_file`.
    pub ca_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl LabTls {
    /// Makes the CA `ca_name` and a server certificate with the common name `common_name`
    /// for `names` (host names, or IP addresses written as text).
    pub fn new(ca_name: &str, common_name: &str, names: &[&str]) -> LabTls {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut server = CertificateParams::new(names).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, common_name);
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let certificate = server.signed_by(&key, &issuer).unwrap();
        LabTls {
            ca_pem: issuer.pem(),
            chain: vec![certificate.der().clone()],
            key: PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        }
    }
}

/// A running HTTPS server and its counts of connections.
pub struct HttpsServer {
    pub port: u16,
    /// Connections whose TLS handshake failed (the client rejected the certificate).
    pub rejected: Arc<AtomicUsize>,
    /// Requests that got the body.
    pub served: Arc<AtomicUsize>,
}

impl HttpsServer {
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::SeqCst)
    }

    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

/// Serves `body` as `content_type` over TLS with `tls`'s certificate, on a free port of
/// 127.0.0.1, until the test ends.
pub async fn serve(tls: &LabTls, content_type: &'static str, body: String) -> HttpsServer {
    vigie::init_tls();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(tls.chain.clone(), tls.key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rejected = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let (rejected_count, served_count) = (rejected.clone(), served.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            let (rejected, served) = (rejected_count.clone(), served_count.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    rejected.fetch_add(1, Ordering::SeqCst);
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
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
                served.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    HttpsServer {
        port,
        rejected,
        served,
    }
}
