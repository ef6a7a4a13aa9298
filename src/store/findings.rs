//! Recording sightings of findings, and reading findings and their history back.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{
    AlertEvent, AlertInput, FactChange, HistoryEntry, HistoryEvent, Recorded, Store, StoreError,
    StoredFinding, from_millis, to_millis,
};
use crate::model::{Finding, Severity};

type Facts = BTreeMap<String, BTreeSet<String>>;

/// The columns of a known finding that recording compares against.
struct Previous {
    id: i64,
    facts: Facts,
    /// Every value each fact has had since the first sighting.
    known_facts: Facts,
    severity: Severity,
    revision: u32,
    first_seen: OffsetDateTime,
    evidence: serde_json::Value,
}

pub(super) const FINDING_COLUMNS: &str = "id, fingerprint, kind, source, watchlist, subject, imitates, \
    techniques, reasons, severity, score, indicators, facts, evidence, first_seen, last_seen, \
    revision, sightings, status, known_facts";

/// [`FINDING_COLUMNS`] for a query where the findings table is named `f`.
pub(super) const FINDING_COLUMNS_PREFIXED: &str = "f.id, f.fingerprint, f.kind, f.source, \
    f.watchlist, f.subject, f.imitates, f.techniques, f.reasons, f.severity, f.score, \
    f.indicators, f.facts, f.evidence, f.first_seen, f.last_seen, f.revision, f.sightings, \
    f.status, f.known_facts";

impl Store {
    /// Records one sighting and, when it is new or a fact gained a value never seen before, one outbox row per
    /// sink with the payload `render` builds, all in one transaction.
    ///
    /// Duplicate names in `sinks` get one row. An empty `sinks` records without alerting.
    /// The idempotency key of an alert is `<fingerprint>-r<revision>`.
    pub fn record_finding(
        &self,
        finding: &Finding,
        sinks: &[String],
        render: &dyn Fn(&AlertInput<'_>) -> serde_json::Value,
    ) -> Result<Recorded, StoreError> {
        let sinks: BTreeSet<&str> = sinks.iter().map(String::as_str).collect();
        self.write_transaction(|tx| match load_previous(tx, &finding.fingerprint)? {
            None => record_new(tx, finding, &sinks, render),
            Some(previous) => record_again(tx, finding, previous, &sinks, render),
        })
    }

    /// Returns every finding, most recently seen first.
    pub fn findings(&self) -> Result<Vec<StoredFinding>, StoreError> {
        let conn = self.lock();
        let sql =
            format!("SELECT {FINDING_COLUMNS} FROM findings ORDER BY last_seen DESC, id DESC");
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([], read_finding)?;
        rows.map(|row| row?).collect()
    }

    /// Returns the finding with this id, if any.
    pub fn finding(&self, id: i64) -> Result<Option<StoredFinding>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {FINDING_COLUMNS} FROM findings WHERE id = ?1");
        conn.query_row(&sql, [id], read_finding)
            .optional()?
            .transpose()
    }

    /// Returns the finding with this fingerprint, if any.
    pub fn finding_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<StoredFinding>, StoreError> {
        let conn = self.lock();
        let sql = format!("SELECT {FINDING_COLUMNS} FROM findings WHERE fingerprint = ?1");
        conn.query_row(&sql, [fingerprint], read_finding)
            .optional()?
            .transpose()
    }

    /// Returns the history of a finding, oldest entry first.
    pub fn history(&self, finding_id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT at, event, revision, severity, changes FROM finding_history
             WHERE finding_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([finding_id], |row| {
            let row_name = format!("history of finding {finding_id}");
            let event: String = row.get(1)?;
            let severity: String = row.get(3)?;
            let changes: String = row.get(4)?;
            Ok((|| {
                Ok(HistoryEntry {
                    at: from_millis(row.get(0)?),
                    event: HistoryEvent::parse(&event)
                        .ok_or_else(|| corrupt("event", &row_name, &event))?,
                    revision: row.get(2)?,
                    severity: Severity::parse(&severity)
                        .ok_or_else(|| corrupt("severity", &row_name, &severity))?,
                    changes: parse_json("changes", &row_name, &changes)?,
                })
            })())
        })?;
        rows.map(|row| row?).collect()
    }
}

