//! The bridge between the mail analysis ([`crate::mail::analyze`]) and the campaign logic:
//! runs the analysis on a raw mail with the matcher of the current watchlists and the
//! `[mail]` settings, and keeps what campaigns and evidence need.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::campaign::{MailFacts, MailMatch};
use crate::config::Config;
use crate::detect::{BrandSpec, Matcher};
use crate::mail::{self, Confidence, MailReport, MailSettings};
use crate::store::AttachmentHash;

/// What one analysis returns.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub facts: MailFacts,
    /// The analysis report as JSON, kept with the mail; an object with an `error` key when the
    /// mail could not be analysed.
    pub report: serde_json::Value,
    pub attachments: Vec<AttachmentHash>,
    /// Why the analysis failed, if it did; the mail is still kept.
    pub error: Option<String>,
}

/// Analyses mails against one configuration's watchlists. Cheap to clone.
#[derive(Clone)]
pub struct Analyzer {
    config: Arc<Config>,
    matcher: Arc<Matcher>,
    settings: Arc<MailSettings>,
}

impl Analyzer {
    /// Compiles the matcher of `config`'s watchlists.
    pub fn new(config: Arc<Config>) -> Result<Analyzer, String> {
        let specs: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
        let matcher = Matcher::compile(&specs).map_err(|error| error.to_string())?;
        Ok(Analyzer {
            settings: Arc::new(MailSettings::from_config(&config)),
            config,
            matcher: Arc::new(matcher),
        })
    }

    /// Returns the configuration the matcher was compiled from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Analyses one raw mail. Never fails: a mail that cannot be analysed gets facts with its
    /// hash only, and the reason in [`Analysis::error`].
    pub fn analyze(&self, raw: &[u8]) -> Analysis {
        match mail::analyze(raw, &self.matcher, &self.settings) {
            Ok(report) => Analysis {
                facts: facts_of(&report),
                attachments: report
                    .attachments
                    .iter()
                    .map(|attachment| AttachmentHash {
                        name: attachment.name.clone(),
                        content_type: Some(attachment.content_type.clone()),
                        size: attachment.size as u64,
                        sha256: attachment.sha256.clone(),
                    })
                    .collect(),
                report: serde_json::to_value(&report).unwrap_or(serde_json::Value::Null),
                error: None,
            },
            Err(error) => Analysis {
                facts: MailFacts {
                    sha256: hex::encode(Sha256::digest(raw)),
                    ..MailFacts::default()
                },
                report: serde_json::json!({ "error": error.to_string(), "kind": error.kind() }),
                attachments: Vec::new(),
                error: Some(error.to_string()),
            },
        }
    }
}

/// Keeps what the campaign logic needs from a report.
pub fn facts_of(report: &MailReport) -> MailFacts {
    let reply_to: BTreeSet<String> = report
        .reply_to
        .iter()
        .filter_map(|address| address.address.clone())
        .collect();
    let url_domains: BTreeSet<String> = report
        .urls
        .iter()
        .filter_map(|url| url.host.clone())
        .map(|host| host.to_ascii_lowercase())
        .collect();
    let empty_text = mail::digest::body_digest(&[]);
    let body_digest = Some(report.body_digest.clone()).filter(|digest| *digest != empty_text);
    MailFacts {
        sha256: report.sha256.clone(),
        message_id: report.message_id.clone(),
        subject: report.subject.clone(),
        from: report
            .from
            .as_ref()
            .and_then(|from| from.address.clone().or_else(|| from.name.clone())),
        reply_to: reply_to.into_iter().collect(),
        // A low-confidence origin may be a forged hop: grouping by it would join strangers.
        origin_ip: report
            .origin_ip
            .as_ref()
            .filter(|origin| origin.confidence != Confidence::Low)
            .map(|origin| origin.ip),
        url_domains: url_domains.into_iter().collect(),
        body_simhash: body_digest.as_ref().map(|_| report.body_simhash.clone()),
        body_digest,
        matches: report
            .findings
            .iter()
            .map(|found| MailMatch {
                watchlist: found.watchlist.clone(),
                subject: found.subject.clone(),
                role: found.role.clone(),
                score: found.score,
                severity: found.severity,
                reasons: found.reasons.clone(),
            })
            .collect(),
    }
}
