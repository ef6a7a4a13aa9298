//! The blind-source check: a source with no successful poll for too long, or whose output has
//! collapsed, raises one alert; its recovery raises one notice.
//!
//! Each blind spell is a finding of kind `source-blind` whose fingerprint holds the source and
//! the time the spell started, so a later spell alerts again. The spell's start is kept in the
//! store, so that a restart during a spell still sends the recovery notice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Health, SourceHealth};
use crate::model::{Finding, Severity};
use crate::pipeline::Pipeline;

/// Kind of the findings this check raises.
pub const KIND: &str = "source-blind";
/// Name under which the check keeps its state in the store's cursors.
const CURSOR_SOURCE: &str = "health";

/// Returns why `source` counts as blind at `now`, or `None` when it works.
///
/// A source is blind when its output has collapsed, or when its last successful poll (or its
/// start, before any success) is older than `blind_after`, or than three of its own polling
/// intervals when that is longer.
pub fn blind_reason(
    source: &SourceHealth,
    now: OffsetDateTime,
    blind_after: Duration,
) -> Option<String> {
    if let Some(reason) = &source.collapsed {
        return Some(format!("its output collapsed: {reason}"));
    }
    let threshold = source
        .expected_interval
        .map_or(blind_after, |interval| blind_after.max(interval * 3));
    let reference = source.last_success.or(source.since)?;
    let silent = now - reference;
    if silent.is_negative() || silent.unsigned_abs() <= threshold {
        return None;
    }
    let minutes = silent.whole_minutes();
    Some(match source.last_success {
        Some(at) => format!(
            "no successful poll for {minutes} min (last success {}; limit {} min)",
            format_time(at),
            threshold.as_secs() / 60
        ),
        None => format!(
            "no successful poll since the daemon started {minutes} min ago (limit {} min)",
            threshold.as_secs() / 60
        ),
    })
}

/// Builds the finding for a spell of `source` that started at `started`.
pub fn spell_finding(
    source: &str,
    figures: &SourceHealth,
    started: OffsetDateTime,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Finding {
    let subject = format!("source {source}");
    let spell = format!("{source}@{}", millis(started));
    let state = if reason.is_some() {
        "blind"
    } else {
        "recovered"
    };
    let mut reasons = Vec::new();
    match reason {
        Some(reason) => reasons.push(format!("source {source} is blind: {reason}")),
        None => reasons.push(format!(
            "source {source} works again; it was blind from {}",
            format_time(started)
        )),
    }
    for (at, message) in &figures.recent_errors {
        reasons.push(format!("error at {}: {message}", format_time(*at)));
    }
    let mut facts = BTreeMap::new();
    facts.insert("state".to_owned(), BTreeSet::from([state.to_owned()]));
    Finding {
        fingerprint: Finding::fingerprint_for("", KIND, &spell),
        kind: KIND.to_owned(),
        source: "health".to_owned(),
        watchlist: String::new(),
        subject,
        imitates: String::new(),
        techniques: Vec::new(),
        reasons,
        severity: Severity::High,
        score: 80,
        indicators: Vec::new(),
        facts,
        evidence: serde_json::json!({
            "source": source,
            "spell_started": format_time(started),
            "polls": figures.polls,
            "errors": figures.errors,
            "last_success": figures.last_success.map(format_time),
        }),
        observed_at: now,
    }
}

/// Checks every source each `period` until `shutdown`, and submits spell findings. The limit
/// is read from `[health] blind_after_secs` of the current configuration at each check.
pub async fn run(
    health: Health,
    pipeline: Pipeline,
    config: tokio::sync::watch::Receiver<std::sync::Arc<crate::config::Config>>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let blind_after = Duration::from_secs(config.borrow().health.blind_after_secs);
        check_once(&health, &pipeline, blind_after, OffsetDateTime::now_utc()).await;
    }
}

/// One pass of the check at `now`.
pub async fn check_once(
    health: &Health,
    pipeline: &Pipeline,
    blind_after: Duration,
    now: OffsetDateTime,
) {
    for (source, figures) in health.snapshot() {
        let reason = blind_reason(&figures, now, blind_after);
        let open_spell = match open_spell(pipeline, &source).await {
            Ok(open) => open,
            Err(error) => {
                error!(source, %error, "Cannot read the blind-source state from the store.");
                continue;
            }
        };
        match (reason, open_spell) {
            (Some(reason), None) => {
                warn!(source, reason, "Source is blind.");
                let finding = spell_finding(&source, &figures, now, Some(&reason), now);
                if submit(pipeline, finding).await {
                    set_open_spell(pipeline, &source, Some(now)).await;
                }
            }
            (None, Some(started)) => {
                info!(source, "Source works again.");
                let finding = spell_finding(&source, &figures, started, None, now);
                if submit(pipeline, finding).await {
                    set_open_spell(pipeline, &source, None).await;
                }
            }
            _ => {}
        }
    }
}

