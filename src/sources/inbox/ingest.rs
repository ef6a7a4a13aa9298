//! One mail from any source (an IMAP folder, a Maildir, the report form, an imported file)
//! through the same steps: analysis, the mail kept as evidence and filed into its campaign
//! (one store transaction), then the campaign's finding through [`Pipeline::submit`] (a second
//! transaction, with its alerts).
//!
//! A crash between the two transactions leaves the mail recorded and the finding not yet
//! updated. The caller's cursor has not moved then, so the mail is read again: the store
//! recognises it by its SHA-256 and returns its campaign, whose finding is submitted again.

use time::OffsetDateTime;

use super::analysis::Analyzer;
use crate::campaign::{self, Fallback};
use crate::model::Severity;
use crate::pipeline::{Pipeline, PipelineError, Submitted};
use crate::store::{NewMail, StoreError};

/// Where a mail comes from and what to do with a mail that matches no watchlist.
#[derive(Debug, Clone)]
pub struct MailSource {
    /// Source name written in the mail row and the finding: `inbox`, `intake` or `import`.
    pub source: &'static str,
    /// Where it was read, for the analyst: `abuse/INBOX`, `report form`, a file path.
    pub origin: String,
    pub folder: Option<String>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    /// Watchlist and severity of a mail that matches no watchlist; `None` keeps such a mail
    /// without a campaign.
    pub fallback: Option<(String, Severity)>,
}

/// What happened to one mail.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub mail_id: i64,
    /// The same raw mail was recorded before.
    pub duplicate: bool,
    pub campaign_id: Option<i64>,
    /// Outcome of the campaign finding's submission; `None` without a campaign.
    pub submitted: Option<Submitted>,
    /// Why the analysis failed, if it did.
    pub analysis_error: Option<String>,
}

impl Ingested {
    /// Returns whether alert rows were written for this mail.
    pub fn alerted(&self) -> bool {
        matches!(
            self.submitted,
            Some(Submitted::Recorded { alerted: true, .. })
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("mail task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl IngestError {
    /// Returns whether the same mail may go through later (a busy database).
    pub fn is_transient(&self) -> bool {
        match self {
            IngestError::Store(error) => error.is_transient(),
            IngestError::Pipeline(PipelineError::Store(error)) => error.is_transient(),
            _ => false,
        }
    }
}

/// Analyses `raw`, records it with its campaign and submits the campaign's finding.
pub async fn ingest(
    pipeline: &Pipeline,
    analyzer: &Analyzer,
    raw: Vec<u8>,
    from: &MailSource,
) -> Result<Ingested, IngestError> {
    let received_at = OffsetDateTime::now_utc();
    let worker = analyzer.clone();
    let (analysis, raw) = tokio::task::spawn_blocking(move || (worker.analyze(&raw), raw)).await?;

    let fallback = from
        .fallback
        .as_ref()
        .map(|(watchlist, severity)| Fallback {
            watchlist,
            severity: *severity,
        });
    let input = campaign::campaign_input(&analysis.facts, &analyzer.config().watchlists, fallback);
    let mail = NewMail {
        sha256: analysis.facts.sha256.clone(),
        source: from.source.to_string(),
        origin: from.origin.clone(),
        folder: from.folder.clone(),
        uidvalidity: from.uidvalidity,
        uid: from.uid,
        received_at,
        message_id: analysis.facts.message_id.clone(),
        subject: analysis.facts.subject.clone(),
        sender: analysis.facts.from.clone(),
        origin_ip: analysis.facts.origin_ip.map(|ip| ip.to_string()),
        raw,
        analysis: analysis.report.clone(),
        attachments: analysis.attachments.clone(),
        campaign: input,
    };

    let store = pipeline.store().clone();
    let recorded = tokio::task::spawn_blocking(move || store.record_mail(&mail)).await??;
    let submitted = match &recorded.campaign {
        Some(state) => {
            let finding = campaign::finding(state, &analysis.facts, from.source, received_at);
            match pipeline.submit(finding).await {
                Ok(submitted) => Some(submitted),
                // A reload removed the watchlist between analysis and submission. Failing
                // would read this mail again and again and hold back the ones after it.
                Err(error @ PipelineError::UnknownWatchlist { .. }) => {
                    tracing::warn!(mail_id = recorded.mail_id, %error, "Mail kept, its campaign finding dropped.");
                    None
                }
                Err(error) => return Err(error.into()),
            }
        }
        None => None,
    };
    Ok(Ingested {
        mail_id: recorded.mail_id,
        duplicate: recorded.duplicate,
        campaign_id: recorded.campaign.as_ref().map(|state| state.id),
        submitted,
        analysis_error: analysis.error,
    })
}
