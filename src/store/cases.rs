//! Cases, their timeline, triage, the stored allow list, takedown notices and recovery checks.
//!
//! A case groups findings. Every action on a case is a row of `case_events`, written in the
//! same transaction as the change it records, so the timeline never misses a state change.
//! Alerts raised by the response itself (a takedown without answer, a site that came back)
//! go to the same outbox as finding alerts, in the transaction that records their event.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use time::OffsetDateTime;

use super::findings::{FINDING_COLUMNS_PREFIXED, read_finding};
use super::{Store, StoreError, StoredFinding, from_millis, to_millis};

/// A case as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Case {
    pub id: i64,
    pub title: String,
    /// What the scam looks like, in words, for the warning page and the report.
    pub summary: String,
    /// How the campaign reached the company or its customers first (mail, SMS, ad, ...).
    pub vector: String,
    /// `open` or `closed`.
    pub status: String,
    /// When the campaign began, when known (a registration date, the first victim's mail).
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseEvent {
    pub id: i64,
    pub case_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub author: String,
    /// `opened`, `finding-added`, `confirmed`, `note`, `takedown-sent`, ...
    pub kind: String,
    pub text: String,
    pub data: serde_json::Value,
}

/// A new event, before it is stored.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub at: OffsetDateTime,
    pub author: &'a str,
    pub kind: &'a str,
    pub text: String,
    pub data: serde_json::Value,
}

/// Fields of a new case.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub vector: &'a str,
    pub started_at: Option<OffsetDateTime>,
}

/// One name of the stored allow list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AllowEntry {
    pub watchlist: String,
    pub name: String,
    pub finding_id: Option<i64>,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    pub added_by: String,
}

/// A takedown notice and what became of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Takedown {
    pub id: i64,
    pub case_id: i64,
    pub finding_id: i64,
    /// What must come down: a domain, a URL, a mailbox or an account.
    pub target: String,
    /// Id of the contact in the directory, or `rdap:ADDRESS` for a contact found on the finding.
    pub contact: String,
    /// Role of the contact: `hosting`, `registrar`, `mail-provider`, ...
    pub role: String,
    pub recipient: String,
    pub language: String,
    /// Country of the contact (ISO 3166 alpha-2), used to propose a CERT; may be empty.
    pub country: String,
    /// Message-ID of the first notice, without angle brackets; replies refer to it.
    pub message_id: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    /// When the SOC is reminded if no answer came.
    #[serde(with = "time::serde::rfc3339")]
    pub deadline_at: OffsetDateTime,
    pub followups: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub down_at: Option<OffsetDateTime>,
    /// `sent`, `answered`, `down` or `came-back`.
    pub status: String,
}

/// A takedown notice to record.
#[derive(Debug, Clone)]
pub struct NewTakedown<'a> {
    pub case_id: i64,
    pub finding_id: i64,
    pub target: &'a str,
    pub contact: &'a str,
    pub role: &'a str,
    pub recipient: &'a str,
    pub language: &'a str,
    pub country: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub sent_at: OffsetDateTime,
    pub deadline_at: OffsetDateTime,
}

/// Last result of the recovery checks of a taken-down item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecoveryCheck {
    pub takedown_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub site_up: bool,
    pub site_detail: String,
    pub mx_up: bool,
    pub mx_detail: String,
}

/// An alert raised by the response (not by a source), written with its event.
#[derive(Debug, Clone)]
pub struct ResponseAlert<'a> {
    pub finding_id: i64,
    pub sinks: &'a [String],
    pub idempotency_key: &'a str,
    pub payload: serde_json::Value,
}

const CASE_COLUMNS: &str = "id, title, summary, vector, status, started_at, opened_at, closed_at";
const TAKEDOWN_COLUMNS: &str = "id, case_id, finding_id, target, contact, role, recipient, \
    language, country, message_id, subject, sent_at, last_sent_at, deadline_at, followups, \
    answered_at, down_at, status";

