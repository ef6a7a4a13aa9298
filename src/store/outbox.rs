//! The alert outbox and the source cursors.

use rusqlite::{OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{OutboxAlert, Store, StoreError, from_millis, to_millis};

/// Counts of the outbox, for health checks and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Rows not yet delivered.
    pub pending: u64,
    /// Pending rows that failed at least once.
    pub failing: u64,
    pub delivered: u64,
    /// Creation time of the oldest pending row.
    pub oldest_pending: Option<OffsetDateTime>,
}

const OUTBOX_COLUMNS: &str = "id, finding_id, sink, idempotency_key, payload, attempts, \
    created_at, next_attempt_at, last_error, delivered_at";

impl Store {
    /// Returns the undelivered alerts whose next attempt is due at `now`, oldest first, for any sink.
    pub fn due_alerts(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        self.query_due(
            now,
            "delivered_at IS NULL AND next_attempt_at <= ?1
             ORDER BY created_at, id LIMIT ?2",
            params![to_millis(now), limit_param(limit)],
        )
    }

    /// Like [`Store::due_alerts`], restricted to the named sinks. The dispatcher uses it so
    /// that rows of a sink removed from the configuration do not fill every batch.
    pub fn due_alerts_for(
        &self,
        sinks: &[String],
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        self.query_due(
            now,
            "delivered_at IS NULL AND next_attempt_at <= ?1
                 AND sink IN (SELECT value FROM json_each(?3))
             ORDER BY created_at, id LIMIT ?2",
            params![to_millis(now), limit_param(limit), sink_list(sinks)],
        )
    }

    /// Returns every outbox row of a finding, delivered or not, in creation order.
    pub fn outbox_for_finding(&self, finding_id: i64) -> Result<Vec<OutboxAlert>, StoreError> {
        self.query_outbox("finding_id = ?1 ORDER BY id", params![finding_id])
    }

    pub fn mark_delivered(&self, id: i64, now: OffsetDateTime) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE outbox SET delivered_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, to_millis(now)],
            )
            .map_err(|error| self.file_error(error.into()))?;
        Ok(())
    }

    /// Counts one failed attempt and sets when the next one is due.
    pub fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND delivered_at IS NULL",
                params![id, error, to_millis(retry_at)],
            )
            .map_err(|error| self.file_error(error.into()))?;
        Ok(())
    }

    /// Returns the time of the earliest undelivered alert's next attempt, if any.
    pub fn next_attempt_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let millis: Option<i64> = self.lock().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE delivered_at IS NULL",
            [],
            |row| row.get(0),
        )?;
        Ok(millis.map(from_millis))
    }

    /// Like [`Store::next_attempt_at`], restricted to the named sinks.
    pub fn next_attempt_at_for(
        &self,
        sinks: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let millis: Option<i64> = self.lock().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox
             WHERE delivered_at IS NULL AND sink IN (SELECT value FROM json_each(?1))",
            [sink_list(sinks)],
            |row| row.get(0),
        )?;
        Ok(millis.map(from_millis))
    }

    /// Returns the names of the sinks that have undelivered alerts, sorted.
    pub fn pending_sinks(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT DISTINCT sink FROM outbox WHERE delivered_at IS NULL ORDER BY sink")?;
        let names = statement.query_map([], |row| row.get(0))?;
        Ok(names.collect::<Result<_, _>>()?)
    }

    pub fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let conn = self.lock();
        let stats = conn.query_row(
            "SELECT
                 COUNT(*) FILTER (WHERE delivered_at IS NULL),
                 COUNT(*) FILTER (WHERE delivered_at IS NULL AND attempts > 0),
                 COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                 MIN(created_at) FILTER (WHERE delivered_at IS NULL)
             FROM outbox",
            [],
            |row| {
                Ok(OutboxStats {
                    pending: count(row.get(0)?),
                    failing: count(row.get(1)?),
                    delivered: count(row.get(2)?),
                    oldest_pending: row.get::<_, Option<i64>>(3)?.map(from_millis),
                })
            },
        )?;
        Ok(stats)
    }

    /// Returns the value a source saved under `key`, if any.
    pub fn cursor(&self, source: &str, key: &str) -> Result<Option<String>, StoreError> {
        let value = self
            .lock()
            .query_row(
                "SELECT value FROM cursors WHERE source = ?1 AND key = ?2",
                params![source, key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(value)
    }

    pub fn set_cursor(&self, source: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO cursors (source, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source, key) DO UPDATE SET value = ?3, updated_at = ?4",
                params![source, key, value, to_millis(OffsetDateTime::now_utc())],
            )
            .map_err(|error| self.file_error(error.into()))?;
        Ok(())
    }

    fn query_outbox(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {condition}");
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map(params, read_alert)?;
        rows.map(|row| row?.1).collect()
    }

    /// Like `query_outbox`, for rows to deliver: a row whose payload does not decode is
    /// logged and put back by [`DAMAGED_ROW_RETRY`] rather than failing the whole batch, so
    /// that one damaged row does not hold back every other alert.
    fn query_due(
        &self,
        now: OffsetDateTime,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {condition}");
        let mut statement = conn.prepare(&sql)?;
        let mut alerts = Vec::new();
        let mut damaged = Vec::new();
        for row in statement.query_map(params, read_alert)? {
            match row? {
                (_, Ok(alert)) => alerts.push(alert),
                (id, Err(error)) => damaged.push((id, error.to_string())),
            }
        }
        for (id, error) in damaged {
            tracing::error!(row = id, %error, "Outbox row cannot be sent; retrying it later.");
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE id = ?1",
                params![id, error, to_millis(now + DAMAGED_ROW_RETRY)],
            )?;
        }
        Ok(alerts)
    }
}

/// Delay before a row whose payload does not decode is read again.
const DAMAGED_ROW_RETRY: time::Duration = time::Duration::hours(1);

/// Reads one outbox row, with its id apart so that a row that does not decode can be named.
fn read_alert(row: &Row<'_>) -> rusqlite::Result<(i64, Result<OutboxAlert, StoreError>)> {
    let id: i64 = row.get(0)?;
    let payload: String = row.get(4)?;
    let payload = match serde_json::from_str(&payload) {
        Ok(payload) => payload,
        Err(error) => {
            let error = StoreError::Corrupt {
                column: "payload",
                row: format!("outbox row {id}"),
                reason: error.to_string(),
            };
            return Ok((id, Err(error)));
        }
    };
    let alert = OutboxAlert {
        id,
        finding_id: row.get(1)?,
        sink: row.get(2)?,
        idempotency_key: row.get(3)?,
        payload,
        attempts: row.get(5)?,
        created_at: from_millis(row.get(6)?),
        next_attempt_at: from_millis(row.get(7)?),
        last_error: row.get(8)?,
        delivered_at: row.get::<_, Option<i64>>(9)?.map(from_millis),
    };
    Ok((id, Ok(alert)))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn sink_list(sinks: &[String]) -> String {
    serde_json::to_string(sinks).unwrap_or_else(|_| "[]".to_owned())
}