fn load_previous(tx: &Transaction<'_>, fingerprint: &str) -> Result<Option<Previous>, StoreError> {
    let row = tx
        .query_row(
            "SELECT id, facts, severity, revision, first_seen, known_facts, evidence FROM findings
             WHERE fingerprint = ?1",
            [fingerprint],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((id, facts, severity, revision, first_seen, known_facts, evidence)) = row else {
        return Ok(None);
    };

    let row_name = format!("finding {id}");
    let facts: Facts = parse_json("facts", &row_name, &facts)?;
    let mut known_facts: Facts = parse_json("known_facts", &row_name, &known_facts)?;
    merge_facts(&mut known_facts, &facts);
    Ok(Some(Previous {
        id,
        facts,
        known_facts,
        severity: Severity::parse(&severity)
            .ok_or_else(|| corrupt("severity", &row_name, &severity))?,
        revision,
        first_seen: from_millis(first_seen),
        evidence: parse_json("evidence", &row_name, &evidence)?,
    }))
}

fn record_new(
    tx: &Transaction<'_>,
    finding: &Finding,
    sinks: &BTreeSet<&str>,
    render: &dyn Fn(&AlertInput<'_>) -> serde_json::Value,
) -> Result<Recorded, StoreError> {
    let seen = to_millis(finding.observed_at);
    tx.execute(
        "INSERT INTO findings (fingerprint, kind, source, watchlist, subject, imitates, techniques,
             reasons, severity, score, indicators, facts, evidence, first_seen, last_seen,
             revision, sightings, known_facts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, 1, 1, ?12)",
        params![
            finding.fingerprint,
            finding.kind,
            finding.source,
            finding.watchlist,
            finding.subject,
            finding.imitates,
            to_json(&finding.techniques),
            to_json(&finding.reasons),
            finding.severity.as_str(),
            finding.score,
            to_json(&finding.indicators),
            to_json(&finding.facts),
            finding.evidence.to_string(),
            seen,
        ],
    )?;
    let finding_id = tx.last_insert_rowid();

    insert_history(
        tx,
        finding_id,
        seen,
        HistoryEvent::New,
        1,
        finding.severity,
        &[],
    )?;
    let alert = Alert {
        finding,
        finding_id,
        revision: 1,
        first_seen: finding.observed_at,
        event: AlertEvent::New,
        changes: &[],
    };
    insert_alerts(tx, &alert, sinks, render)?;
    Ok(Recorded::New { finding_id })
}

fn record_again(
    tx: &Transaction<'_>,
    sighting: &Finding,
    previous: Previous,
    sinks: &BTreeSet<&str>,
    render: &dyn Fn(&AlertInput<'_>) -> serde_json::Value,
) -> Result<Recorded, StoreError> {
    // Plain facts follow the last sighting. Namespaced facts (`web.state`) and evidence
    // entries that a sighting does not name are kept, so that the change watch and the
    // sources, each knowing part of a finding, do not erase each other's.
    let mut finding = sighting.clone();
    finding.facts = overlay_facts(&previous.facts, &sighting.facts);
    finding.evidence = overlay_evidence(&previous.evidence, &sighting.evidence);
    let finding = &finding;
    let seen = to_millis(finding.observed_at);
    let finding_id = previous.id;
    record_evidence_history(tx, finding_id, seen, &previous.evidence, &sighting.evidence)?;

    let mut changes = compare_facts(&previous.facts, &finding.facts);
    // Only a value never seen before alerts: a value that comes back, as round-robin DNS
    // answers and restored records do, is recorded in the history without an alert. A
    // severity above every earlier one alerts too.
    let gained = has_new_value(&previous.known_facts, &finding.facts);
    let raised = finding.severity > previous.severity;
    if raised {
        changes.push(FactChange {
            fact: SEVERITY_CHANGE.to_owned(),
            before: BTreeSet::from([previous.severity.as_str().to_owned()]),
            after: BTreeSet::from([finding.severity.as_str().to_owned()]),
        });
    }
    let mut known_facts = previous.known_facts.clone();
    merge_facts(&mut known_facts, &finding.facts);

    if gained || raised {
        let revision = previous.revision + 1;
        let severity = finding.severity.max(previous.severity);
        tx.execute(
            "UPDATE findings SET source = ?2, techniques = ?3, reasons = ?4, severity = ?5,
                 score = ?6, indicators = ?7, facts = ?8, evidence = ?9, last_seen = MAX(last_seen, ?10),
                 revision = ?11, sightings = sightings + 1, known_facts = ?12
             WHERE id = ?1",
            params![
                finding_id,
                finding.source,
                to_json(&finding.techniques),
                to_json(&finding.reasons),
                severity.as_str(),
                finding.score,
                to_json(&finding.indicators),
                to_json(&finding.facts),
                finding.evidence.to_string(),
                seen,
                revision,
                to_json(&known_facts),
            ],
        )?;
        insert_history(
            tx,
            finding_id,
            seen,
            HistoryEvent::Changed,
            revision,
            severity,
            &changes,
        )?;

        // The alert carries the stored severity, which a quieter sighting never lowers.
        let mut raised = finding.clone();
        raised.severity = severity;
        let alert = Alert {
            finding: &raised,
            finding_id,
            revision,
            first_seen: previous.first_seen,
            event: AlertEvent::Changed,
            changes: &changes,
        };
        insert_alerts(tx, &alert, sinks, render)?;
        return Ok(Recorded::Changed {
            finding_id,
            changes,
        });
    }

    if !changes.is_empty() {
        // Facts lost values or took back values seen before: recorded, not alerted.
        insert_history(
            tx,
            finding_id,
            seen,
            HistoryEvent::SeenRemoval,
            previous.revision,
            previous.severity,
            &changes,
        )?;
    }
    tx.execute(
        "UPDATE findings SET facts = ?2, evidence = ?3, last_seen = MAX(last_seen, ?4),
             sightings = sightings + 1, known_facts = ?5
         WHERE id = ?1",
        params![
            finding_id,
            to_json(&finding.facts),
            finding.evidence.to_string(),
            seen,
            to_json(&known_facts),
        ],
    )?;
    Ok(Recorded::Unchanged { finding_id })
}

/// Name of the pseudo-fact that carries a severity rise in a change list.
pub const SEVERITY_CHANGE: &str = "severity";

/// Most versions of one evidence entry kept in a finding's evidence history.
const EVIDENCE_VERSIONS_KEPT: i64 = 20;

/// Returns the sighting's facts, plus the namespaced facts of `before` (names with a dot,
/// such as `web.state`) that the sighting does not name.
fn overlay_facts(before: &Facts, sighting: &Facts) -> Facts {
    let mut facts = sighting.clone();
    for (name, values) in before {
        if name.contains('.') && !facts.contains_key(name) {
            facts.insert(name.clone(), values.clone());
        }
    }
    facts
}

/// Returns `before` with the top-level entries of `sighting` replaced; a sighting whose
/// evidence is not an object replaces it whole.
fn overlay_evidence(before: &serde_json::Value, sighting: &serde_json::Value) -> serde_json::Value {
    match (before, sighting) {
        (serde_json::Value::Object(old), serde_json::Value::Object(new)) => {
            let mut merged = old.clone();
            for (key, value) in new {
                merged.insert(key.clone(), value.clone());
            }
            serde_json::Value::Object(merged)
        }
        _ => sighting.clone(),
    }
}

/// Keeps a version of each evidence entry of the sighting whose content differs from the
/// stored one (its `read_at` aside), up to [`EVIDENCE_VERSIONS_KEPT`] an entry.
fn record_evidence_history(
    tx: &Transaction<'_>,
    finding_id: i64,
    at: i64,
    before: &serde_json::Value,
    sighting: &serde_json::Value,
) -> Result<(), StoreError> {
    let Some(entries) = sighting.as_object() else {
        return Ok(());
    };
    for (key, value) in entries {
        let old = before.get(key);
        if old.is_some_and(|old| without_read_at(old) == without_read_at(value)) {
            continue;
        }
        tx.execute(
            "INSERT INTO evidence_history (finding_id, key, at, value) VALUES (?1, ?2, ?3, ?4)",
            params![finding_id, key, at, value.to_string()],
        )?;
        tx.execute(
            "DELETE FROM evidence_history WHERE finding_id = ?1 AND key = ?2 AND id NOT IN
                 (SELECT id FROM evidence_history WHERE finding_id = ?1 AND key = ?2
                  ORDER BY id DESC LIMIT ?3)",
            params![finding_id, key, EVIDENCE_VERSIONS_KEPT],
        )?;
    }
    Ok(())
}

fn without_read_at(value: &serde_json::Value) -> serde_json::Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("read_at");
    }
    value
}

