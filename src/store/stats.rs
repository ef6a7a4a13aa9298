//! Counts read by the metrics endpoint.

use super::{Store, StoreError};

/// Delivery figures of one sink, over the whole outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkCounts {
    pub sink: String,
    /// Alerts delivered.
    pub delivered: u64,
    /// Failed delivery attempts, over all alerts.
    pub failed_attempts: u64,
    /// Alerts not delivered yet.
    pub pending: u64,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    /// Delivery figures per sink, sorted by sink name.
    pub fn sink_counts(&self) -> Result<Vec<SinkCounts>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT sink,
                    COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                    COALESCE(SUM(attempts), 0),
                    COUNT(*) FILTER (WHERE delivered_at IS NULL)
             FROM outbox GROUP BY sink ORDER BY sink",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(SinkCounts {
                sink: row.get(0)?,
                delivered: count(row.get(1)?),
                failed_attempts: count(row.get(2)?),
                pending: count(row.get(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of findings per severity name, sorted by name.
    pub fn finding_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT severity, COUNT(*) FROM findings GROUP BY severity ORDER BY severity",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, count(row.get(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