impl Store {
    /// Creates a case and its `opened` event; returns the case id.
    pub fn create_case(&self, case: &NewCase<'_>, event: &NewEvent<'_>) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO cases (title, summary, vector, started_at, opened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    case.title,
                    case.summary,
                    case.vector,
                    case.started_at.map(to_millis),
                    to_millis(event.at)
                ],
            )?;
            let id = tx.last_insert_rowid();
            insert_event(tx, id, event)?;
            Ok(id)
        })
    }

    /// Returns every case, newest first; closed ones only when `include_closed`.
    pub fn cases(&self, include_closed: bool) -> Result<Vec<Case>, StoreError> {
        let conn = self.lock();
        let filter = if include_closed {
            ""
        } else {
            "WHERE status = 'open'"
        };
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases {filter} ORDER BY id DESC");
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([], read_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn case(&self, id: i64) -> Result<Option<Case>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], read_case).optional()?)
    }

    /// Adds findings to a case, with one event each; findings already in it are skipped.
    /// Returns the ids added.
    pub fn add_case_findings(
        &self,
        case_id: i64,
        finding_ids: &[i64],
        event: &NewEvent<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| add_findings(tx, case_id, finding_ids, event))
    }

    /// Returns the findings of a case, in the order they were added.
    pub fn case_findings(&self, case_id: i64) -> Result<Vec<StoredFinding>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {FINDING_COLUMNS_PREFIXED} FROM findings f
             JOIN case_findings c ON c.finding_id = f.id
             WHERE c.case_id = ?1 ORDER BY c.added_at, f.id"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([case_id], read_finding)?;
        rows.map(|row| row?).collect()
    }

    /// Returns the ids of the cases holding a finding.
    pub fn cases_of_finding(&self, finding_id: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT case_id FROM case_findings WHERE finding_id = ?1 ORDER BY case_id")?;
        let rows = statement.query_map([finding_id], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Appends one event to a case's timeline.
    pub fn add_event(&self, case_id: i64, event: &NewEvent<'_>) -> Result<i64, StoreError> {
        self.write(|tx| insert_event(tx, case_id, event))
    }

    /// Returns a case's events, oldest first.
    pub fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT id, case_id, at, author, kind, text, data FROM case_events
             WHERE case_id = ?1 ORDER BY at, id",
        )?;
        let rows = statement.query_map([case_id], read_event)?;
        rows.map(|row| row?).collect()
    }

    /// Closes a case (or reopens it with `closed = false`) and records the event.
    pub fn set_case_closed(
        &self,
        case_id: i64,
        closed: bool,
        event: &NewEvent<'_>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let (status, closed_at) = if closed {
                ("closed", Some(to_millis(event.at)))
            } else {
                ("open", None)
            };
            tx.execute(
                "UPDATE cases SET status = ?2, closed_at = ?3 WHERE id = ?1",
                params![case_id, status, closed_at],
            )?;
            insert_event(tx, case_id, event)?;
            Ok(())
        })
    }

    /// Confirms a finding: sets its status to `confirmed`, adds it to `case_id` when given,
    /// and records the event on every case that holds it. Returns the cases it is in.
    pub fn confirm_finding(
        &self,
        finding_id: i64,
        case_id: Option<i64>,
        event: &NewEvent<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| {
            set_status(tx, finding_id, "confirmed")?;
            if let Some(case_id) = case_id {
                let added = NewEvent {
                    kind: "finding-added",
                    text: format!("Finding {finding_id} added to the case."),
                    ..event.clone()
                };
                add_findings(tx, case_id, &[finding_id], &added)?;
            }
            record_on_cases(tx, finding_id, event)
        })
    }

    /// Marks a finding a false positive and, with `allow`, puts its subject on the stored
    /// allow list of its watchlist, so that the pipeline never records it again.
    pub fn mark_false_positive(
        &self,
        finding_id: i64,
        allow: Option<(&str, &str)>,
        event: &NewEvent<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| {
            set_status(tx, finding_id, "false-positive")?;
            if let Some((watchlist, name)) = allow {
                tx.execute(
                    "INSERT INTO allow_list (watchlist, name, finding_id, reason, added_at, added_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (watchlist, name) DO UPDATE SET reason = ?4",
                    params![
                        watchlist,
                        name.to_ascii_lowercase(),
                        finding_id,
                        event.text,
                        to_millis(event.at),
                        event.author
                    ],
                )?;
            }
            record_on_cases(tx, finding_id, event)
        })
    }

    /// Tells whether `name`, or a domain it is under, is on the stored allow list of
    /// `watchlist`.
    pub fn is_allow_listed(&self, watchlist: &str, name: &str) -> Result<bool, StoreError> {
        let candidates = parent_names(name);
        let conn = self.lock();
        let found: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM allow_list WHERE watchlist = ?1
                     AND name IN (SELECT value FROM json_each(?2)) LIMIT 1",
                params![
                    watchlist,
                    serde_json::to_string(&candidates).unwrap_or_default()
                ],
                |row| row.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Returns the stored allow list, by watchlist then name.
    pub fn allow_list(&self) -> Result<Vec<AllowEntry>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT watchlist, name, finding_id, reason, added_at, added_by FROM allow_list
             ORDER BY watchlist, name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(AllowEntry {
                watchlist: row.get(0)?,
                name: row.get(1)?,
                finding_id: row.get(2)?,
                reason: row.get(3)?,
                added_at: from_millis(row.get(4)?),
                added_by: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the confirmed findings, of one case or of all, oldest first.
    pub fn confirmed_findings(
        &self,
        case_id: Option<i64>,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let conn = self.lock();
        let (sql, param) = match case_id {
            Some(id) => (
                format!(
                    "SELECT {FINDING_COLUMNS_PREFIXED} FROM findings f
                     JOIN case_findings c ON c.finding_id = f.id
                     WHERE f.status = 'confirmed' AND c.case_id = ?1 ORDER BY f.id"
                ),
                id,
            ),
            None => (
                format!(
                    "SELECT {FINDING_COLUMNS_PREFIXED} FROM findings f
                     WHERE f.status = 'confirmed' AND ?1 = ?1 ORDER BY f.id"
                ),
                0,
            ),
        };
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([param], read_finding)?;
        rows.map(|row| row?).collect()
    }

    /// Records a sent takedown notice and its event; returns the takedown id.
    pub fn record_takedown(
        &self,
        takedown: &NewTakedown<'_>,
        event: &NewEvent<'_>,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO takedowns (case_id, finding_id, target, contact, role, recipient,
                     language, country, message_id, subject, sent_at, last_sent_at, deadline_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
                params![
                    takedown.case_id,
                    takedown.finding_id,
                    takedown.target,
                    takedown.contact,
                    takedown.role,
                    takedown.recipient,
                    takedown.language,
                    takedown.country,
                    takedown.message_id,
                    takedown.subject,
                    to_millis(takedown.sent_at),
                    to_millis(takedown.deadline_at),
                ],
            )?;
            let id = tx.last_insert_rowid();
            let mut event = event.clone();
            if let serde_json::Value::Object(map) = &mut event.data {
                map.insert("takedown".into(), id.into());
            }
            insert_event(tx, takedown.case_id, &event)?;
            Ok(id)
        })
    }

    pub fn takedown(&self, id: i64) -> Result<Option<Takedown>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {TAKEDOWN_COLUMNS} FROM takedowns WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], read_takedown).optional()?)
    }

    /// Returns the takedowns of a case, or every takedown, oldest first.
    pub fn takedowns(&self, case_id: Option<i64>) -> Result<Vec<Takedown>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {TAKEDOWN_COLUMNS} FROM takedowns WHERE ?1 IS NULL OR case_id = ?1 ORDER BY id"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([case_id], read_takedown)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a follow-up sent for a takedown: one more follow-up, a new deadline.
    pub fn record_followup(
        &self,
        takedown_id: i64,
        sent_at: OffsetDateTime,
        deadline_at: OffsetDateTime,
        event: &NewEvent<'_>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let case_id = takedown_case(tx, takedown_id)?;
            tx.execute(
                "UPDATE takedowns SET followups = followups + 1, last_sent_at = ?2,
                     deadline_at = ?3
                 WHERE id = ?1",
                params![takedown_id, to_millis(sent_at), to_millis(deadline_at)],
            )?;
            insert_event(tx, case_id, event)
        })
        .map(drop)
    }

    /// Records an answer to a takedown (`down = false`) or that the item is down
    /// (`down = true`), with the event.
    pub fn record_takedown_outcome(
        &self,
        takedown_id: i64,
        down: bool,
        event: &NewEvent<'_>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let case_id = takedown_case(tx, takedown_id)?;
            let at = to_millis(event.at);
            // An item reported down also counts as answered, when no answer was recorded.
            tx.execute(
                "UPDATE takedowns SET answered_at = COALESCE(answered_at, ?2),
                     status = CASE WHEN ?3 THEN 'down' ELSE
                         CASE WHEN status = 'sent' THEN 'answered' ELSE status END END,
                     down_at = CASE WHEN ?3 THEN ?2 ELSE down_at END
                 WHERE id = ?1",
                params![takedown_id, at, down],
            )?;
            insert_event(tx, case_id, event)
        })
        .map(drop)
    }

    /// Returns the takedowns without an answer whose deadline passed at `now` and that were
    /// not yet reminded for their current round of follow-ups.
    pub fn overdue_takedowns(&self, now: OffsetDateTime) -> Result<Vec<Takedown>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {TAKEDOWN_COLUMNS} FROM takedowns
             WHERE answered_at IS NULL AND down_at IS NULL AND deadline_at <= ?1
                 AND reminded_round < followups ORDER BY id"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([to_millis(now)], read_takedown)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that the SOC was reminded of an overdue takedown, with the reminder alert in
    /// the outbox, in one transaction. Returns false when another process did it first.
    pub fn record_reminder(
        &self,
        takedown: &Takedown,
        alert: &ResponseAlert<'_>,
        event: &NewEvent<'_>,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE takedowns SET reminded_round = followups
                 WHERE id = ?1 AND reminded_round < followups AND answered_at IS NULL",
                [takedown.id],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            insert_event(tx, takedown.case_id, event)?;
            insert_alert(tx, alert, event.at)?;
            Ok(true)
        })
    }

    /// Returns the takedowns whose item is reported down, for the recovery checks.
    pub fn takedowns_down(&self) -> Result<Vec<Takedown>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {TAKEDOWN_COLUMNS} FROM takedowns WHERE status IN ('down', 'came-back')
             ORDER BY id"
        );
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([], read_takedown)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn recovery_check(&self, takedown_id: i64) -> Result<Option<RecoveryCheck>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT takedown_id, checked_at, site_up, site_detail, mx_up, mx_detail
                 FROM recovery_checks WHERE takedown_id = ?1",
                [takedown_id],
                read_check,
            )
            .optional()?)
    }

    /// Stores the latest recovery check. When `came_back` is given, the item came back: the
    /// takedown turns `came-back`, and the event and its alert are written in the same
    /// transaction.
    pub fn record_recovery_check(
        &self,
        check: &RecoveryCheck,
        came_back: Option<(&ResponseAlert<'_>, &NewEvent<'_>)>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO recovery_checks (takedown_id, checked_at, site_up, site_detail,
                     mx_up, mx_detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (takedown_id) DO UPDATE SET checked_at = ?2, site_up = ?3,
                     site_detail = ?4, mx_up = ?5, mx_detail = ?6",
                params![
                    check.takedown_id,
                    to_millis(check.checked_at),
                    check.site_up,
                    check.site_detail,
                    check.mx_up,
                    check.mx_detail
                ],
            )?;
            let up = check.site_up || check.mx_up;
            let status = if up { "came-back" } else { "down" };
            tx.execute(
                "UPDATE takedowns SET status = ?2 WHERE id = ?1 AND status IN ('down', 'came-back')",
                params![check.takedown_id, status],
            )?;
            if let Some((alert, event)) = came_back {
                let case_id = takedown_case(tx, check.takedown_id)?;
                insert_event(tx, case_id, event)?;
                insert_alert(tx, alert, event.at)?;
            }
            Ok(())
        })
    }

    /// Measured answer times of past takedowns, by contact id: `(contact, sent, answered)`
    /// for every notice, answered or not.
    pub fn contact_answers(
        &self,
    ) -> Result<Vec<(String, OffsetDateTime, Option<OffsetDateTime>)>, StoreError> {
        let conn = self.lock();
        let mut statement =
            conn.prepare("SELECT contact, sent_at, answered_at FROM takedowns ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                from_millis(row.get(1)?),
                row.get::<_, Option<i64>>(2)?.map(from_millis),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `work` in one IMMEDIATE transaction and commits it when it succeeds.
    fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_transaction(work)
    }
}

