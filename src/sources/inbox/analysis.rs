//! The bridge between the mail analysis and the campaign logic: runs the analysis on a raw
//! mail with the matcher of the current watchlists, and keeps what campaigns and evidence need.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::campaign::MailFacts;
use crate::config::Config;
use crate::detect::{BrandSpec, Matcher};
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
}

impl Analyzer {
    /// Compiles the matcher of `config`'s watchlists.
    pub fn new(config: Arc<Config>) -> Result<Analyzer, String> {
        let specs: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
        let matcher = Matcher::compile(&specs).map_err(|error| error.to_string())?;
        Ok(Analyzer {
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
        let sha256 = hex::encode(Sha256::digest(raw));
        let _ = &self.matcher;
        // TODO: call crate::mail::analyze once the mail analysis is merged.
        Analysis {
            facts: MailFacts {
                sha256,
                ..MailFacts::default()
            },
            report: serde_json::json!({}),
            attachments: Vec::new(),
            error: None,
        }
    }
}
