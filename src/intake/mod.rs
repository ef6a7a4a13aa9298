//! The `intake` source: an HTTP endpoint (axum) that the company's web report form posts to.
//!
//! `POST /report` takes the reporter's address, free text, and either the headers of the
//! scam mail pasted as text or the mail itself uploaded as an `.eml` file, as
//! `multipart/form-data`, `application/x-www-form-urlencoded` (no file) or JSON. The request
//! must carry `Authorization: Bearer TOKEN` with the token of `[intake]`. Every request counts
//! against a per-client-IP budget of `rate_per_minute` (a fixed one-minute window); past it the
//! answer is 429 with `Retry-After`. Bodies over `max_body_bytes` get 413.
//!
//! The mail (or the pasted headers, as a mail with an empty body) goes through the same
//! analysis, evidence and campaign steps as an inbox mail. The answer is 201 with a JSON
//! object holding the report id, which the form can show to the reporter.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::IntakeConfig;
use crate::sources::SourceContext;
use crate::sources::inbox::analysis::Analyzer;
use crate::sources::inbox::ingest::{MailSource, ingest};
use crate::store::IntakeReport;

/// Source name used in findings and mail rows.
pub const SOURCE: &str = "intake";

/// Longest reporter address accepted, in bytes (RFC 5321 limits a path to 256 octets).
const MAX_REPORTER_BYTES: usize = 320;

/// Delay before a failed bind of the listen address is tried again.
const BIND_RETRY: Duration = Duration::from_secs(30);

/// Shared by every request of one running endpoint.
pub struct IntakeState {
    ctx: SourceContext,
    config: IntakeConfig,
    windows: Mutex<HashMap<IpAddr, Window>>,
    analyzer: Mutex<Option<Analyzer>>,
}

/// Requests of one client IP in the current one-minute window.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    requests: u32,
}

const WINDOW: Duration = Duration::from_secs(60);

/// Runs the endpoint while `[intake]` is configured, restarting it when a reload changes it.
pub async fn run(mut ctx: SourceContext) {
    loop {
        let config = ctx.config.borrow_and_update().intake.clone();
        let stop = ctx.shutdown.child_token();
        let task = config.clone().map(|intake| {
            let task_ctx = SourceContext {
                shutdown: stop.clone(),
                ..ctx.clone()
            };
            tokio::spawn(serve_until_stopped(task_ctx, intake))
        });

        // Wait for a reload that changes [intake], or for shutdown.
        let stopping = loop {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => break true,
                changed = ctx.config.changed() => {
                    if changed.is_err() {
                        break true;
                    }
                    if ctx.config.borrow().intake != config {
                        break false;
                    }
                }
            }
        };
        stop.cancel();
        if let Some(task) = task {
            let _ = task.await;
        }
        if stopping {
            return;
        }
    }
}

async fn serve_until_stopped(ctx: SourceContext, config: IntakeConfig) {
    loop {
        match TcpListener::bind(config.listen).await {
            Ok(listener) => {
                info!(listen = %config.listen, "Report form endpoint listening.");
                if let Err(error) = serve(listener, ctx.clone(), config.clone()).await {
                    warn!(listen = %config.listen, %error, "Report form endpoint failed.");
                } else {
                    return;
                }
            }
            Err(error) => {
                warn!(listen = %config.listen, %error, retry_secs = BIND_RETRY.as_secs(), "Cannot listen for the report form; check intake.listen.");
            }
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(BIND_RETRY) => {}
        }
    }
}

/// Serves the endpoint on `listener` until `ctx.shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    ctx: SourceContext,
    config: IntakeConfig,
) -> std::io::Result<()> {
    let shutdown: CancellationToken = ctx.shutdown.clone();
    let body_limit = usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX);
    let state = Arc::new(IntakeState {
        ctx,
        config,
        windows: Mutex::new(HashMap::new()),
        analyzer: Mutex::new(None),
    });
    let app = Router::new()
        .route("/report", post(report))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
}

