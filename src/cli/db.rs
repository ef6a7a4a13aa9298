//! `vigie db`: backup, check, vacuum and restore of the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;

use crate::config::Config;
use crate::store::{BackupReport, Store, check_file};

/// Arguments of `vigie db`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,

    /// Store file to work on, instead of vigie.db in the configuration's state_dir; the
    /// configuration is then not read.
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,

    #[command(subcommand)]
    pub action: DbAction,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DbAction {
    /// Write a consistent copy of the store to FILE, or into a folder, while the daemon runs.
    Backup {
        /// Destination file; it must not exist.
        #[arg(required_unless_present = "into", conflicts_with = "into")]
        file: Option<PathBuf>,
        /// Folder that receives `vigie-<UTC time>.db`, created when missing.
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
        /// With --into: keep only the newest N backups of the folder, deleting older ones.
        #[arg(long, value_name = "N", requires = "into", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// Check the store (or FILE, such as a backup) for damage.
    Check {
        /// A store file to check instead of the configured one.
        file: Option<PathBuf>,
    },
    /// Rebuild the store file without its free pages.
    Vacuum,
    /// Replace the store's content with a checked backup. Stop the daemon first.
    Restore {
        /// Backup file written by `vigie db backup`.
        file: PathBuf,
    },
}

/// Runs one `vigie db` action on the store named by `--store`, or else on the store of
/// `config`.
pub fn run(args: &DbArgs, config: Option<&Config>) -> anyhow::Result<ExitCode> {
    let path = match (&args.store, config) {
        (Some(path), _) => path.clone(),
        (None, Some(config)) => config.daemon.state_dir.join("vigie.db"),
        (None, None) => anyhow::bail!("give --store FILE or --config FILE"),
    };
    check_owner(&path)?;
    let open = || -> anyhow::Result<Store> {
        if !path.exists() {
            let fix = match config {
                Some(config) => format!(
                    "set daemon.state_dir in {} to the folder holding vigie.db",
                    config.path.display()
                ),
                None => "give the path of an existing vigie.db with --store".to_owned(),
            };
            anyhow::bail!("no store at {}: {fix}", path.display());
        }
        Store::open(&path).with_context(|| format!("opening {}", path.display()))
    };
    match &args.action {
        DbAction::Backup { file, into, keep } => {
            let destination = match (file, into) {
                (Some(file), _) => file.clone(),
                (None, Some(folder)) => {
                    std::fs::create_dir_all(folder)
                        .with_context(|| format!("creating {}", folder.display()))?;
                    folder.join(backup_name(OffsetDateTime::now_utc()))
                }
                (None, None) => anyhow::bail!("give a backup FILE or --into DIR"),
            };
            let report = open()?.backup_to(&destination)?;
            println!("backup written: {}", describe(&report));
            if let (Some(folder), Some(keep)) = (into, keep) {
                for old in prune_backups(folder, *keep as usize)? {
                    println!("old backup removed: {}", old.display());
                }
            }
        }
        DbAction::Check { file: Some(file) } => {
            let report = check_file(file)?;
            println!("no damage found: {}", describe(&report));
        }
        DbAction::Check { file: None } => {
            let store = open()?;
            let problems = store.integrity_problems()?;
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{}: {problem}", path.display());
                }
                eprintln!(
                    "{} problem(s) in {}; restore the latest backup with `vigie db restore`",
                    problems.len(),
                    path.display()
                );
                return Ok(ExitCode::from(1));
            }
            println!("no damage found in {}", path.display());
        }
        DbAction::Vacuum => {
            let report = open()?.vacuum()?;
            println!(
                "vacuumed {}: {} bytes before, {} bytes after",
                path.display(),
                report.before,
                report.after
            );
        }
        DbAction::Restore { file } => {
            // Restoring into a missing store is how a new machine is set up from a backup.
            let store =
                Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let report = store.restore_from(file)?;
            println!(
                "restored {} from {}: {} findings, schema version {}",
                path.display(),
                file.display(),
                report.findings,
                report.schema_version
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to work as root on a store that another user owns: SQLite would create its
/// `-wal` and `-shm` files as root, and the daemon could then no longer write its store.
fn check_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if euid == 0 && meta.uid() != 0 {
        anyhow::bail!(
            "{} belongs to uid {}, and running as root would leave root-owned files beside it; \
             run the command as that user, e.g. `setpriv --reuid={} --regid={} --clear-groups vigie db ...`",
            path.display(),
            meta.uid(),
            meta.uid(),
            meta.gid()
        );
    }
    Ok(())
}

/// Name of a backup written with `--into`: sorts by time, as names and as dates.
pub fn backup_name(at: OffsetDateTime) -> String {
    format!(
        "vigie-{:04}{:02}{:02}T{:02}{:02}{:02}Z.db",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Deletes all but the newest `keep` backups named by [`backup_name`] in `folder`; other files
/// are left alone. Returns the deleted paths.
pub fn prune_backups(folder: &Path, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .with_context(|| format!("listing {}", folder.display()))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| is_backup_name(name))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in names.into_iter().take(excess) {
        let path = folder.join(name);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        removed.push(path);
    }
    Ok(removed)
}

fn is_backup_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix("vigie-")
        .and_then(|rest| rest.strip_suffix("Z.db"))
    else {
        return false;
    };
    let bytes = stamp.as_bytes();
    bytes.len() == 15
        && bytes[8] == b'T'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 8 || b.is_ascii_digit())
}

fn describe(report: &BackupReport) -> String {
    format!(
        "{} ({} bytes, {} findings, schema version {})",
        report.path.display(),
        report.bytes,
        report.findings,
        report.schema_version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_sort_by_time() {
        let early = backup_name(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        let late = backup_name(time::macros::datetime!(2026-11-02 03:04:05 UTC));
        assert_eq!(early, "vigie-20260102T030405Z.db");
        assert!(early < late);
        assert!(is_backup_name(&early));
        assert!(!is_backup_name("vigie.db"));
        assert!(!is_backup_name("vigie-2026010xT030405Z.db"));
    }

    #[test]
    fn prune_keeps_newest_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=5 {
            let name = format!("vigie-202601{day:02}T000000Z.db");
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();

        let removed = prune_backups(dir.path(), 2).unwrap();

        assert_eq!(removed.len(), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "vigie-20260104T000000Z.db",
                "vigie-20260105T000000Z.db"
            ]
        );
    }
}
