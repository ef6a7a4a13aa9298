//! Items that a source could not read, such as a malformed certificate of a CT log, kept
//! for an analyst to inspect. The store does not interpret them.

use rusqlite::params;
use time::OffsetDateTime;

use super::{Store, StoreError, from_millis, to_millis};

/// Bytes of one item kept at most; longer items are cut to this length.
pub const QUARANTINE_MAX_BYTES: usize = 64 * 1024;

/// An item to put aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineItem {
    /// Place of the item within its origin, e.g. the index of a log entry.
    pub item: String,
    /// Reason it could not be read.
    pub reason: String,
    /// The item as received, cut to [`QUARANTINE_MAX_BYTES`].
    pub raw: Vec<u8>,
}

/// An item put aside, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedItem {
    pub source: String,
    /// Origin of the item, e.g. a log URL.
    pub origin: String,
    pub item: String,
    pub reason: String,
    pub raw: Vec<u8>,
    pub seen_at: OffsetDateTime,
}

impl Store {
    /// Puts `items` aside and saves a cursor value, in one transaction, so that a source's
    /// position never moves past an item that was not kept. An item already kept (same
    /// source, origin and item) is replaced.
    pub fn quarantine_and_set_cursor(
        &self,
        source: &str,
        origin: &str,
        items: &[QuarantineItem],
        cursor: (&str, &str),
    ) -> Result<(), StoreError> {
        let now = to_millis(OffsetDateTime::now_utc());
        self.write_transaction(|tx| {
            let mut insert = tx.prepare(
                "INSERT INTO quarantine (source, origin, item, reason, raw, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source, origin, item) DO UPDATE
                 SET reason = ?4, raw = ?5, seen_at = ?6",
            )?;
            for item in items {
                let raw = &item.raw[..item.raw.len().min(QUARANTINE_MAX_BYTES)];
                insert.execute(params![source, origin, item.item, item.reason, raw, now])?;
            }
            tx.execute(
                "INSERT INTO cursors (source, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source, key) DO UPDATE SET value = ?3, updated_at = ?4",
                params![source, cursor.0, cursor.1, now],
            )?;
            Ok(())
        })
    }

    /// Returns the items a source put aside for `origin` (every origin when `None`), oldest
    /// first, at most `limit` of them.
    pub fn quarantined(
        &self,
        source: &str,
        origin: Option<&str>,
        limit: usize,
    ) -> Result<Vec<QuarantinedItem>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT source, origin, item, reason, raw, seen_at FROM quarantine
             WHERE source = ?1 AND (?2 IS NULL OR origin = ?2)
             ORDER BY id LIMIT ?3",
        )?;
        let rows = statement.query_map(
            params![source, origin, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| {
                Ok(QuarantinedItem {
                    source: row.get(0)?,
                    origin: row.get(1)?,
                    item: row.get(2)?,
                    reason: row.get(3)?,
                    raw: row.get(4)?,
                    seen_at: from_millis(row.get(5)?),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns how many items a source put aside for `origin` (every origin when `None`).
    pub fn quarantine_count(&self, source: &str, origin: Option<&str>) -> Result<u64, StoreError> {
        let count: i64 = self.lock().query_row(
            "SELECT COUNT(*) FROM quarantine WHERE source = ?1 AND (?2 IS NULL OR origin = ?2)",
            params![source, origin],
            |row| row.get(0),
        )?;
        Ok(count.max(0) as u64)
    }
}