/// Tells whether `facts` holds a value that `known` does not.
fn has_new_value(known: &Facts, facts: &Facts) -> bool {
    facts.iter().any(|(name, values)| match known.get(name) {
        Some(seen) => !values.is_subset(seen),
        None => !values.is_empty(),
    })
}

/// Adds every value of `facts` to `known`.
fn merge_facts(known: &mut Facts, facts: &Facts) {
    for (name, values) in facts {
        known
            .entry(name.clone())
            .or_default()
            .extend(values.iter().cloned());
    }
}

/// Lists the facts whose values differ, in fact-name order.
fn compare_facts(before: &Facts, after: &Facts) -> Vec<FactChange> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let empty = BTreeSet::new();
    names
        .into_iter()
        .filter_map(|name| {
            let old = before.get(name).unwrap_or(&empty);
            let new = after.get(name).unwrap_or(&empty);
            (old != new).then(|| FactChange {
                fact: name.clone(),
                before: old.clone(),
                after: new.clone(),
            })
        })
        .collect()
}

/// An alert to write, before its idempotency key is known.
struct Alert<'a> {
    finding: &'a Finding,
    finding_id: i64,
    revision: u32,
    first_seen: OffsetDateTime,
    event: AlertEvent,
    changes: &'a [FactChange],
}

