//! Holding alerts back: moves rows' next attempt without counting a failed attempt.

use rusqlite::params;
use time::OffsetDateTime;

use super::{Store, StoreError, to_millis};

impl Store {
    /// Sets the next attempt of the undelivered rows `ids` to `until`, in one transaction.
    pub fn defer_alerts(&self, ids: &[i64], until: OffsetDateTime) -> Result<(), StoreError> {
        self.write_transaction(|tx| {
            let mut statement = tx.prepare(
                "UPDATE outbox SET next_attempt_at = ?1 WHERE id = ?2 AND delivered_at IS NULL",
            )?;
            for id in ids {
                statement.execute(params![to_millis(until), id])?;
            }
            Ok(())
        })
    }
}
