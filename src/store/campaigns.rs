//! Mails kept as evidence and the campaigns they are grouped into.
//!
//! [`Store::record_mail`] writes one mail (its raw bytes gzip-compressed, its SHA-256, where it
//! was read, its attachments' hashes) and files it into a campaign in one transaction. A
//! campaign is the set of mails of one watchlist that share grouping keys: the campaign
//! logic in `crate::campaign` decides which keys a mail has and which of them are strong. A mail
//! joins every campaign with which it shares one strong key or weak keys of two kinds, and
//! every campaign holding a mail whose body SimHash is at most 4 bits from its own. When it
//! joins several, the oldest absorbs the others (`merged_into`), mails and keys included.
//!
//! The same raw mail recorded twice (same SHA-256) is not counted twice: the second call
//! returns the campaign of the first, so a source that reads a mail again after a crash
//! submits the same campaign state again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use rusqlite::{OptionalExtension, Transaction, params};
use time::OffsetDateTime;

use super::{Store, StoreError, from_millis, to_millis};
use crate::model::Severity;

/// Largest raw mail [`Store::mail_raw`] decompresses, in bytes.
const MAX_RAW_BYTES: u64 = 1 << 30;

/// One grouping key of a mail: an origin IP, its network, a URL domain, a reply-to address or
/// a body digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CampaignKey {
    /// `ip`, `network`, `url-domain`, `reply-to` or `body`.
    pub kind: String,
    pub value: String,
    /// A strong key alone groups two mails; weak keys need a second shared key.
    pub strong: bool,
}

/// The campaign part of a mail to record.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub watchlist: String,
    pub keys: Vec<CampaignKey>,
    /// Subject of the campaign's finding when this mail starts a new campaign.
    pub label: String,
    /// Brand or legitimate domain the mail imitates.
    pub imitates: String,
    pub score: u8,
    pub severity: Severity,
}

/// Hash and description of one attachment; the attachment itself is never stored or opened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttachmentHash {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: u64,
    pub sha256: String,
}

/// A mail to record.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// SHA-256 of the raw bytes, hex.
    pub sha256: String,
    /// Source that read it: `inbox`, `intake` or `import`.
    pub source: String,
    /// Where it was read: `INBOX-NAME/FOLDER`, `report form`, a file path.
    pub origin: String,
    pub folder: Option<String>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    pub received_at: OffsetDateTime,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub origin_ip: Option<String>,
    /// The raw mail, uncompressed; the store compresses it.
    pub raw: Vec<u8>,
    /// What the analysis found, or why it failed, as JSON.
    pub analysis: serde_json::Value,
    pub attachments: Vec<AttachmentHash>,
    /// `None` when the mail matches no watchlist and its source names none: kept as evidence,
    /// in no campaign.
    pub campaign: Option<CampaignInput>,
}

/// A campaign after a mail was filed into it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignState {
    pub id: i64,
    /// Stable identity of the campaign: the SHA-256 of its first mail.
    pub key: String,
    pub watchlist: String,
    pub label: String,
    pub imitates: String,
    /// Highest score of its mails.
    pub score: u8,
    /// Highest severity of its mails.
    pub severity: Severity,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub mail_count: u64,
    /// Values of each key kind, with the number of mails carrying each.
    pub keys: BTreeMap<String, BTreeMap<String, u64>>,
    /// Campaigns absorbed by this one when the mail was filed.
    pub absorbed: Vec<i64>,
}

