//! Store maintenance: online backup, integrity check, vacuum and restore.
//!
//! A backup uses SQLite's online backup API, so it can run while the daemon writes: it copies
//! a consistent snapshot page by page and starts over by itself when a writer changes a page
//! it already copied. The copy goes to a temporary file beside the destination, is checked,
//! and only then renamed into place, so that a file at the destination is always a whole,
//! checked store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::{Store, StoreError, schema};

/// Pages copied per backup step; the store is unlocked between steps for the daemon's writes.
const PAGES_PER_STEP: std::os::raw::c_int = 256;
/// Pause between two backup steps.
const STEP_PAUSE: Duration = Duration::from_millis(5);

/// Errors of backup, restore and check.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("backup to {path} failed: {source}; check that its folder exists and has free space")]
    Backup {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {}; restore from another backup", problems.join("; "))]
    Damaged {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("cannot read {path} as a vigie store: {source}")]
    NotAStore {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} has schema version {found}, newer than this vigie ({supported}); restore it with a newer vigie"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{destination} exists; remove it or choose another file name")]
    Exists { destination: PathBuf },
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: u32,
    pub findings: i64,
}

/// Sizes before and after a vacuum, in bytes (database file plus write-ahead log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacuumReport {
    pub before: u64,
    pub after: u64,
}

impl Store {
    /// Writes a consistent copy of the store to `destination` while the store stays in use.
    /// Fails when `destination` exists.
    pub fn backup_to(&self, destination: &Path) -> Result<BackupReport, MaintenanceError> {
        if destination.exists() {
            return Err(MaintenanceError::Exists {
                destination: destination.to_owned(),
            });
        }
        let partial = partial_path(destination);
        let _ = std::fs::remove_file(&partial);
        let result = {
            let conn = self.lock();
            copy_database(&conn, &partial)
        };
        if let Err(source) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(MaintenanceError::Backup {
                path: destination.to_owned(),
                source,
            });
        }
        let checked = check_file(&partial);
        let report = match checked {
            Ok(report) => report,
            Err(error) => {
                let _ = std::fs::remove_file(&partial);
                return Err(error);
            }
        };
        sync_file(&partial)?;
        std::fs::rename(&partial, destination).map_err(|source| MaintenanceError::Io {
            action: "rename the finished backup to",
            path: destination.to_owned(),
            source,
        })?;
        if let Some(folder) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename is durable only once the folder itself is synced.
            if let Ok(dir) = std::fs::File::open(folder) {
                let _ = dir.sync_all();
            }
        }
        Ok(BackupReport {
            path: destination.to_owned(),
            ..report
        })
    }

    /// Rebuilds the database file without its free pages and truncates the write-ahead log.
    pub fn vacuum(&self) -> Result<VacuumReport, StoreError> {
        let before = store_size(&self.path);
        {
            let conn = self.lock();
            conn.execute_batch("VACUUM;")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(VacuumReport {
            before,
            after: store_size(&self.path),
        })
    }

    /// Runs SQLite's integrity check and the foreign key check; returns the problems found.
    pub fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        Ok(problems(&self.lock())?)
    }

    /// Replaces the whole content of the store with the store in `source`, after checking it.
    /// Stop the daemon first: it keeps positions of its own in memory.
    pub fn restore_from(&self, source: &Path) -> Result<BackupReport, MaintenanceError> {
        let report = check_file(source)?;
        let mut conn = self.lock();
        conn.restore(MAIN_DB, source, None::<fn(rusqlite::backup::Progress)>)
            .map_err(|error| MaintenanceError::Backup {
                path: self.path.clone(),
                source: error,
            })?;
        // The backup may predate migrations that this vigie has.
        schema::migrate(&mut conn, &self.path.display().to_string())?;
        Ok(BackupReport {
            path: self.path.clone(),
            ..report
        })
    }
}

/// Copies the open database to `path`, a step at a time.
fn copy_database(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    let mut target = Connection::open(path)?;
    let backup = rusqlite::backup::Backup::new(conn, &mut target)?;
    backup.run_to_completion(PAGES_PER_STEP, STEP_PAUSE, None)?;
    drop(backup);
    // A backup file is read alone, and a rollback journal leaves no -wal file beside it.
    target.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    Ok(())
}

/// Opens `path` read-only and checks it: integrity, schema version, finding count.
pub fn check_file(path: &Path) -> Result<BackupReport, MaintenanceError> {
    let not_a_store = |source| MaintenanceError::NotAStore {
        path: path.to_owned(),
        source,
    };
    if !path.is_file() {
        return Err(MaintenanceError::Io {
            action: "read",
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(not_a_store)?;
    let found = problems(&conn).map_err(not_a_store)?;
    if !found.is_empty() {
        return Err(MaintenanceError::Damaged {
            path: path.to_owned(),
            problems: found,
        });
    }
    let schema_version: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(not_a_store)?;
    let supported = schema::MIGRATIONS.len() as u32;
    if schema_version > supported {
        return Err(MaintenanceError::TooNew {
            path: path.to_owned(),
            found: schema_version,
            supported,
        });
    }
    let findings: i64 = conn
        .query_row("SELECT count(*) FROM findings", [], |row| row.get(0))
        .map_err(not_a_store)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        path: path.to_owned(),
        bytes,
        schema_version,
        findings,
    })
}

fn problems(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut statement = conn.prepare("PRAGMA integrity_check")?;
    for line in statement.query_map([], |row| row.get::<_, String>(0))? {
        let line = line?;
        if line != "ok" {
            found.push(line);
        }
    }
    let mut statement = conn.prepare("PRAGMA foreign_key_check")?;
    let rows = statement.query_map([], |row| {
        Ok(format!(
            "row {} of table {} points to a missing row of {}",
            row.get::<_, Option<i64>>(1)?.unwrap_or_default(),
            row.get::<_, String>(0)?,
            row.get::<_, String>(2)?
        ))
    })?;
    for row in rows {
        found.push(row?);
    }
    Ok(found)
}

fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), MaintenanceError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| MaintenanceError::Io {
            action: "sync",
            path: path.to_owned(),
            source,
        })
}

fn store_size(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_owned(), PathBuf::from(wal)]
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|m| m.len())
        .sum()
}
