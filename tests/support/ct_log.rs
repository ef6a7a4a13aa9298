//! A Certificate Transparency log on 127.0.0.1 that speaks the two RFC 6962 calls vigie
//! makes (`get-sth`, `get-entries`), and the certificates to put in it: generated ones
//! (X509 and precertificate entries, signed by a test CA with rcgen) and real ones read from
//! DER files.
//!
//! The log can be told to serve at most N entries per request, to answer 429 with a
//! `Retry-After`, to wait before it answers `get-entries` (a slow log), and to serve a tree
//! head of another size (a broken or lagging log). It records every request.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, DnValue, IsCa, Issuer, KeyPair,
    PublicKeyData, SerialNumber,
};
use sha2::{Digest, Sha256};
use vigie::ct::leaf::{encode_precert_leaf, encode_x509_leaf};
use vigie::ct::merkle::{leaf_hash, root_hash};

/// OID of the CT precertificate poison extension (RFC 6962 section 3.1).
const POISON_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];

/// One request the log received.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    /// `get-sth` or `get-entries`.
    pub call: &'static str,
    pub start: u64,
    pub end: u64,
    pub status: u16,
    /// Entries served.
    pub served: u64,
}

#[derive(Default)]
struct Inner {
    /// Each entry as its JSON object, ready to join.
    entries: Vec<String>,
    leaf_hashes: Vec<[u8; 32]>,
    /// Root hash cached for a tree size.
    root: Option<(usize, [u8; 32])>,
    max_per_request: Option<u64>,
    /// `get-entries` requests still to answer 429, with the `Retry-After` to send.
    throttled: VecDeque<u64>,
    /// Tree head served instead of the real one: size and timestamp (now when `None`).
    head_override: Option<(u64, Option<u64>)>,
    /// Root hash served instead of the real one.
    root_override: Option<[u8; 32]>,
    /// Wait before each `get-entries` answer; zero answers at once.
    entries_delay: Duration,
    last_timestamp: u64,
    requests: Vec<Request>,
}

/// A running test log. Dropping it leaves the server running until the test ends.
#[derive(Clone)]
pub struct CtLog {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl CtLog {
    /// Starts an empty log on 127.0.0.1 on a free port.
    pub async fn start() -> CtLog {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/ct/v1/get-sth", get(get_sth))
            .route("/ct/v1/get-entries", get(get_entries))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the CT log");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        CtLog {
            url: format!("http://{addr}/"),
            inner,
        }
    }

    /// Appends one entry: the `MerkleTreeLeaf` and the `extra_data` chain.
    pub fn push(&self, leaf: &[u8], extra_data: &[u8]) {
        let mut inner = self.inner.lock().unwrap();
        inner.entries.push(format!(
            r#"{{"leaf_input":"{}","extra_data":"{}"}}"#,
            STANDARD.encode(leaf),
            STANDARD.encode(extra_data)
        ));
        inner.leaf_hashes.push(leaf_hash(leaf));
    }

    /// Appends one entry whose `leaf_input` is `text` as is, such as text that is not base64.
    pub fn push_raw(&self, leaf_input: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.entries.push(format!(
            r#"{{"leaf_input":"{leaf_input}","extra_data":""}}"#
        ));
        inner.leaf_hashes.push(leaf_hash(leaf_input.as_bytes()));
    }

    pub fn len(&self) -> u64 {
        self.inner.lock().unwrap().entries.len() as u64
    }

    /// Serves at most `max` entries per `get-entries`, as real logs do.
    pub fn set_max_per_request(&self, max: u64) {
        self.inner.lock().unwrap().max_per_request = Some(max);
    }

