//! The `inbox` source: mailboxes of reported or trapped scam mail, read over IMAP or from a
//! Maildir. Every mail is analysed, kept as evidence (raw, compressed, with its SHA-256) and
//! filed into a campaign whose finding goes through the pipeline; see [`crate::campaign`] for
//! the grouping and for which campaign changes alert.
//!
//! One task runs per IMAP folder and per Maildir. A reload that changes an inbox stops its
//! tasks and starts new ones, which resume from the cursors in the store.

pub mod analysis;
pub mod imap;
pub mod ingest;
pub mod maildir;
pub mod mbox;

use std::collections::HashMap;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::SourceContext;
use crate::config::{InboxConfig, InboxLocation};

/// Source name used in findings, cursors and logs.
pub const SOURCE: &str = "inbox";

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("inbox {inbox}: cannot connect to {address}: {reason}")]
    Connect {
        inbox: String,
        address: String,
        reason: String,
    },
    #[error(
        "inbox {inbox}: login as {username} failed: {reason}; check username and the password in password_env or password_file"
    )]
    Login {
        inbox: String,
        username: String,
        reason: String,
    },
    #[error("IMAP error: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP {step} timed out after {secs} s; raise timeout_secs if the server is slow")]
    Timeout { step: &'static str, secs: u64 },
    #[error("Maildir {path}: {reason}")]
    Maildir { path: String, reason: String },
    #[error("the watchlists do not compile into a matcher: {0}")]
    Matcher(String),
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs one task per IMAP folder and per Maildir until shutdown; inboxes added, changed or
/// removed by a reload are started or stopped.
pub async fn run(mut ctx: SourceContext) {
    let mut running: HashMap<String, (InboxConfig, CancellationToken, Vec<JoinHandle<()>>)> =
        HashMap::new();
    loop {
        let config = ctx.config.borrow_and_update().clone();
        running.retain(|name, (inbox, stop, _)| {
            let keep = config.inboxes.get(name) == Some(inbox);
            if !keep {
                stop.cancel();
            }
            keep
        });
        for (name, inbox) in &config.inboxes {
            if running.contains_key(name) {
                continue;
            }
            let stop = ctx.shutdown.child_token();
            let task_ctx = SourceContext {
                shutdown: stop.clone(),
                ..ctx.clone()
            };
            running.insert(name.clone(), (inbox.clone(), stop, start(task_ctx, inbox)));
        }

        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            changed = ctx.config.changed() => if changed.is_err() { break },
        }
    }
    for (_, (_, stop, handles)) in running {
        stop.cancel();
        for handle in handles {
            let _ = handle.await;
        }
    }
}

fn start(ctx: SourceContext, inbox: &InboxConfig) -> Vec<JoinHandle<()>> {
    match &inbox.location {
        InboxLocation::Imap(imap) => imap
            .folders
            .iter()
            .map(|folder| {
                tokio::spawn(imap::run_folder(
                    ctx.clone(),
                    inbox.clone(),
                    imap.clone(),
                    folder.clone(),
                ))
            })
            .collect(),
        InboxLocation::Maildir(path) => vec![tokio::spawn(maildir::run_maildir(
            ctx,
            inbox.clone(),
            path.clone(),
        ))],
    }
}

async fn cursor(ctx: &SourceContext, key: &str) -> Result<Option<String>, InboxError> {
    let store = ctx.pipeline.store().clone();
    let key = key.to_string();
    Ok(tokio::task::spawn_blocking(move || store.cursor(SOURCE, &key)).await??)
}

async fn set_cursor(ctx: &SourceContext, key: &str, value: &str) -> Result<(), InboxError> {
    let store = ctx.pipeline.store().clone();
    let (key, value) = (key.to_string(), value.to_string());
    Ok(tokio::task::spawn_blocking(move || store.set_cursor(SOURCE, &key, &value)).await??)
}
