//! Maildir folders: mail delivered into `new/` is read, then moved to `cur/` with an empty
//! info part (`:2,`), as a mail client marks mail it has seen. The move happens after the
//! mail's campaign finding was committed, so a crash before it reads the mail again, and the
//! store recognises it by its SHA-256.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::analysis::Analyzer;
use super::ingest::{MailSource, ingest};
use super::{InboxError, SOURCE};
use crate::config::InboxConfig;
use crate::sources::SourceContext;

/// Counts of one scan of a Maildir.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanCounts {
    pub mails: usize,
    pub alerted: usize,
    pub duplicates: usize,
    pub too_large: usize,
}

/// Scans the Maildir every `poll_secs` until shutdown.
pub async fn run_maildir(ctx: SourceContext, inbox: InboxConfig, path: PathBuf) {
    let health = ctx.pipeline.health().clone();
    let health_name = format!("{SOURCE}:{}", inbox.name);
    health.register(&health_name, Duration::from_secs(inbox.poll_secs));
    let mut analyzer: Option<Analyzer> = None;
    loop {
        health.poll_started(&health_name);
        let config = ctx.config.borrow().clone();
        let current = match analyzer.as_ref() {
            Some(current) if Arc::ptr_eq(current.config(), &config) => Ok(current.clone()),
            _ => Analyzer::new(config).map_err(InboxError::Matcher),
        };
        let outcome = match current {
            Ok(current) => {
                analyzer = Some(current.clone());
                scan(&ctx, &inbox, &path, &current).await
            }
            Err(error) => Err(error),
        };
        match &outcome {
            Ok(counts) => health.poll_succeeded(&health_name, counts.mails as u64),
            Err(error) => health.poll_failed(&health_name, &error.to_string()),
        }
        match outcome {
            Ok(counts) if counts.mails + counts.too_large > 0 => {
                info!(inbox = %inbox.name, mails = counts.mails, alerted = counts.alerted, duplicates = counts.duplicates, too_large = counts.too_large, "Read new mail.");
            }
            Ok(_) => debug!(inbox = %inbox.name, "No new mail."),
            Err(error) => {
                warn!(inbox = %inbox.name, path = %path.display(), %error, "Maildir scan failed, trying again at the next poll.");
            }
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(inbox.poll_secs)) => {}
        }
    }
}

/// Reads every mail in `new/` once, oldest name first, and moves each to `cur/`.
pub async fn scan(
    ctx: &SourceContext,
    inbox: &InboxConfig,
    path: &Path,
    analyzer: &Analyzer,
) -> Result<ScanCounts, InboxError> {
    let new = path.join("new");
    let cur = path.join("cur");
    let names = list_new(&new)?;
    let mut counts = ScanCounts::default();
    for name in names {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let file = new.join(&name);
        match read_limited(&file, inbox.max_message_bytes)? {
            None => {
                counts.too_large += 1;
                warn!(inbox = %inbox.name, file = %file.display(), max = inbox.max_message_bytes, "Mail larger than max_message_bytes moved to cur/ unread; raise max_message_bytes to read it.");
            }
            Some(raw) => {
                let from = MailSource {
                    source: SOURCE,
                    origin: format!("{}/{}", inbox.name, name),
                    folder: Some(path.display().to_string()),
                    uidvalidity: None,
                    uid: None,
                    fallback: inbox
                        .watchlist
                        .clone()
                        .map(|watchlist| (watchlist, inbox.unmatched_severity)),
                };
                let ingested = ingest(&ctx.pipeline, analyzer, raw, &from).await?;
                counts.mails += 1;
                counts.alerted += usize::from(ingested.alerted());
                counts.duplicates += usize::from(ingested.duplicate);
            }
        }
        let seen = if name.contains(":2,") {
            name.clone()
        } else {
            format!("{name}:2,")
        };
        std::fs::rename(&file, cur.join(&seen)).map_err(|error| InboxError::Maildir {
            path: file.display().to_string(),
            reason: format!("cannot move it to cur/: {error}"),
        })?;
    }
    Ok(counts)
}

fn list_new(new: &Path) -> Result<Vec<String>, InboxError> {
    let entries = std::fs::read_dir(new).map_err(|error| InboxError::Maildir {
        path: new.display().to_string(),
        reason: format!("{error}; check that path names a Maildir (holding new/ and cur/)"),
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// Reads a file of at most `max` bytes; `None` when it is larger.
fn read_limited(path: &Path, max: u64) -> Result<Option<Vec<u8>>, InboxError> {
    let failed = |error: std::io::Error| InboxError::Maildir {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut raw = Vec::new();
    file.take(max + 1).read_to_end(&mut raw).map_err(failed)?;
    Ok((raw.len() as u64 <= max).then_some(raw))
}
