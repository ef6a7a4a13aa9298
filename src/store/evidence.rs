//! The change watch's schedule (`web_checks`) and the earlier versions of a finding's
//! evidence entries (`evidence_history`).

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::findings::{FINDING_COLUMNS, read_finding};
use super::{Store, StoreError, StoredFinding, from_millis, to_millis};

/// When a finding's web host is checked next, and how the last check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebCheck {
    pub finding_id: i64,
    /// Host checked; empty when the finding has no web host (never due).
    pub host: String,
    pub next_at: OffsetDateTime,
    pub last_at: Option<OffsetDateTime>,
    /// Page state of the last check (`live`, `parked`, ...).
    pub state: Option<String>,
    /// Checks that failed in a row.
    pub failures: u32,
    pub last_error: Option<String>,
}

/// One earlier version of an evidence entry, as a sighting wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceVersion {
    pub key: String,
    pub at: OffsetDateTime,
    pub value: serde_json::Value,
}

impl Store {
    /// Returns up to `limit` open findings that the change watch has not scheduled yet,
    /// oldest first.
    pub fn unscheduled_findings(&self, limit: usize) -> Result<Vec<StoredFinding>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings
             WHERE status = 'open' AND id NOT IN (SELECT finding_id FROM web_checks)
             ORDER BY id LIMIT ?1"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([limit as i64], read_finding)?;
        rows.map(|row| row?).collect()
    }

    /// Returns up to `limit` open findings whose check is due at `now`, most overdue first.
    pub fn due_web_checks(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<(WebCheck, StoredFinding)>, StoreError> {
        let due: Vec<i64> = {
            let conn = self.lock();
            let mut statement = conn.prepare(
                "SELECT w.finding_id FROM web_checks w JOIN findings f ON f.id = w.finding_id
                 WHERE w.next_at <= ?1 AND w.host != '' AND f.status = 'open'
                 ORDER BY w.next_at LIMIT ?2",
            )?;
            let rows = statement.query_map(params![to_millis(now), limit as i64], |row| {
                row.get::<_, i64>(0)
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut checks = Vec::with_capacity(due.len());
        for id in due {
            if let (Some(check), Some(finding)) = (self.web_check(id)?, self.finding(id)?) {
                checks.push((check, finding));
            }
        }
        Ok(checks)
    }

    /// Returns the schedule of one finding's checks, if the watch has scheduled it.
    pub fn web_check(&self, finding_id: i64) -> Result<Option<WebCheck>, StoreError> {
        let conn = self.lock();
        let check = conn
            .query_row(
                "SELECT finding_id, host, next_at, last_at, state, failures, last_error
                 FROM web_checks WHERE finding_id = ?1",
                [finding_id],
                |row| {
                    Ok(WebCheck {
                        finding_id: row.get(0)?,
                        host: row.get(1)?,
                        next_at: from_millis(row.get(2)?),
                        last_at: row.get::<_, Option<i64>>(3)?.map(from_millis),
                        state: row.get(4)?,
                        failures: row.get(5)?,
                        last_error: row.get(6)?,
                    })
                },
            )
            .optional()?;
        Ok(check)
    }

    /// Schedules the next check of a finding's host. `checked` tells whether a check just ran,
    /// with the state it found; `error` counts a failed check.
    pub fn schedule_web_check(
        &self,
        finding_id: i64,
        host: &str,
        next_at: OffsetDateTime,
        checked: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = to_millis(OffsetDateTime::now_utc());
        self.write_transaction(|tx| {
            tx.execute(
            "INSERT INTO web_checks (finding_id, host, next_at, last_at, state, failures, last_error)
             VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN NULL ELSE ?6 END, ?4,
                     CASE WHEN ?5 IS NULL THEN 0 ELSE 1 END, ?5)
             ON CONFLICT (finding_id) DO UPDATE SET
                 host = excluded.host,
                 next_at = excluded.next_at,
                 last_at = COALESCE(excluded.last_at, web_checks.last_at),
                 state = COALESCE(excluded.state, web_checks.state),
                 failures = CASE WHEN ?5 IS NULL THEN 0 ELSE web_checks.failures + 1 END,
                 last_error = ?5",
            params![finding_id, host, to_millis(next_at), checked, error, now],
            )?;
            Ok(())
        })
    }

    /// Returns the kept versions of a finding's evidence entries, oldest first.
    pub fn evidence_history(&self, finding_id: i64) -> Result<Vec<EvidenceVersion>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT key, at, value FROM evidence_history WHERE finding_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([finding_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut versions = Vec::new();
        for row in rows {
            let (key, at, value) = row?;
            let value = serde_json::from_str(&value).map_err(|error| StoreError::Corrupt {
                column: "value",
                row: format!("evidence history of finding {finding_id}"),
                reason: error.to_string(),
            })?;
            versions.push(EvidenceVersion {
                key,
                at: from_millis(at),
                value,
            });
        }
        Ok(versions)
    }
}
