//! The health endpoint: `GET /healthz` (JSON, 503 when a source is blind or the store cannot
//! be read) and `GET /metrics` (Prometheus text format 0.0.4).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::Health;
use super::watch::blind_reason;
use crate::store::Store;

/// What the handlers read.
#[derive(Clone)]
pub struct HealthState {
    pub health: Health,
    pub store: Arc<Store>,
    pub blind_after: Duration,
}

/// Builds the router; [`serve`] runs it.
pub fn router(state: HealthState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state)
}

/// Binds `listen` and serves until `shutdown`. Binding errors are returned at once.
pub async fn serve(
    listen: SocketAddr,
    state: HealthState,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = router(state);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "The health endpoint stopped.");
        }
    }))
}

async fn healthz(State(state): State<HealthState>) -> Response {
    let now = OffsetDateTime::now_utc();
    let mut sources = serde_json::Map::new();
    let mut blind = Vec::new();
    for (name, figures) in state.health.snapshot() {
        let reason = blind_reason(&figures, now, state.blind_after);
        if reason.is_some() {
            blind.push(name.clone());
        }
        sources.insert(
            name,
            serde_json::json!({
                "ok": reason.is_none(),
                "blind": reason,
                "polls": figures.polls,
                "errors": figures.errors,
                "last_success": figures.last_success.map(|t| t.unix_timestamp()),
                "last_error": figures.recent_errors.back().map(|(_, message)| message),
            }),
        );
    }
    let store = state.store.clone();
    let outbox = tokio::task::spawn_blocking(move || store.outbox_stats()).await;
    let (store_ok, pending) = match outbox {
        Ok(Ok(stats)) => (true, Some(stats.pending)),
        _ => (false, None),
    };
    let ok = store_ok && blind.is_empty();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "store": if store_ok { "ok" } else { "unreadable" },
        "outbox_pending": pending,
        "blind_sources": blind,
        "sources": sources,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<HealthState>) -> Response {
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((
            store.outbox_stats()?,
            store.sink_counts()?,
            store.finding_counts()?,
        ))
    })
    .await;
    let now = OffsetDateTime::now_utc();
    let mut text = String::with_capacity(4096);
    write_source_metrics(&mut text, &state, now);
    match read {
        Ok(Ok((outbox, sinks, findings))) => {
            metric(
                &mut text,
                "vigie_store_up",
                "gauge",
                "1 when the store could be read.",
            );
            let _ = writeln!(text, "vigie_store_up 1");
            metric(
                &mut text,
                "vigie_outbox_depth",
                "gauge",
                "Alerts not delivered yet.",
            );
            let _ = writeln!(text, "vigie_outbox_depth {}", outbox.pending);
            metric(
                &mut text,
                "vigie_outbox_oldest_age_seconds",
                "gauge",
                "Age of the oldest undelivered alert; 0 when none waits.",
            );
            let age = outbox
                .oldest_pending
                .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
            let _ = writeln!(text, "vigie_outbox_oldest_age_seconds {age:.3}");
            metric(
                &mut text,
                "vigie_alerts_sent_total",
                "counter",
                "Alerts delivered, per sink.",
            );
            for sink in &sinks {
                let _ = writeln!(
                    text,
                    "vigie_alerts_sent_total{{sink=\"{}\"}} {}",
                    label(&sink.sink),
                    sink.delivered
                );
            }
            metric(
                &mut text,
                "vigie_alerts_failed_total",
                "counter",
                "Failed delivery attempts, per sink.",
            );
            for sink in &sinks {
                let _ = writeln!(
                    text,
                    "vigie_alerts_failed_total{{sink=\"{}\"}} {}",
                    label(&sink.sink),
                    sink.failed_attempts
                );
            }
            metric(
                &mut text,
                "vigie_findings",
                "gauge",
                "Findings in the store, per severity.",
            );
            for severity in ["low", "medium", "high", "critical"] {
                let n = findings
                    .iter()
                    .find(|(name, _)| name == severity)
                    .map_or(0, |(_, n)| *n);
                let _ = writeln!(text, "vigie_findings{{severity=\"{severity}\"}} {n}");
            }
        }
        _ => {
            metric(
                &mut text,
                "vigie_store_up",
                "gauge",
                "1 when the store could be read.",
            );
            let _ = writeln!(text, "vigie_store_up 0");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn write_source_metrics(text: &mut String, state: &HealthState, now: OffsetDateTime) {
    let snapshot = state.health.snapshot();
    let series: [(&str, &str, &str); 4] = [
        (
            "vigie_source_polls_total",
            "counter",
            "Polls started, per source.",
        ),
        (
            "vigie_source_items_total",
            "counter",
            "Items read by successful polls, per source.",
        ),
        (
            "vigie_source_errors_total",
            "counter",
            "Failed polls, per source.",
        ),
        (
            "vigie_source_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful poll; 0 before the first.",
        ),
    ];
    for (name, kind, help) in series {
        metric(text, name, kind, help);
        for (source, figures) in &snapshot {
            let value = match name {
                "vigie_source_polls_total" => figures.polls as f64,
                "vigie_source_items_total" => figures.items as f64,
                "vigie_source_errors_total" => figures.errors as f64,
                _ => figures
                    .last_success
                    .map_or(0.0, |t| t.unix_timestamp() as f64),
            };
            let _ = writeln!(text, "{name}{{source=\"{}\"}} {value}", label(source));
        }
    }
    metric(
        text,
        "vigie_source_lag_seconds",
        "gauge",
        "How far a source is behind, for sources that can tell.",
    );
    for (source, figures) in &snapshot {
        if let Some(lag) = figures.lag_secs {
            let _ = writeln!(
                text,
                "vigie_source_lag_seconds{{source=\"{}\"}} {lag}",
                label(source)
            );
        }
    }
    metric(
        text,
        "vigie_source_blind",
        "gauge",
        "1 while a source counts as blind (silent too long or output collapsed).",
    );
    for (source, figures) in &snapshot {
        let blind = blind_reason(figures, now, state.blind_after).is_some();
        let _ = writeln!(
            text,
            "vigie_source_blind{{source=\"{}\"}} {}",
            label(source),
            u8::from(blind)
        );
    }
}

fn metric(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// Escapes a label value as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