/// Fields of a report, whatever the encoding of the request.
#[derive(Debug, Default, Deserialize)]
struct ReportFields {
    reporter: Option<String>,
    comment: Option<String>,
    headers: Option<String>,
    /// The whole mail as text, for JSON clients.
    eml: Option<String>,
    #[serde(skip)]
    eml_bytes: Option<Vec<u8>>,
}

/// An error answer: status and a message for the form's developer.
struct Rejection {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

async fn report(
    State(state): State<Arc<IntakeState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, Rejection> {
    let client_ip = client.ip();
    state.check_rate(client_ip)?;
    check_token(request.headers(), &state.config)?;

    let fields = read_fields(request, &state).await?;
    let reporter = check_reporter(fields.reporter.as_deref())?;
    let raw = mail_of(&fields)?;

    let analyzer = state.analyzer()?;
    let from = MailSource {
        source: SOURCE,
        origin: format!("report form ({client_ip})"),
        folder: None,
        uidvalidity: None,
        uid: None,
        fallback: state
            .config
            .watchlist
            .clone()
            .map(|watchlist| (watchlist, state.config.unmatched_severity)),
    };
    let sha256 = hex::encode(Sha256::digest(&raw));
    let ingested = ingest(&state.ctx.pipeline, &analyzer, raw, &from)
        .await
        .map_err(|error| {
            warn!(%error, client = %client_ip, "Report form mail could not be recorded.");
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report could not be recorded; try again later",
            )
        })?;

    let report = IntakeReport {
        id: report_id(),
        mail_id: ingested.mail_id,
        reporter,
        comment: fields.comment.filter(|text| !text.trim().is_empty()),
        client_ip: client_ip.to_string(),
        received_at: OffsetDateTime::now_utc(),
    };
    let store = state.ctx.pipeline.store().clone();
    let saved = report.clone();
    tokio::task::spawn_blocking(move || store.record_intake_report(&saved))
        .await
        .map_err(|error| error.to_string())
        .and_then(|result| result.map_err(|error| error.to_string()))
        .map_err(|error| {
            warn!(%error, client = %client_ip, "Report form report could not be recorded.");
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report could not be recorded; try again later",
            )
        })?;

    info!(report_id = %report.id, mail_id = ingested.mail_id, campaign_id = ?ingested.campaign_id, alerted = ingested.alerted(), "Report form report received.");
    let body = json!({
        "report_id": report.id,
        "sha256": sha256,
        "duplicate": ingested.duplicate,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

impl IntakeState {
    /// Counts one request of `client`; rejects it with 429 past `rate_per_minute`.
    fn check_rate(&self, client: IpAddr) -> Result<(), Rejection> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > 4096 {
            windows.retain(|_, window| now.duration_since(window.started) < WINDOW);
        }
        let window = windows.entry(client).or_insert(Window {
            started: now,
            requests: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                requests: 0,
            };
        }
        if window.requests >= self.config.rate_per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(window.started));
            return Err(Rejection {
                retry_after: Some(left.as_secs().max(1)),
                ..Rejection::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "more than {} reports a minute from this address",
                        self.config.rate_per_minute
                    ),
                )
            });
        }
        window.requests += 1;
        Ok(())
    }

    /// Returns the analyzer of the current configuration, compiling it after a reload.
    fn analyzer(&self) -> Result<Analyzer, Rejection> {
        let config = self.ctx.config.borrow().clone();
        let mut cached = self
            .analyzer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(analyzer) = cached.as_ref()
            && Arc::ptr_eq(analyzer.config(), &config)
        {
            return Ok(analyzer.clone());
        }
        let analyzer = Analyzer::new(config).map_err(|error| {
            warn!(%error, "The watchlists do not compile into a matcher.");
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report could not be analysed; try again later",
            )
        })?;
        *cached = Some(analyzer.clone());
        Ok(analyzer)
    }
}