impl CampaignState {
    /// Returns the values of one key kind (`ip`, `network`, ...), sorted.
    pub fn values(&self, kind: &str) -> BTreeSet<String> {
        self.keys
            .get(kind)
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Outcome of [`Store::record_mail`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedMail {
    pub mail_id: i64,
    /// The same raw mail was recorded before; nothing was written.
    pub duplicate: bool,
    pub campaign: Option<CampaignState>,
}

/// A recorded mail, without its raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMail {
    pub id: i64,
    pub sha256: String,
    pub source: String,
    pub origin: String,
    pub folder: Option<String>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    pub received_at: OffsetDateTime,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub origin_ip: Option<String>,
    pub size: u64,
    /// Size of the stored gzip blob.
    pub stored_size: u64,
    pub campaign_id: Option<i64>,
    pub analysis: serde_json::Value,
}

/// A report posted to the intake endpoint.
#[derive(Debug, Clone)]
pub struct IntakeReport {
    pub id: String,
    pub mail_id: i64,
    pub reporter: Option<String>,
    pub comment: Option<String>,
    pub client_ip: String,
    pub received_at: OffsetDateTime,
}

impl Store {
    /// Records a mail and files it into its campaign, in one transaction. See the module
    /// documentation for the grouping rule and for duplicates.
    pub fn record_mail(&self, mail: &NewMail) -> Result<RecordedMail, StoreError> {
        let raw_gzip = gzip(&mail.raw)?;
        self.write_transaction(|tx| {
            if let Some((mail_id, campaign_id)) = find_mail(tx, &mail.sha256)? {
                let campaign = match campaign_id {
                    Some(id) => Some(load_campaign(tx, current_campaign(tx, id)?, Vec::new())?),
                    None => None,
                };
                return Ok(RecordedMail {
                    mail_id,
                    duplicate: true,
                    campaign,
                });
            }

            let (campaign_id, absorbed) = match &mail.campaign {
                Some(input) => {
                    let (id, absorbed) = file_into_campaign(tx, mail, input)?;
                    (Some(id), absorbed)
                }
                None => (None, Vec::new()),
            };
            let mail_id = insert_mail(tx, mail, &raw_gzip, campaign_id)?;
            let campaign = match campaign_id {
                Some(id) => Some(load_campaign(tx, id, absorbed)?),
                None => None,
            };
            Ok(RecordedMail {
                mail_id,
                duplicate: false,
                campaign,
            })
        })
    }

    /// Returns the mail with this id, without its raw bytes.
    pub fn mail(&self, id: i64) -> Result<Option<StoredMail>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {MAIL_COLUMNS} FROM mails WHERE id = ?1"),
            [id],
            read_mail,
        )
        .optional()?
        .transpose()
    }

    /// Returns the mail with this SHA-256 (hex), without its raw bytes.
    pub fn mail_by_sha256(&self, sha256: &str) -> Result<Option<StoredMail>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {MAIL_COLUMNS} FROM mails WHERE sha256 = ?1"),
            [sha256],
            read_mail,
        )
        .optional()?
        .transpose()
    }

    /// Returns every mail, oldest first, without their raw bytes.
    pub fn mails(&self) -> Result<Vec<StoredMail>, StoreError> {
        let conn = self.lock();
        let mut statement =
            conn.prepare(&format!("SELECT {MAIL_COLUMNS} FROM mails ORDER BY id"))?;
        let rows = statement.query_map([], read_mail)?;
        rows.map(|row| row?).collect()
    }

    /// Returns the raw bytes of a mail, decompressed, as they were read.
    pub fn mail_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let blob: Option<Vec<u8>> = self
            .lock()
            .query_row("SELECT raw_gzip FROM mails WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?;
        let Some(blob) = blob else {
            return Ok(None);
        };
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(blob.as_slice())
            .take(MAX_RAW_BYTES)
            .read_to_end(&mut raw)
            .map_err(|error| StoreError::Corrupt {
                column: "raw_gzip",
                row: format!("mail {id}"),
                reason: error.to_string(),
            })?;
        Ok(Some(raw))
    }

    /// Returns the attachment hashes of a mail.
    pub fn mail_attachments(&self, mail_id: i64) -> Result<Vec<AttachmentHash>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT name, content_type, size, sha256 FROM mail_attachments
             WHERE mail_id = ?1 ORDER BY rowid",
        )?;
        let rows = statement.query_map([mail_id], |row| {
            Ok(AttachmentHash {
                name: row.get(0)?,
                content_type: row.get(1)?,
                size: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                sha256: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns a campaign's current state; a campaign merged into another returns the other.
    pub fn campaign(&self, id: i64) -> Result<Option<CampaignState>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM campaigns WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let current = current_campaign(&tx, id)?;
        Ok(Some(load_campaign(&tx, current, Vec::new())?))
    }

    /// Returns every campaign not merged into another, oldest first.
    pub fn campaigns(&self) -> Result<Vec<CampaignState>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = {
            let mut statement =
                tx.prepare("SELECT id FROM campaigns WHERE merged_into IS NULL ORDER BY id")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        ids.into_iter()
            .map(|id| load_campaign(&tx, id, Vec::new()))
            .collect()
    }

    /// Returns the ids of a campaign's mails, oldest first.
    pub fn campaign_mail_ids(&self, campaign_id: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock();
        let mut statement =
            conn.prepare("SELECT id FROM mails WHERE campaign_id = ?1 ORDER BY id")?;
        let rows = statement.query_map([campaign_id], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a report of the web form, pointing at its recorded mail.
    pub fn record_intake_report(&self, report: &IntakeReport) -> Result<(), StoreError> {
        self.write_transaction(|tx| {
            tx.execute(
                "INSERT INTO intake_reports (id, mail_id, reporter, comment, client_ip, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    report.id,
                    report.mail_id,
                    report.reporter,
                    report.comment,
                    report.client_ip,
                    to_millis(report.received_at),
                ],
            )?;
            Ok(())
        })
    }

    /// Returns the mail id of an intake report, if the report exists.
    pub fn intake_report_mail(&self, report_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT mail_id FROM intake_reports WHERE id = ?1",
                [report_id],
                |row| row.get(0),
            )
            .optional()?)
    }
}

const MAIL_COLUMNS: &str = "id, sha256, source, origin, folder, uidvalidity, uid, received_at, \
    message_id, subject, sender, origin_ip, size, length(raw_gzip), campaign_id, analysis";

fn read_mail(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredMail, StoreError>> {
    let id: i64 = row.get(0)?;
    let analysis: String = row.get(15)?;
    let mail = StoredMail {
        id,
        sha256: row.get(1)?,
        source: row.get(2)?,
        origin: row.get(3)?,
        folder: row.get(4)?,
        uidvalidity: row.get(5)?,
        uid: row.get(6)?,
        received_at: from_millis(row.get(7)?),
        message_id: row.get(8)?,
        subject: row.get(9)?,
        sender: row.get(10)?,
        origin_ip: row.get(11)?,
        size: u64::try_from(row.get::<_, i64>(12)?).unwrap_or(0),
        stored_size: u64::try_from(row.get::<_, i64>(13)?).unwrap_or(0),
        campaign_id: row.get(14)?,
        analysis: serde_json::Value::Null,
    };
    Ok(match serde_json::from_str(&analysis) {
        Ok(analysis) => Ok(StoredMail { analysis, ..mail }),
        Err(error) => Err(StoreError::Corrupt {
            column: "analysis",
            row: format!("mail {id}"),
            reason: error.to_string(),
        }),
    })
}

fn gzip(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail for lack of space; an error here is a bug in flate2.
    encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|error| StoreError::Corrupt {
            column: "raw_gzip",
            row: "new mail".to_string(),
            reason: format!("compression failed: {error}"),
        })
}

fn find_mail(tx: &Transaction<'_>, sha256: &str) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT id, campaign_id FROM mails WHERE sha256 = ?1",
            [sha256],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?)
}

