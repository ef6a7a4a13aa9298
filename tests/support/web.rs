//! A web server on a loopback address for the fetcher and evidence tests: pages chosen by
//! Host header and path, changeable while the server runs, with a count of the requests each
//! path received and the headers of the last one.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

/// One answer of the server.
#[derive(Clone, Debug)]
pub struct Page {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait before answering.
    pub delay: Duration,
}

impl Page {
    /// A 200 answer with an HTML body.
    pub fn html(body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// A 200 answer with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            headers: vec![("content-type".into(), "application/rdap+json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Page {
        Page {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// An answer with only a status.
    pub fn status(status: u16) -> Page {
        Page {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Page {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Page {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Site {
    /// Pages by `host path`; `* path` answers for any host.
    pages: HashMap<String, Page>,
    hits: HashMap<String, usize>,
    last_headers: HashMap<String, HeaderMap>,
    total: usize,
}

/// A running server; it stops when dropped.
pub struct WebServer {
    pub addr: SocketAddr,
    site: Arc<Mutex<Site>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> WebServer {
        Self::start_on("127.0.0.1".parse().unwrap(), 0).await
    }

    /// Starts a server on `ip:port` (port 0 for a free one); panics when the port is taken.
    pub async fn start_on(ip: IpAddr, port: u16) -> WebServer {
        Self::try_start_on(ip, port)
            .await
            .unwrap_or_else(|error| panic!("bind {ip}:{port}: {error}"))
    }

    /// Starts a server on `ip:port`, or returns the bind error.
    pub async fn try_start_on(ip: IpAddr, port: u16) -> std::io::Result<WebServer> {
        assert!(ip.is_loopback(), "test servers listen on loopback only");
        let listener = tokio::net::TcpListener::bind((ip, port)).await?;
        let addr = listener.local_addr()?;
        let site = Arc::new(Mutex::new(Site::default()));
        let app = Router::new().fallback(answer).with_state(site.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebServer { addr, site, task })
    }

    /// Serves `page` at `path` for every host.
    pub fn set(&self, path: &str, page: Page) {
        self.set_for("*", path, page);
    }

    /// Serves `page` at `path` for requests whose Host header names `host` (port left out).
    pub fn set_for(&self, host: &str, path: &str, page: Page) {
        let mut site = self.site.lock().unwrap();
        site.pages.insert(format!("{host} {path}"), page);
    }

    /// Requests received at `path`, every host together.
    pub fn hits(&self, path: &str) -> usize {
        let site = self.site.lock().unwrap();
        site.hits.get(path).copied().unwrap_or(0)
    }

    /// Requests received at all.
    pub fn total_hits(&self) -> usize {
        self.site.lock().unwrap().total
    }

    /// Headers of the last request for `path`.
    pub fn last_headers(&self, path: &str) -> Option<HeaderMap> {
        self.site.lock().unwrap().last_headers.get(path).cloned()
    }

    /// `http://HOST:PORT` for this server under another host name.
    pub fn url_for(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }
}

async fn answer(State(site): State<Arc<Mutex<Site>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name).to_owned())
        .unwrap_or_default();
    let page = {
        let mut site = site.lock().unwrap();
        site.total += 1;
        *site.hits.entry(path.clone()).or_default() += 1;
        site.last_headers
            .insert(path.clone(), request.headers().clone());
        site.pages
            .get(&format!("{host} {path}"))
            .or_else(|| site.pages.get(&format!("* {path}")))
            .cloned()
    };
    let Some(page) = page else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("not found"))
            .unwrap();
    };
    if !page.delay.is_zero() {
        tokio::time::sleep(page.delay).await;
    }
    let mut response = Response::builder().status(page.status);
    for (name, value) in &page.headers {
        response = response.header(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response.body(Body::from(page.body)).unwrap()
}

/// Starts two servers on the same free port, one on each of two loopback addresses.
pub async fn pair_on(first: IpAddr, second: IpAddr) -> (WebServer, WebServer) {
    for _ in 0..50 {
        let one = WebServer::start_on(first, 0).await;
        if let Ok(two) = WebServer::try_start_on(second, one.addr.port()).await {
            return (one, two);
        }
    }
    panic!("no port free on both {first} and {second}");
}
