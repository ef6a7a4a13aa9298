//! A webhook receiver on 127.0.0.1 that checks vigie's HMAC-SHA256 signature and keeps what
//! it received.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
struct Received {
    alerts: Vec<(String, serde_json::Value)>,
    bad_signatures: usize,
}

/// A running receiver; it stops when dropped.
pub struct WebhookReceiver {
    pub addr: std::net::SocketAddr,
    received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    secret: String,
    received: Arc<Mutex<Received>>,
}

impl WebhookReceiver {
    /// Starts a receiver on a free port that accepts requests signed with `secret`.
    pub async fn start(secret: &str) -> WebhookReceiver {
        let received = Arc::new(Mutex::new(Received::default()));
        let shared = Arc::new(Shared {
            secret: secret.to_string(),
            received: received.clone(),
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Number of accepted requests.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().alerts.len()
    }

    pub fn bad_signatures(&self) -> usize {
        self.received.lock().unwrap().bad_signatures
    }

    /// Idempotency keys of the accepted requests, in arrival order.
    pub fn keys(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .alerts
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// `subject` of each accepted request, in arrival order (empty when absent).
    pub fn subjects(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .alerts
            .iter()
            .map(|(_, alert)| alert["subject"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The first accepted alert whose `subject` is `subject`.
    pub fn alert_for(&self, subject: &str) -> Option<serde_json::Value> {
        let received = self.received.lock().unwrap();
        received
            .alerts
            .iter()
            .find(|(_, alert)| alert["subject"] == subject)
            .map(|(_, alert)| alert.clone())
    }

    /// Waits until `n` requests were accepted or `limit` runs out; returns the count.
    pub async fn wait_for_count(&self, n: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline && self.count() < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.count()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let timestamp = header("x-vigie-timestamp");
    let signature = header("x-vigie-signature");
    let key = header("idempotency-key");

    let mut mac = Hmac::<Sha256>::new_from_slice(shared.secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));

    let mut received = shared.received.lock().unwrap();
    if timestamp.is_empty() || signature != expected {
        received.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(alert) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    received.alerts.push((key, alert));
    StatusCode::OK
}
