//! Per-sink delivery policy: a rate limit and quiet hours, with the digest that carries the
//! alerts they hold back. Critical alerts are never held.
//!
//! Quiet hours hold every non-critical alert raised inside the window until it ends. A rate
//! limit allows `max_per_hour` messages in any rolling hour; when more non-critical alerts
//! are due than the hour has room for, they go out together as one digest message, which
//! counts as one. Held alerts also leave as one digest when the quiet hours end.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Time, UtcOffset};

use super::payload::AlertPayload;
use crate::model::Severity;
use crate::store::OutboxAlert;

/// Version of the digest document's layout.
pub const DIGEST_SCHEMA_VERSION: u32 = 1;

/// A daily window, in a fixed UTC offset, during which non-critical alerts are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
    pub offset: UtcOffset,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`; the window may cross midnight (`22:00-07:00`).
    pub fn parse(text: &str, offset: UtcOffset) -> Option<QuietHours> {
        let (start, end) = text.split_once('-')?;
        let start = parse_time(start.trim())?;
        let end = parse_time(end.trim())?;
        (start != end).then_some(QuietHours { start, end, offset })
    }

    /// Returns the end of the window that contains `now`, or `None` outside the window.
    pub fn end_of_window(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let local = now.to_offset(self.offset);
        let time = local.time();
        let inside = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !inside {
            return None;
        }
        let mut end = local.replace_time(self.end);
        if end <= local {
            end += time::Duration::days(1);
        }
        Some(end.to_offset(UtcOffset::UTC))
    }

    /// Returns whether an alert created at `at` was raised inside the window that ended
    /// last before `now` (or inside the current one): such alerts were held.
    pub fn held(&self, at: OffsetDateTime, now: OffsetDateTime) -> bool {
        let Some(window_end) = self.end_of_window(at) else {
            return false;
        };
        let local = now.to_offset(self.offset);
        let mut last_end = local.replace_time(self.end);
        if last_end > local {
            last_end -= time::Duration::days(1);
        }
        window_end >= last_end.to_offset(UtcOffset::UTC) - time::Duration::minutes(1)
    }
}

fn parse_time(text: &str) -> Option<Time> {
    let (hour, minute) = text.split_once(':')?;
    if hour.len() != 2 || minute.len() != 2 {
        return None;
    }
    Time::from_hms(hour.parse().ok()?, minute.parse().ok()?, 0).ok()
}

/// Parses a UTC offset written `+HH:MM`, `-HH:MM` or `Z`.
pub fn parse_offset(text: &str) -> Option<UtcOffset> {
    if text == "Z" {
        return Some(UtcOffset::UTC);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let time = parse_time(&text[1..])?;
    UtcOffset::from_hms(sign * time.hour() as i8, sign * time.minute() as i8, 0).ok()
}

/// What a sink's `[sinks.NAME]` table says about holding alerts back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinkPolicy {
    /// Most messages in any rolling hour; `None` for no limit.
    pub max_per_hour: Option<u32>,
    pub quiet_hours: Option<QuietHours>,
}

impl SinkPolicy {
    pub fn is_open(&self) -> bool {
        self.max_per_hour.is_none() && self.quiet_hours.is_none()
    }
}

/// Why a digest was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestReason {
    QuietHours,
    RateLimit,
}

impl DigestReason {
    pub fn describe(self) -> &'static str {
        match self {
            DigestReason::QuietHours => "held during quiet hours",
            DigestReason::RateLimit => "over the sink's hourly limit",
        }
    }
}

/// The document sent in place of several held alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub schema_version: u32,
    /// Always true: tells a digest from a single alert document.
    pub digest: bool,
    pub idempotency_key: String,
    pub reason: DigestReason,
    pub count: usize,
    /// Highest severity among the alerts.
    pub severity: Severity,
    pub alerts: Vec<AlertPayload>,
}

/// Returns whether an outbox payload is a digest.
pub fn is_digest(payload: &serde_json::Value) -> bool {
    payload.get("digest").and_then(serde_json::Value::as_bool) == Some(true)
}

/// Severity of an outbox row, read from its payload; unreadable payloads count as critical,
/// so that they are never held.
pub fn severity_of(row: &OutboxAlert) -> Severity {
    row.payload
        .get("severity")
        .and_then(|value| value.as_str())
        .and_then(Severity::parse)
        .unwrap_or(Severity::Critical)
}

/// Builds the digest of `rows` for `sink`: a synthetic outbox row whose payload is the digest
/// document and whose idempotency key names the rows it carries. Rows whose payload is not
/// an alert document are left out of `alerts` but still counted.
pub fn digest_row(sink: &str, rows: &[OutboxAlert], reason: DigestReason) -> OutboxAlert {
    let first = rows.iter().map(|r| r.id).min().unwrap_or_default();
    let last = rows.iter().map(|r| r.id).max().unwrap_or_default();
    let key = format!("digest-{sink}-{first}-{last}-{}", rows.len());
    let alerts: Vec<AlertPayload> = rows
        .iter()
        .filter_map(|row| serde_json::from_value(row.payload.clone()).ok())
        .collect();
    let severity = rows.iter().map(severity_of).max().unwrap_or(Severity::Low);
    let digest = Digest {
        schema_version: DIGEST_SCHEMA_VERSION,
        digest: true,
        idempotency_key: key.clone(),
        reason,
        count: rows.len(),
        severity,
        alerts,
    };
    let base = rows.first().cloned();
    OutboxAlert {
        id: first,
        finding_id: base.as_ref().map_or(0, |r| r.finding_id),
        sink: sink.to_owned(),
        idempotency_key: key,
        payload: serde_json::to_value(&digest).unwrap_or(serde_json::Value::Null),
        attempts: rows.iter().map(|r| r.attempts).max().unwrap_or(0),
        created_at: rows
            .iter()
            .map(|r| r.created_at)
            .min()
            .unwrap_or_else(OffsetDateTime::now_utc),
        next_attempt_at: OffsetDateTime::now_utc(),
        last_error: None,
        delivered_at: None,
    }
}

/// Subject line of a digest mail.
pub fn digest_subject(digest: &Digest) -> String {
    format!(
        "[vigie] {}: {} alerts {}",
        digest.severity.as_str().to_uppercase(),
        digest.count,
        digest.reason.describe()
    )
}

/// Plain-text lines of a digest: one line per alert, subjects defanged.
pub fn digest_lines(digest: &Digest) -> Vec<String> {
    digest
        .alerts
        .iter()
        .map(|alert| {
            format!(
                "{} {} imitates {} (finding {}, {})",
                alert.severity.as_str().to_uppercase(),
                alert.subject_defanged,
                alert.imitates,
                alert.finding_id,
                alert.idempotency_key
            )
        })
        .collect()
}

/// Plain-text body of a digest mail.
pub fn digest_body(digest: &Digest) -> String {
    let mut text = format!(
        "{} alerts were {} and are sent together.\n\n",
        digest.count,
        digest.reason.describe()
    );
    for line in digest_lines(digest) {
        text.push_str("- ");
        text.push_str(&line);
        text.push('\n');
    }
    let missing = digest.count.saturating_sub(digest.alerts.len());
    if missing > 0 {
        text.push_str(&format!(
            "\n{missing} alerts could not be read from the outbox.\n"
        ));
    }
    text.push_str(&format!("\nIdempotency key: {}\n", digest.idempotency_key));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset, time};

    #[test]
    fn window_across_midnight() {
        let quiet = QuietHours::parse("22:00-07:00", offset!(+1)).unwrap();
        // 23:30 local (22:30 UTC) is inside; the window ends at 07:00 local next day.
        let end = quiet
            .end_of_window(datetime!(2026-12-04 22:30 UTC))
            .unwrap();
        assert_eq!(end, datetime!(2026-12-05 06:00 UTC));
        // 06:59 local is inside, 07:00 local is not.
        assert!(
            quiet
                .end_of_window(datetime!(2026-12-05 05:59 UTC))
                .is_some()
        );
        assert!(
            quiet
                .end_of_window(datetime!(2026-12-05 06:00 UTC))
                .is_none()
        );
        assert!(
            quiet
                .end_of_window(datetime!(2026-12-05 12:00 UTC))
                .is_none()
        );
    }

    #[test]
    fn window_within_day() {
        let quiet = QuietHours::parse("12:00-13:30", UtcOffset::UTC).unwrap();
        assert_eq!(quiet.start, time!(12:00));
        let end = quiet
            .end_of_window(datetime!(2026-12-04 12:10 UTC))
            .unwrap();
        assert_eq!(end, datetime!(2026-12-04 13:30 UTC));
        assert!(
            quiet
                .end_of_window(datetime!(2026-12-04 11:59 UTC))
                .is_none()
        );
    }

    #[test]
    fn held_means_raised_in_last_window() {
        let quiet = QuietHours::parse("22:00-07:00", UtcOffset::UTC).unwrap();
        let now = datetime!(2026-12-05 08:00 UTC);
        assert!(quiet.held(datetime!(2026-12-05 03:00 UTC), now));
        assert!(quiet.held(datetime!(2026-12-04 22:00 UTC), now));
        // Raised after the window, or in the window of the night before.
        assert!(!quiet.held(datetime!(2026-12-05 07:30 UTC), now));
        assert!(!quiet.held(datetime!(2026-12-04 03:00 UTC), now));
    }

    #[test]
    fn bad_windows_and_offsets_rejected() {
        for text in ["22-07", "22:00", "25:00-07:00", "22:00-22:00", "2:00-07:00"] {
            assert_eq!(QuietHours::parse(text, UtcOffset::UTC), None, "{text}");
        }
        assert_eq!(parse_offset("+05:30"), Some(offset!(+5:30)));
        assert_eq!(parse_offset("-03:00"), Some(offset!(-3)));
        assert_eq!(parse_offset("Z"), Some(UtcOffset::UTC));
        assert_eq!(parse_offset("5:30"), None);
    }
}
