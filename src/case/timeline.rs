//! A case's timeline and the state of its items.
//!
//! The timeline merges three records that the store keeps apart: the case's own events, the
//! history of each of its findings (first sighting, changes), and the alerts written for
//! them (with when each was delivered). None is copied into another, so a finding shared by
//! two cases shows its history in both.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::{CaseError, any_case, rfc3339};
use crate::model::defang;
use crate::store::{HistoryEvent, Store, StoredFinding, Takedown};

/// One line of a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The analyst for case events, `vigie` for what the daemon did.
    pub author: String,
    pub kind: String,
    pub text: String,
}

/// Returns the timeline of a case, oldest first.
pub fn timeline(store: &Store, case_id: i64) -> Result<Vec<TimelineEntry>, CaseError> {
    any_case(store, case_id)?;
    let mut entries: Vec<TimelineEntry> = store
        .case_events(case_id)?
        .into_iter()
        .map(|event| TimelineEntry {
            at: event.at,
            author: event.author,
            kind: event.kind,
            text: event.text,
        })
        .collect();
    for finding in store.case_findings(case_id)? {
        finding_entries(store, &finding, &mut entries)?;
    }
    entries.sort_by_key(|entry| entry.at);
    Ok(entries)
}

fn finding_entries(
    store: &Store,
    finding: &StoredFinding,
    entries: &mut Vec<TimelineEntry>,
) -> Result<(), CaseError> {
    let subject = defang(&finding.subject);
    for entry in store.history(finding.id)? {
        let text = match entry.event {
            HistoryEvent::New => format!(
                "Finding {} first seen by {}: {subject} imitating {} ({}).",
                finding.id, finding.source, finding.imitates, entry.severity
            ),
            HistoryEvent::Changed => {
                let changes: Vec<String> = entry
                    .changes
                    .iter()
                    .flat_map(|change| {
                        let fact = change.fact.to_uppercase();
                        let added = change.added().into_iter().map(move |v| (fact.clone(), v));
                        added.map(|(fact, value)| format!("+{fact} {}", defang(&value)))
                    })
                    .collect();
                format!(
                    "Finding {} changed: {} ({}).",
                    finding.id,
                    changes.join(", "),
                    entry.severity
                )
            }
            HistoryEvent::SeenRemoval => continue,
        };
        let kind = format!("finding-{}", entry.event.as_str());
        entries.push(TimelineEntry {
            at: entry.at,
            author: "vigie".to_owned(),
            kind,
            text,
        });
    }

    // One entry per alert (idempotency key), however many sinks it went to.
    let mut alerts: BTreeMap<String, (OffsetDateTime, Vec<String>, Option<OffsetDateTime>)> =
        BTreeMap::new();
    for row in store.outbox_for_finding(finding.id)? {
        let entry = alerts.entry(row.idempotency_key.clone()).or_insert((
            row.created_at,
            Vec::new(),
            row.delivered_at,
        ));
        entry.1.push(row.sink.clone());
        entry.2 = match (entry.2, row.delivered_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    for (key, (at, sinks, delivered)) in alerts {
        let delivery = match delivered {
            Some(done) => format!("delivered {}", rfc3339(done)),
            None => "not delivered yet".to_owned(),
        };
        entries.push(TimelineEntry {
            at,
            author: "vigie".to_owned(),
            kind: "alert".to_owned(),
            text: format!("Alert {key} to {} ({delivery}).", sinks.join(", ")),
        });
    }
    Ok(())
}

/// Whether an item of a case is still reachable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemState {
    pub finding_id: i64,
    pub subject: String,
    /// `up`, `down` or `came-back`.
    pub state: &'static str,
    pub detail: String,
}

impl ItemState {
    /// Tells whether the item still needs action.
    pub fn is_up(&self) -> bool {
        self.state != "down"
    }
}

/// Lists every item of a case (its findings, except false positives) with its state.
pub fn item_states(store: &Store, case_id: i64) -> Result<Vec<ItemState>, CaseError> {
    any_case(store, case_id)?;
    let takedowns = store.takedowns(Some(case_id))?;
    let mut states = Vec::new();
    for finding in store.case_findings(case_id)? {
        if finding.status == "false-positive" {
            continue;
        }
        let latest = takedowns
            .iter()
            .filter(|takedown| takedown.finding_id == finding.id)
            .max_by_key(|takedown| (takedown.down_at.is_some(), takedown.id));
        states.push(item_state(store, &finding, latest)?);
    }
    Ok(states)
}

fn item_state(
    store: &Store,
    finding: &StoredFinding,
    takedown: Option<&Takedown>,
) -> Result<ItemState, CaseError> {
    let state = |state, detail| ItemState {
        finding_id: finding.id,
        subject: finding.subject.clone(),
        state,
        detail,
    };
    let Some(takedown) = takedown else {
        let records: Vec<&str> = ["a", "aaaa", "mx"]
            .into_iter()
            .filter(|fact| finding.facts.get(*fact).is_some_and(|v| !v.is_empty()))
            .collect();
        let detail = if records.is_empty() {
            "no takedown yet".to_owned()
        } else {
            format!(
                "no takedown yet; last seen {} with {} records",
                rfc3339(finding.last_seen),
                records.join(", ").to_uppercase()
            )
        };
        return Ok(state("up", detail));
    };
    let check = store.recovery_check(takedown.id)?;
    Ok(match (takedown.status.as_str(), check) {
        ("down" | "came-back", Some(check)) if check.site_up || check.mx_up => {
            let mut what = Vec::new();
            if check.site_up {
                what.push(format!("site: {}", check.site_detail));
            }
            if check.mx_up {
                what.push(format!("mail: {}", check.mx_detail));
            }
            state(
                "came-back",
                format!(
                    "back after the takedown of {}; checked {}: {}",
                    rfc3339(takedown.down_at.unwrap_or(takedown.sent_at)),
                    rfc3339(check.checked_at),
                    what.join("; ")
                ),
            )
        }
        ("down" | "came-back", check) => {
            let checked = check.map_or_else(
                || "not checked yet".to_owned(),
                |check| format!("last checked {}", rfc3339(check.checked_at)),
            );
            state(
                "down",
                format!(
                    "down since {} (takedown {}); {checked}",
                    rfc3339(takedown.down_at.unwrap_or(takedown.sent_at)),
                    takedown.id
                ),
            )
        }
        (_, _) => {
            let answer = match takedown.answered_at {
                Some(at) => format!("answered {}", rfc3339(at)),
                None => format!(
                    "no answer yet, {} follow-up(s), next reminder {}",
                    takedown.followups,
                    rfc3339(takedown.deadline_at)
                ),
            };
            state(
                "up",
                format!(
                    "takedown {} sent to {} ({}) on {}; {answer}",
                    takedown.id,
                    takedown.recipient,
                    takedown.role,
                    rfc3339(takedown.sent_at)
                ),
            )
        }
    })
}