fn insert_alerts(
    tx: &Transaction<'_>,
    alert: &Alert<'_>,
    sinks: &BTreeSet<&str>,
    render: &dyn Fn(&AlertInput<'_>) -> serde_json::Value,
) -> Result<(), StoreError> {
    if sinks.is_empty() {
        return Ok(());
    }

    let key = format!("{}-r{}", alert.finding.fingerprint, alert.revision);
    let payload = render(&AlertInput {
        finding: alert.finding,
        finding_id: alert.finding_id,
        revision: alert.revision,
        first_seen: alert.first_seen,
        event: alert.event,
        changes: alert.changes,
        idempotency_key: &key,
    })
    .to_string();

    let now = to_millis(OffsetDateTime::now_utc());
    let mut statement = tx.prepare_cached(
        "INSERT INTO outbox (finding_id, sink, idempotency_key, payload, created_at,
             next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    for sink in sinks {
        statement.execute(params![alert.finding_id, sink, key, payload, now])?;
    }
    Ok(())
}

fn insert_history(
    tx: &Transaction<'_>,
    finding_id: i64,
    at: i64,
    event: HistoryEvent,
    revision: u32,
    severity: Severity,
    changes: &[FactChange],
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO finding_history (finding_id, at, event, revision, severity, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            finding_id,
            at,
            event.as_str(),
            revision,
            severity.as_str(),
            to_json(&changes)
        ],
    )?;
    Ok(())
}

/// Reads one row selected with [`FINDING_COLUMNS`]. SQL errors go in the outer result,
/// undecodable stored values in the inner one.
pub(super) fn read_finding(row: &Row<'_>) -> rusqlite::Result<Result<StoredFinding, StoreError>> {
    let id: i64 = row.get(0)?;
    let row_name = format!("finding {id}");
    let text = |index: usize| row.get::<_, String>(index);
    let (techniques, reasons, severity) = (text(7)?, text(8)?, text(9)?);
    let (indicators, facts, evidence) = (text(11)?, text(12)?, text(13)?);

    let decoded = || -> Result<StoredFinding, StoreError> {
        let facts: Facts = parse_json("facts", &row_name, &facts)?;
        let mut known_facts: Facts = parse_json("known_facts", &row_name, &text(19)?)?;
        merge_facts(&mut known_facts, &facts);
        Ok(StoredFinding {
            id,
            fingerprint: text(1)?,
            kind: text(2)?,
            source: text(3)?,
            watchlist: text(4)?,
            subject: text(5)?,
            imitates: text(6)?,
            techniques: parse_json("techniques", &row_name, &techniques)?,
            reasons: parse_json("reasons", &row_name, &reasons)?,
            severity: Severity::parse(&severity)
                .ok_or_else(|| corrupt("severity", &row_name, &severity))?,
            score: row.get(10)?,
            indicators: parse_json("indicators", &row_name, &indicators)?,
            facts,
            evidence: parse_json("evidence", &row_name, &evidence)?,
            first_seen: from_millis(row.get(14)?),
            last_seen: from_millis(row.get(15)?),
            revision: row.get(16)?,
            sightings: u64::try_from(row.get::<_, i64>(17)?).unwrap_or(0),
            status: text(18)?,
            known_facts,
        })
    };
    Ok(decoded())
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing these plain maps, lists and strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn parse_json<T: DeserializeOwned>(
    column: &'static str,
    row: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        column,
        row: row.to_owned(),
        reason: error.to_string(),
    })
}

fn corrupt(column: &'static str, row: &str, value: &str) -> StoreError {
    StoreError::Corrupt {
        column,
        row: row.to_owned(),
        reason: format!("unknown value {value:?}"),
    }
}