/// Follows `merged_into` to the campaign that holds the mails now.
fn current_campaign(tx: &Transaction<'_>, mut id: i64) -> Result<i64, StoreError> {
    // Merges always point to an older campaign, so the chain ends; the bound guards a
    // damaged store.
    for _ in 0..1000 {
        let next: Option<i64> = tx.query_row(
            "SELECT merged_into FROM campaigns WHERE id = ?1",
            [id],
            |row| row.get(0),
        )?;
        match next {
            Some(next) => id = next,
            None => return Ok(id),
        }
    }
    Err(StoreError::Corrupt {
        column: "merged_into",
        row: format!("campaign {id}"),
        reason: "merge chain does not end".to_string(),
    })
}

/// Finds or creates the campaign of `mail`, merges the others it joins into it, and adds the
/// mail's keys and counts. Returns the campaign id and the ids of the campaigns absorbed.
fn file_into_campaign(
    tx: &Transaction<'_>,
    mail: &NewMail,
    input: &CampaignInput,
) -> Result<(i64, Vec<i64>), StoreError> {
    let joined = matching_campaigns(tx, input)?;
    let seen = to_millis(mail.received_at);
    let campaign_id = match joined.first() {
        Some(oldest) => *oldest,
        None => {
            tx.execute(
                "INSERT INTO campaigns (key, watchlist, label, imitates, score, severity,
                     first_seen, last_seen, mail_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0)",
                params![
                    mail.sha256,
                    input.watchlist,
                    input.label,
                    input.imitates,
                    input.score,
                    input.severity.as_str(),
                    seen,
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    let absorbed: Vec<i64> = joined.iter().skip(1).copied().collect();
    for other in &absorbed {
        merge_campaign(tx, campaign_id, *other)?;
    }

    let mut statement = tx.prepare_cached(
        "INSERT INTO campaign_keys (campaign_id, watchlist, kind, value, strong, mails)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT (campaign_id, kind, value)
         DO UPDATE SET mails = mails + 1, strong = MAX(strong, excluded.strong)",
    )?;
    let keys: BTreeSet<&CampaignKey> = input.keys.iter().collect();
    for key in keys {
        statement.execute(params![
            campaign_id,
            input.watchlist,
            key.kind,
            key.value,
            key.strong
        ])?;
    }

    let previous: String = tx.query_row(
        "SELECT severity FROM campaigns WHERE id = ?1",
        [campaign_id],
        |row| row.get(0),
    )?;
    let severity = Severity::parse(&previous)
        .unwrap_or(Severity::Low)
        .max(input.severity);
    tx.execute(
        "UPDATE campaigns SET mail_count = mail_count + 1, score = MAX(score, ?2),
             severity = ?3, first_seen = MIN(first_seen, ?4), last_seen = MAX(last_seen, ?4)
         WHERE id = ?1",
        params![campaign_id, input.score, severity.as_str(), seen],
    )?;
    Ok((campaign_id, absorbed))
}

/// Key kind whose weak keys count together, not as one kind: the bands of a body's SimHash.
const BAND_KIND: &str = "body-band";

/// Key kind of a body's whole SimHash: stored, never looked up by value.
const SIMHASH_KIND: &str = "body-simhash";

/// Bands of a body's SimHash that two mails at most [`NEAR_BODY_BITS`] apart always share.
const BANDS_FOR_NEAR_BODY: u32 = 4;

/// Largest SimHash distance, in bits, of two bodies taken as near-identical.
const NEAR_BODY_BITS: u32 = 4;

/// Shared keys of one campaign with the mail being filed.
#[derive(Debug, Default)]
struct Hits<'k> {
    strong: u32,
    weak_kinds: BTreeSet<&'k str>,
    bands: u32,
}

/// Returns the campaigns of the watchlist that the mail joins, oldest first: those sharing
/// one strong key with it, weak keys of two kinds, or a mail whose body's SimHash is at most
/// [`NEAR_BODY_BITS`] away.
fn matching_campaigns(tx: &Transaction<'_>, input: &CampaignInput) -> Result<Vec<i64>, StoreError> {
    let mut hits: BTreeMap<i64, Hits<'_>> = BTreeMap::new();
    let mut statement = tx.prepare_cached(
        "SELECT k.campaign_id FROM campaign_keys k JOIN campaigns c ON c.id = k.campaign_id
         WHERE k.watchlist = ?1 AND k.kind = ?2 AND k.value = ?3 AND c.merged_into IS NULL",
    )?;
    let keys: BTreeSet<&CampaignKey> = input
        .keys
        .iter()
        .filter(|key| key.kind != SIMHASH_KIND)
        .collect();
    for key in keys {
        let rows = statement.query_map(params![input.watchlist, key.kind, key.value], |row| {
            row.get::<_, i64>(0)
        })?;
        for campaign in rows {
            let entry = hits.entry(campaign?).or_default();
            if key.strong {
                entry.strong += 1;
            } else if key.kind == BAND_KIND {
                entry.bands += 1;
            } else {
                entry.weak_kinds.insert(key.kind.as_str());
            }
        }
    }
    let simhash = input
        .keys
        .iter()
        .find(|key| key.kind == SIMHASH_KIND)
        .and_then(|key| u64::from_str_radix(&key.value, 16).ok());
    let mut joined = Vec::new();
    for (id, hits) in hits {
        let near_body = match simhash {
            Some(simhash) if hits.bands >= BANDS_FOR_NEAR_BODY => {
                has_near_simhash(tx, id, simhash)?
            }
            _ => false,
        };
        if hits.strong >= 1 || hits.weak_kinds.len() >= 2 || near_body {
            joined.push(id);
        }
    }
    Ok(joined)
}

/// Tells whether a mail of the campaign has a body SimHash at most [`NEAR_BODY_BITS`] from
/// `simhash`.
fn has_near_simhash(tx: &Transaction<'_>, campaign: i64, simhash: u64) -> Result<bool, StoreError> {
    let mut statement =
        tx.prepare_cached("SELECT value FROM campaign_keys WHERE campaign_id = ?1 AND kind = ?2")?;
    let values = statement.query_map(params![campaign, SIMHASH_KIND], |row| {
        row.get::<_, String>(0)
    })?;
    for value in values {
        if let Ok(other) = u64::from_str_radix(&value?, 16)
            && (other ^ simhash).count_ones() <= NEAR_BODY_BITS
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Moves the mails and keys of `other` into `into` and marks `other` merged.
fn merge_campaign(tx: &Transaction<'_>, into: i64, other: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO campaign_keys (campaign_id, watchlist, kind, value, strong, mails)
         SELECT ?1, watchlist, kind, value, strong, mails FROM campaign_keys WHERE campaign_id = ?2
         ON CONFLICT (campaign_id, kind, value)
         DO UPDATE SET mails = mails + excluded.mails, strong = MAX(strong, excluded.strong)",
        params![into, other],
    )?;
    tx.execute("DELETE FROM campaign_keys WHERE campaign_id = ?1", [other])?;
    tx.execute(
        "UPDATE mails SET campaign_id = ?1 WHERE campaign_id = ?2",
        params![into, other],
    )?;
    tx.execute(
        "UPDATE campaigns SET
             mail_count = mail_count + (SELECT mail_count FROM campaigns WHERE id = ?2),
             score = MAX(score, (SELECT score FROM campaigns WHERE id = ?2)),
             first_seen = MIN(first_seen, (SELECT first_seen FROM campaigns WHERE id = ?2)),
             last_seen = MAX(last_seen, (SELECT last_seen FROM campaigns WHERE id = ?2))
         WHERE id = ?1",
        params![into, other],
    )?;
    let (into_severity, other_severity): (String, String) = tx.query_row(
        "SELECT (SELECT severity FROM campaigns WHERE id = ?1),
                (SELECT severity FROM campaigns WHERE id = ?2)",
        params![into, other],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let severity = Severity::parse(&into_severity)
        .unwrap_or(Severity::Low)
        .max(Severity::parse(&other_severity).unwrap_or(Severity::Low));
    tx.execute(
        "UPDATE campaigns SET severity = ?2 WHERE id = ?1",
        params![into, severity.as_str()],
    )?;
    tx.execute(
        "UPDATE campaigns SET merged_into = ?1, mail_count = 0 WHERE id = ?2",
        params![into, other],
    )?;
    Ok(())
}

fn insert_mail(
    tx: &Transaction<'_>,
    mail: &NewMail,
    raw_gzip: &[u8],
    campaign_id: Option<i64>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO mails (sha256, source, origin, folder, uidvalidity, uid, received_at,
             message_id, subject, sender, origin_ip, size, raw_gzip, analysis, campaign_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            mail.sha256,
            mail.source,
            mail.origin,
            mail.folder,
            mail.uidvalidity,
            mail.uid,
            to_millis(mail.received_at),
            mail.message_id,
            mail.subject,
            mail.sender,
            mail.origin_ip,
            mail.raw.len() as i64,
            raw_gzip,
            mail.analysis.to_string(),
            campaign_id,
        ],
    )?;
    let mail_id = tx.last_insert_rowid();
    let mut statement = tx.prepare_cached(
        "INSERT INTO mail_attachments (mail_id, name, content_type, size, sha256)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for attachment in &mail.attachments {
        statement.execute(params![
            mail_id,
            attachment.name,
            attachment.content_type,
            attachment.size as i64,
            attachment.sha256,
        ])?;
    }
    Ok(mail_id)
}

fn load_campaign(
    tx: &Transaction<'_>,
    id: i64,
    absorbed: Vec<i64>,
) -> Result<CampaignState, StoreError> {
    let row_name = format!("campaign {id}");
    let mut state = tx.query_row(
        "SELECT key, watchlist, label, imitates, score, severity, first_seen, last_seen,
             mail_count
         FROM campaigns WHERE id = ?1",
        [id],
        |row| {
            let severity: String = row.get(5)?;
            Ok((
                CampaignState {
                    id,
                    key: row.get(0)?,
                    watchlist: row.get(1)?,
                    label: row.get(2)?,
                    imitates: row.get(3)?,
                    score: row.get(4)?,
                    severity: Severity::Low,
                    first_seen: from_millis(row.get(6)?),
                    last_seen: from_millis(row.get(7)?),
                    mail_count: u64::try_from(row.get::<_, i64>(8)?).unwrap_or(0),
                    keys: BTreeMap::new(),
                    absorbed: absorbed.clone(),
                },
                severity,
            ))
        },
    )?;
    state.0.severity = Severity::parse(&state.1).ok_or_else(|| StoreError::Corrupt {
        column: "severity",
        row: row_name,
        reason: format!("unknown value {:?}", state.1),
    })?;
    let mut campaign = state.0;

    let mut statement = tx.prepare_cached(
        "SELECT kind, value, mails FROM campaign_keys WHERE campaign_id = ?1 ORDER BY kind, value",
    )?;
    let rows = statement.query_map([id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (kind, value, mails) = row?;
        campaign
            .keys
            .entry(kind)
            .or_default()
            .insert(value, u64::try_from(mails).unwrap_or(0));
    }
    Ok(campaign)
}