async fn submit(pipeline: &Pipeline, finding: Finding) -> bool {
    match pipeline.submit_system(finding).await {
        Ok(_) => true,
        Err(error) => {
            error!(%error, "Cannot record the blind-source alert; retrying on the next check.");
            false
        }
    }
}

async fn open_spell(
    pipeline: &Pipeline,
    source: &str,
) -> Result<Option<OffsetDateTime>, crate::store::StoreError> {
    let store = pipeline.store().clone();
    let key = format!("blind:{source}");
    let value = tokio::task::spawn_blocking(move || store.cursor(CURSOR_SOURCE, &key))
        .await
        .unwrap_or(Ok(None))?;
    Ok(value
        .filter(|text| !text.is_empty())
        .and_then(|text| text.parse::<i64>().ok())
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()))
}

async fn set_open_spell(pipeline: &Pipeline, source: &str, started: Option<OffsetDateTime>) {
    let store = pipeline.store().clone();
    let key = format!("blind:{source}");
    let value = started.map_or(String::new(), |at| millis(at).to_string());
    let saved =
        tokio::task::spawn_blocking(move || store.set_cursor(CURSOR_SOURCE, &key, &value)).await;
    if !matches!(saved, Ok(Ok(()))) {
        error!(
            source,
            "Cannot save the blind-source state; the next check may alert again."
        );
    }
}

/// Milliseconds since the Unix epoch: a spell's identity, as kept in the store.
fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn format_time(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 12:00 UTC);

    fn source(last_success: Option<OffsetDateTime>) -> SourceHealth {
        SourceHealth {
            last_success,
            since: Some(datetime!(2026-12-04 00:00 UTC)),
            ..SourceHealth::default()
        }
    }

    #[test]
    fn recent_success_not_blind() {
        let figures = source(Some(datetime!(2026-12-04 11:30 UTC)));
        assert_eq!(blind_reason(&figures, NOW, Duration::from_secs(3600)), None);
    }

    #[test]
    fn old_success_blind_with_times() {
        let figures = source(Some(datetime!(2026-12-04 10:00 UTC)));
        let reason = blind_reason(&figures, NOW, Duration::from_secs(3600)).unwrap();
        assert!(reason.contains("120 min"), "{reason}");
        assert!(reason.contains("2026-12-04T10:00:00Z"), "{reason}");
    }

    #[test]
    fn slow_source_gets_three_intervals() {
        let mut figures = source(Some(datetime!(2026-12-04 10:00 UTC)));
        figures.expected_interval = Some(Duration::from_secs(3600));
        // Two hours of silence is within three one-hour intervals.
        assert_eq!(blind_reason(&figures, NOW, Duration::from_secs(600)), None);
    }

    #[test]
    fn collapse_is_blind_at_once() {
        let mut figures = source(Some(NOW));
        figures.collapsed = Some("selector `.post` matched nothing on 3 pages".into());
        let reason = blind_reason(&figures, NOW, Duration::from_secs(3600)).unwrap();
        assert!(reason.contains("selector"), "{reason}");
    }

    #[test]
    fn never_succeeded_counts_from_start() {
        let figures = source(None);
        let reason = blind_reason(&figures, NOW, Duration::from_secs(3600)).unwrap();
        assert!(
            reason.contains("since the daemon started 720 min ago"),
            "{reason}"
        );
    }

    #[test]
    fn spells_have_distinct_fingerprints() {
        let figures = source(None);
        let first = spell_finding("ct", &figures, NOW, Some("x"), NOW);
        let later = spell_finding(
            "ct",
            &figures,
            NOW + time::Duration::hours(5),
            Some("x"),
            NOW,
        );
        let recovered = spell_finding("ct", &figures, NOW, None, NOW);
        assert_ne!(first.fingerprint, later.fingerprint);
        assert_eq!(first.fingerprint, recovered.fingerprint);
        assert!(recovered.facts["state"].contains("recovered"));
    }
}