    /// Answers the next `count` `get-entries` requests with 429 and `Retry-After: secs`.
    pub fn throttle(&self, count: usize, retry_after_secs: u64) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .throttled
            .extend(std::iter::repeat_n(retry_after_secs, count));
    }

    /// Waits `delay` before answering each `get-entries` request from now on, as a slow or
    /// distant log does. The request is recorded once answered.
    pub fn set_entries_delay(&self, delay: Duration) {
        self.inner.lock().unwrap().entries_delay = delay;
    }

    /// Serves a tree head of `size` (and of `timestamp_ms`, or a fresh one) from now on;
    /// `None` serves the real head again.
    pub fn override_head(&self, head: Option<(u64, Option<u64>)>) {
        self.inner.lock().unwrap().head_override = head;
    }

    /// Serves `root` as the root hash of every tree head from now on; `None` serves the
    /// real one again.
    pub fn override_root(&self, root: Option<[u8; 32]>) {
        self.inner.lock().unwrap().root_override = root;
    }

    /// Returns the timestamp of the last tree head served.
    pub fn last_timestamp(&self) -> u64 {
        self.inner.lock().unwrap().last_timestamp
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn get_sth(State(inner): State<Arc<Mutex<Inner>>>) -> Response {
    let mut inner = inner.lock().unwrap();
    let real_size = inner.entries.len() as u64;
    let (size, timestamp) = match inner.head_override {
        Some((size, Some(timestamp))) => (size, timestamp),
        Some((size, None)) => (size, now_ms().max(inner.last_timestamp + 1)),
        None => (real_size, now_ms().max(inner.last_timestamp + 1)),
    };
    inner.last_timestamp = inner.last_timestamp.max(timestamp);
    let size = size as usize;
    let root = match (inner.root_override, inner.root) {
        (Some(root), _) => root,
        (None, Some((cached, root))) if cached == size => root,
        (None, _) => {
            let hashes: Vec<[u8; 32]> = if size <= inner.leaf_hashes.len() {
                inner.leaf_hashes[..size].to_vec()
            } else {
                // A head larger than the log: hash made-up leaves.
                (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect()
            };
            let root = root_hash(&hashes);
            inner.root = Some((size, root));
            root
        }
    };
    inner.requests.push(Request {
        at: Instant::now(),
        call: "get-sth",
        start: 0,
        end: 0,
        status: 200,
        served: 0,
    });
    let body = format!(
        r#"{{"tree_size":{size},"timestamp":{timestamp},"sha256_root_hash":"{}","tree_head_signature":"BAMARjBEAiA="}}"#,
        STANDARD.encode(root)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn get_entries(
    State(inner): State<Arc<Mutex<Inner>>>,
    RawQuery(query): RawQuery,
) -> Response {
    let delay = inner.lock().unwrap().entries_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut inner = inner.lock().unwrap();
    let (start, end) = parse_range(query.as_deref().unwrap_or_default());
    let mut record = Request {
        at: Instant::now(),
        call: "get-entries",
        start,
        end,
        status: 200,
        served: 0,
    };
    if let Some(retry_after) = inner.throttled.pop_front() {
        record.status = 429;
        inner.requests.push(record);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            "slow down",
        )
            .into_response();
    }
    let size = inner.entries.len() as u64;
    if start > end || start >= size {
        record.status = 400;
        inner.requests.push(record);
        return (StatusCode::BAD_REQUEST, "bad range").into_response();
    }
    let mut last = end.min(size - 1);
    if let Some(max) = inner.max_per_request {
        last = last.min(start + max - 1);
    }
    let body = format!(
        r#"{{"entries":[{}]}}"#,
        inner.entries[start as usize..=last as usize].join(",")
    );
    record.served = last - start + 1;
    inner.requests.push(record);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn parse_range(query: &str) -> (u64, u64) {
    let mut start = u64::MAX;
    let mut end = 0;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("start", value)) => start = value.parse().unwrap_or(u64::MAX),
            Some(("end", value)) => end = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    (start, end)
}

/// A test certificate authority that signs X509 certificates and precertificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// DER of the CA certificate.
    pub der: Vec<u8>,
    /// SHA-256 of the CA's `SubjectPublicKeyInfo`, the precertificate leaves' issuer_key_hash.
    pub key_hash: [u8; 32],
}

/// A precertificate: the `TBSCertificate` the log puts in the leaf (without the poison
/// extension) and the signed precertificate (with it) that goes in `extra_data`.
pub struct Precert {
    pub tbs: Vec<u8>,
    pub der: Vec<u8>,
}

impl TestCa {
    /// Makes a CA named `C=US, O=<org>, CN=<cn>`.
    pub fn new(org: &str, cn: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CountryName, "US");
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let key_hash: [u8; 32] = Sha256::digest(key.subject_public_key_info()).into();
        TestCa {
            issuer: Issuer::new(params, key),
            der,
            key_hash,
        }
    }

    /// Signs a certificate for `names` (SAN dNSNames, ASCII); the subject CN is `cn`, or the
    /// first name. Valid from 2026-01-01 for 90 days.
    pub fn certificate(&self, serial: u64, cn: Option<&str>, names: &[&str]) -> Vec<u8> {
        let params = self.leaf_params(serial, cn, names, false);
        let key = KeyPair::generate().unwrap();
        params.signed_by(&key, &self.issuer).unwrap().der().to_vec()
    }

    /// Signs a precertificate for `names` and returns it with its leaf `TBSCertificate`.
    pub fn precertificate(&self, serial: u64, cn: Option<&str>, names: &[&str]) -> Precert {
        let key = KeyPair::generate().unwrap();
        let with_poison = self.leaf_params(serial, cn, names, true);
        let der = with_poison
            .signed_by(&key, &self.issuer)
            .unwrap()
            .der()
            .to_vec();
        // The leaf holds the TBSCertificate without the poison: the same fields signed again
        // without that extension.
        let without = self.leaf_params(serial, cn, names, false);
        let plain = without
            .signed_by(&key, &self.issuer)
            .unwrap()
            .der()
            .to_vec();
        Precert {
            tbs: tbs_of(&plain),
            der,
        }
    }

    fn leaf_params(
        &self,
        serial: u64,
        cn: Option<&str>,
        names: &[&str],
        poison: bool,
    ) -> CertificateParams {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        let cn = cn.map(str::to_string).or_else(|| names.first().cloned());
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(DnType::CommonName, DnValue::Utf8String(cn));
        }
        // A leading byte below 0x80 keeps the DER integer positive and minimal.
        let mut serial_bytes = vec![0x42];
        serial_bytes.extend_from_slice(&serial.to_be_bytes());
        params.serial_number = Some(SerialNumber::from(serial_bytes));
        params.not_before = time::macros::datetime!(2026-01-01 00:00 UTC);
        params.not_after = time::macros::datetime!(2026-04-01 00:00 UTC);
        if poison {
            let mut extension = CustomExtension::from_oid_content(POISON_OID, vec![0x05, 0x00]);
            extension.set_criticality(true);
            params.custom_extensions.push(extension);
        }
        params
    }

    /// Returns the leaf and `extra_data` of an X509 entry for `certificate`.
    pub fn x509_entry(&self, certificate: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let leaf = encode_x509_leaf(now_ms(), certificate);
        (leaf, chain(&[&self.der]))
    }

    /// Returns the leaf and `extra_data` of a precertificate entry.
    pub fn precert_entry(&self, precert: &Precert) -> (Vec<u8>, Vec<u8>) {
        let leaf = encode_precert_leaf(now_ms(), &self.key_hash, &precert.tbs);
        let mut extra = Vec::new();
        push_u24(&mut extra, &precert.der);
        extra.extend(chain(&[&self.der]));
        (leaf, extra)
    }
}

/// Returns the DER `TBSCertificate` inside a DER certificate.
pub fn tbs_of(certificate: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(certificate)
        .expect("a certificate rcgen made parses");
    parsed.tbs_certificate.as_ref().to_vec()
}

/// Encodes a `certificate_chain` vector of `ASN.1Cert`s.
fn chain(certificates: &[&[u8]]) -> Vec<u8> {
    let mut items = Vec::new();
    for certificate in certificates {
        push_u24(&mut items, certificate);
    }
    let mut out = Vec::new();
    push_u24(&mut out, &items);
    out
}

fn push_u24(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = bytes.len() as u32;
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
}

/// Waits until `condition` holds, checking every 50 ms, for up to `timeout`.
pub async fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}