/// Lists `name` and every domain it is under, lower-case, without the final dot.
fn parent_names(name: &str) -> Vec<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut names = vec![name.clone()];
    let mut rest = name.as_str();
    while let Some((_, parent)) = rest.split_once('.') {
        names.push(parent.to_owned());
        rest = parent;
    }
    names
}

fn add_findings(
    tx: &Transaction<'_>,
    case_id: i64,
    finding_ids: &[i64],
    event: &NewEvent<'_>,
) -> Result<Vec<i64>, StoreError> {
    let mut added = Vec::new();
    for &finding_id in finding_ids {
        let changed = tx.execute(
            "INSERT OR IGNORE INTO case_findings (case_id, finding_id, added_at)
             VALUES (?1, ?2, ?3)",
            params![case_id, finding_id, to_millis(event.at)],
        )?;
        if changed == 0 {
            continue;
        }
        let mut event = event.clone();
        if let serde_json::Value::Object(map) = &mut event.data {
            map.insert("finding".into(), finding_id.into());
        }
        insert_event(tx, case_id, &event)?;
        added.push(finding_id);
    }
    Ok(added)
}

fn set_status(tx: &Transaction<'_>, finding_id: i64, status: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE findings SET status = ?2 WHERE id = ?1",
        params![finding_id, status],
    )?;
    Ok(())
}

