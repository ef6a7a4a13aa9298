//! Opening, filling, annotating and closing cases, and the triage of findings.
//!
//! Triage decides what a finding is: `confirm` makes it part of the response (only confirmed
//! findings reach blocklists and IOC exports), `false_positive` takes it out, and with
//! `allow` puts its subject on the stored allow list that [`crate::pipeline`] consults, so
//! the same name never alerts again.

use serde_json::json;
use time::OffsetDateTime;

use super::{Actor, CaseError, any_case, find_finding, open_case, rfc3339};
use crate::store::{NewCase, Store};

/// What `vigie case open` records.
#[derive(Debug, Clone, Default)]
pub struct Opening {
    pub title: String,
    pub summary: String,
    pub vector: String,
    pub started_at: Option<OffsetDateTime>,
}

/// Opens a case with its first findings; returns its id.
pub fn open(
    store: &Store,
    actor: &Actor<'_>,
    opening: &Opening,
    findings: &[String],
) -> Result<i64, CaseError> {
    if opening.title.trim().is_empty() {
        return Err(CaseError::Invalid(
            "a case needs a title; pass --title \"...\"".to_owned(),
        ));
    }
    // Every finding is checked before anything is written.
    let ids = findings
        .iter()
        .map(|text| find_finding(store, text).map(|f| f.id))
        .collect::<Result<Vec<_>, _>>()?;
    let case = NewCase {
        title: opening.title.trim(),
        summary: opening.summary.trim(),
        vector: opening.vector.trim(),
        started_at: opening.started_at,
    };
    let mut data = json!({ "title": case.title });
    if let Some(started) = opening.started_at {
        data["started_at"] = rfc3339(started).into();
    }
    let event = actor.event("opened", format!("Case opened: {}.", case.title), data);
    let id = store.create_case(&case, &event)?;
    if !ids.is_empty() {
        add(store, actor, id, findings)?;
    }
    Ok(id)
}

/// Adds findings to an open case; returns the ids actually added (not already in it).
pub fn add(
    store: &Store,
    actor: &Actor<'_>,
    case_id: i64,
    findings: &[String],
) -> Result<Vec<i64>, CaseError> {
    open_case(store, case_id)?;
    let mut found = Vec::new();
    for text in findings {
        found.push(find_finding(store, text)?);
    }
    let mut added = Vec::new();
    for finding in found {
        let event = actor.event(
            "finding-added",
            format!(
                "Finding {} added: {} imitating {}.",
                finding.id,
                crate::model::defang(&finding.subject),
                finding.imitates
            ),
            json!({}),
        );
        added.extend(store.add_case_findings(case_id, &[finding.id], &event)?);
    }
    Ok(added)
}

/// Kinds of note: a plain note, or one for the report's "went well" / "went wrong" lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Note,
    WentWell,
    WentWrong,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::WentWell => "went-well",
            NoteKind::WentWrong => "went-wrong",
        }
    }
}

/// Adds a note to a case's timeline (closed cases too: lessons are often written after).
pub fn note(
    store: &Store,
    actor: &Actor<'_>,
    case_id: i64,
    kind: NoteKind,
    text: &str,
) -> Result<i64, CaseError> {
    any_case(store, case_id)?;
    if text.trim().is_empty() {
        return Err(CaseError::Invalid("the note is empty".to_owned()));
    }
    let event = actor.event(kind.as_str(), text.trim().to_owned(), json!({}));
    Ok(store.add_event(case_id, &event)?)
}

/// Records a cost figure (staff hours, refunds, outside help) for the report.
pub fn cost(
    store: &Store,
    actor: &Actor<'_>,
    case_id: i64,
    amount: f64,
    currency: &str,
    label: &str,
) -> Result<i64, CaseError> {
    any_case(store, case_id)?;
    let currency = currency.trim().to_ascii_uppercase();
    if !amount.is_finite() || amount < 0.0 {
        return Err(CaseError::Invalid(format!(
            "invalid amount {amount}; write a positive number such as 1200.50"
        )));
    }
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(CaseError::Invalid(format!(
            "invalid currency {currency:?}; write an ISO 4217 code such as EUR"
        )));
    }
    let event = actor.event(
        "cost",
        format!("{amount:.2} {currency}: {}", label.trim()),
        json!({ "amount": amount, "currency": currency, "label": label.trim() }),
    );
    Ok(store.add_event(case_id, &event)?)
}

/// Closes an open case, or reopens a closed one.
pub fn close(
    store: &Store,
    actor: &Actor<'_>,
    case_id: i64,
    resolution: &str,
    reopen: bool,
) -> Result<(), CaseError> {
    let case = any_case(store, case_id)?;
    let (closed, kind, text) = if reopen {
        if case.status != "closed" {
            return Err(CaseError::Invalid(format!(
                "case {case_id} is already open"
            )));
        }
        (false, "reopened", "Case reopened.".to_owned())
    } else {
        if case.status == "closed" {
            return Err(CaseError::Invalid(format!(
                "case {case_id} is already closed"
            )));
        }
        let text = if resolution.trim().is_empty() {
            "Case closed.".to_owned()
        } else {
            format!("Case closed: {}", resolution.trim())
        };
        (true, "closed", text)
    };
    let event = actor.event(kind, text, json!({}));
    store.set_case_closed(case_id, closed, &event)?;
    Ok(())
}

/// The decision of a triage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A real scam; optionally added to a case.
    Confirm { case: Option<i64> },
    /// Not a scam; with `allow`, the subject never alerts again.
    FalsePositive { allow: bool, reason: String },
}

/// Outcome of a triage, for the command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triaged {
    pub finding_id: i64,
    pub subject: String,
    pub status: &'static str,
    pub cases: Vec<i64>,
    pub allow_listed: Option<String>,
}

/// Records the verdict on a finding, with an event on every case holding it.
pub fn triage(
    store: &Store,
    actor: &Actor<'_>,
    finding: &str,
    verdict: &Verdict,
) -> Result<Triaged, CaseError> {
    let finding = find_finding(store, finding)?;
    let subject = crate::model::defang(&finding.subject);
    match verdict {
        Verdict::Confirm { case } => {
            if let Some(case_id) = case {
                open_case(store, *case_id)?;
            }
            let event = actor.event(
                "confirmed",
                format!("Finding {} confirmed as a scam: {subject}.", finding.id),
                json!({ "finding": finding.id }),
            );
            let cases = store.confirm_finding(finding.id, *case, &event)?;
            Ok(Triaged {
                finding_id: finding.id,
                subject: finding.subject,
                status: "confirmed",
                cases,
                allow_listed: None,
            })
        }
        Verdict::FalsePositive { allow, reason } => {
            let reason = if reason.trim().is_empty() {
                "false positive".to_owned()
            } else {
                reason.trim().to_owned()
            };
            let allowed = allow.then(|| finding.subject.to_ascii_lowercase());
            let text = match &allowed {
                Some(_) => format!(
                    "Finding {} is a false positive ({reason}); {subject} is allow-listed in watchlist {}.",
                    finding.id, finding.watchlist
                ),
                None => format!("Finding {} is a false positive ({reason}).", finding.id),
            };
            let event = actor.event(
                "false-positive",
                text,
                json!({ "finding": finding.id, "allow": allow }),
            );
            let allow_entry = allowed
                .as_deref()
                .map(|name| (finding.watchlist.as_str(), name));
            let cases = store.mark_false_positive(finding.id, allow_entry, &event)?;
            Ok(Triaged {
                finding_id: finding.id,
                subject: finding.subject.clone(),
                status: "false-positive",
                cases,
                allow_listed: allowed,
            })
        }
    }
}
