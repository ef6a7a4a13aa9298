//! Items already processed by the feed, scam_repository and social sources, and listing of a
//! source's cursors (the per-source health rows among them).

use rusqlite::params;
use time::OffsetDateTime;

use super::{Store, StoreError, from_millis, to_millis};

impl Store {
    /// Tells whether any of `keys` was marked seen for `source`.
    pub fn seen_any(&self, source: &str, keys: &[String]) -> Result<bool, StoreError> {
        let conn = self.lock();
        let mut statement =
            conn.prepare_cached("SELECT 1 FROM seen_items WHERE source = ?1 AND key = ?2")?;
        for key in keys {
            if statement.exists(params![source, key])? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Marks every key of `keys` seen for `source` at `now`, in one transaction. A key seen
    /// before keeps its first date.
    pub fn mark_seen(
        &self,
        source: &str,
        keys: &[String],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write_transaction(|tx| {
            let mut statement = tx.prepare_cached(
                "INSERT OR IGNORE INTO seen_items (source, key, seen_at) VALUES (?1, ?2, ?3)",
            )?;
            for key in keys {
                statement.execute(params![source, key, to_millis(now)])?;
            }
            Ok(())
        })
    }

    /// Forgets the keys of `source` marked seen before `before`; returns how many.
    pub fn prune_seen(&self, source: &str, before: OffsetDateTime) -> Result<usize, StoreError> {
        self.write_transaction(|tx| {
            Ok(tx.execute(
                "DELETE FROM seen_items WHERE source = ?1 AND seen_at < ?2",
                params![source, to_millis(before)],
            )?)
        })
    }

    /// Returns every cursor of `source` as (key, value, time of the last update), by key.
    pub fn cursors(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String, OffsetDateTime)>, StoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT key, value, updated_at FROM cursors WHERE source = ?1 ORDER BY key")?;
        let rows = statement.query_map([source], |row| {
            Ok((row.get(0)?, row.get(1)?, from_millis(row.get(2)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