fn check_token(headers: &HeaderMap, config: &IntakeConfig) -> Result<(), Rejection> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if same_secret(token, config.token.expose()) => Ok(()),
        Some(_) => Err(Rejection::new(StatusCode::UNAUTHORIZED, "invalid token")),
        None => Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer TOKEN` header",
        )),
    }
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

async fn read_fields(
    request: Request,
    state: &Arc<IntakeState>,
) -> Result<ReportFields, Rejection> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|rejection| Rejection::new(rejection.status(), rejection.body_text()))?;
        return read_multipart(multipart).await;
    }
    if content_type.starts_with("application/json") {
        let Json(fields) = Json::<ReportFields>::from_request(request, state)
            .await
            .map_err(|rejection| Rejection::new(rejection.status(), rejection.body_text()))?;
        return Ok(fields);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let axum::Form(fields) = axum::Form::<ReportFields>::from_request(request, state)
            .await
            .map_err(|rejection| Rejection::new(rejection.status(), rejection.body_text()))?;
        return Ok(fields);
    }
    Err(Rejection::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "send multipart/form-data, application/x-www-form-urlencoded or application/json",
    ))
}

async fn read_multipart(mut multipart: Multipart) -> Result<ReportFields, Rejection> {
    let mut fields = ReportFields::default();
    let invalid = |error: axum::extract::multipart::MultipartError| {
        Rejection::new(error.status(), error.body_text())
    };
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "eml" => fields.eml_bytes = Some(field.bytes().await.map_err(invalid)?.to_vec()),
            "reporter" => fields.reporter = Some(field.text().await.map_err(invalid)?),
            "comment" => fields.comment = Some(field.text().await.map_err(invalid)?),
            "headers" => fields.headers = Some(field.text().await.map_err(invalid)?),
            other => {
                return Err(Rejection::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("unknown field {other:?}; use reporter, comment, headers and eml"),
                ));
            }
        }
    }
    Ok(fields)
}

fn check_reporter(reporter: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(reporter) = reporter.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let valid = reporter.len() <= MAX_REPORTER_BYTES
        && reporter
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !reporter.contains(|c: char| c.is_whitespace() || c.is_control());
    if valid {
        Ok(Some(reporter.to_string()))
    } else {
        Err(Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reporter must be a mail address such as jane@example.com",
        ))
    }
}

/// Returns the mail to analyse: the uploaded file, the mail sent as text, or the pasted
/// headers followed by an empty body.
fn mail_of(fields: &ReportFields) -> Result<Vec<u8>, Rejection> {
    if let Some(bytes) = fields.eml_bytes.as_ref().filter(|bytes| !bytes.is_empty()) {
        return Ok(bytes.clone());
    }
    if let Some(text) = fields.eml.as_ref().filter(|text| !text.trim().is_empty()) {
        return Ok(text.as_bytes().to_vec());
    }
    let Some(headers) = fields
        .headers
        .as_ref()
        .filter(|text| !text.trim().is_empty())
    else {
        return Err(Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no mail: paste the headers in `headers` or upload the .eml file in `eml`",
        ));
    };
    if !looks_like_headers(headers) {
        return Err(Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`headers` holds no mail header line (such as `Received: from ...`); paste the full headers of the mail",
        ));
    }
    let mut raw = headers.trim().replace("\r\n", "\n").replace('\n', "\r\n");
    raw.push_str("\r\n\r\n");
    Ok(raw.into_bytes())
}

/// Tells whether the text starts with something like a header line: a name of printable
/// characters without spaces, then a colon.
fn looks_like_headers(text: &str) -> bool {
    let first = text.trim_start().lines().next().unwrap_or("");
    first.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_graphic())
    })
}

/// Makes a report id such as `r-20261204-9f2c4e1a7b3d5c60`.
fn report_id() -> String {
    let date = OffsetDateTime::now_utc().date();
    let random: u64 = rand::rng().random();
    format!(
        "r-{:04}{:02}{:02}-{random:016x}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_a_field_name() {
        assert!(looks_like_headers("Received: from x\nSubject: y"));
        assert!(!looks_like_headers("hello, this mail looks odd"));
        assert!(!looks_like_headers(""));
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", "abc"));
    }

    #[test]
    fn report_ids_differ() {
        let a = report_id();
        assert!(a.starts_with("r-") && a.len() == 27, "{a}");
        assert_ne!(a, report_id());
    }
}