/// Writes `event` on every case that holds the finding; returns those cases.
fn record_on_cases(
    tx: &Transaction<'_>,
    finding_id: i64,
    event: &NewEvent<'_>,
) -> Result<Vec<i64>, StoreError> {
    let cases: Vec<i64> = {
        let mut statement = tx.prepare_cached(
            "SELECT case_id FROM case_findings WHERE finding_id = ?1 ORDER BY case_id",
        )?;
        let rows = statement.query_map([finding_id], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for case_id in &cases {
        insert_event(tx, *case_id, event)?;
    }
    Ok(cases)
}

fn insert_event(
    tx: &Transaction<'_>,
    case_id: i64,
    event: &NewEvent<'_>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO case_events (case_id, at, author, kind, text, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            case_id,
            to_millis(event.at),
            event.author,
            event.kind,
            event.text,
            event.data.to_string()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn insert_alert(
    tx: &Transaction<'_>,
    alert: &ResponseAlert<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let payload = alert.payload.to_string();
    let mut statement = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (finding_id, sink, idempotency_key, payload, created_at,
             next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    for sink in alert.sinks {
        statement.execute(params![
            alert.finding_id,
            sink,
            alert.idempotency_key,
            payload,
            to_millis(now)
        ])?;
    }
    Ok(())
}

fn takedown_case(tx: &Transaction<'_>, takedown_id: i64) -> Result<i64, StoreError> {
    tx.query_row(
        "SELECT case_id FROM takedowns WHERE id = ?1",
        [takedown_id],
        |row| row.get(0),
    )
    .map_err(StoreError::from)
}

fn read_case(row: &Row<'_>) -> rusqlite::Result<Case> {
    Ok(Case {
        id: row.get(0)?,
        title: row.get(1)?,
        summary: row.get(2)?,
        vector: row.get(3)?,
        status: row.get(4)?,
        started_at: row.get::<_, Option<i64>>(5)?.map(from_millis),
        opened_at: from_millis(row.get(6)?),
        closed_at: row.get::<_, Option<i64>>(7)?.map(from_millis),
    })
}

fn read_event(row: &Row<'_>) -> rusqlite::Result<Result<CaseEvent, StoreError>> {
    let id: i64 = row.get(0)?;
    let data: String = row.get(6)?;
    let data = match serde_json::from_str(&data) {
        Ok(data) => data,
        Err(error) => {
            return Ok(Err(StoreError::Corrupt {
                column: "data",
                row: format!("case event {id}"),
                reason: error.to_string(),
            }));
        }
    };
    Ok(Ok(CaseEvent {
        id,
        case_id: row.get(1)?,
        at: from_millis(row.get(2)?),
        author: row.get(3)?,
        kind: row.get(4)?,
        text: row.get(5)?,
        data,
    }))
}

fn read_takedown(row: &Row<'_>) -> rusqlite::Result<Takedown> {
    Ok(Takedown {
        id: row.get(0)?,
        case_id: row.get(1)?,
        finding_id: row.get(2)?,
        target: row.get(3)?,
        contact: row.get(4)?,
        role: row.get(5)?,
        recipient: row.get(6)?,
        language: row.get(7)?,
        country: row.get(8)?,
        message_id: row.get(9)?,
        subject: row.get(10)?,
        sent_at: from_millis(row.get(11)?),
        last_sent_at: from_millis(row.get(12)?),
        deadline_at: from_millis(row.get(13)?),
        followups: row.get(14)?,
        answered_at: row.get::<_, Option<i64>>(15)?.map(from_millis),
        down_at: row.get::<_, Option<i64>>(16)?.map(from_millis),
        status: row.get(17)?,
    })
}

fn read_check(row: &Row<'_>) -> rusqlite::Result<RecoveryCheck> {
    Ok(RecoveryCheck {
        takedown_id: row.get(0)?,
        checked_at: from_millis(row.get(1)?),
        site_up: row.get(2)?,
        site_detail: row.get(3)?,
        mx_up: row.get(4)?,
        mx_detail: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::parent_names;

    #[test]
    fn parent_names_walk_up_to_the_tld() {
        assert_eq!(
            parent_names("Login.Evil.example."),
            ["login.evil.example", "evil.example", "example"]
        );
    }
}
