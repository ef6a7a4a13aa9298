//! The lessons-learned report of a case, in Markdown or HTML, from `report/case.md` and
//! `report/case.html`.
//!
//! The figures come from the store. The time to detect runs from the campaign's start (when
//! known) to the first sighting; the time to first action from that sighting to the first
//! confirmation, export, notice, warning page or spam report; the time to takedown from that
//! sighting to the first item reported down. What went right and wrong, and the costs, are
//! the notes and figures entered on the case.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::blocklist::{self, kind_name};
use super::timeline::{item_states, timeline};
use super::{CaseError, any_case, rfc3339, templates};
use crate::config::Config;
use crate::model::defang;
use crate::store::Store;

/// Output formats of `vigie report case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
}

/// Event kinds that count as an action of the response.
const ACTIONS: &[&str] = &[
    "confirmed",
    "blocklist-exported",
    "iocs-exported",
    "takedown-sent",
    "warning-published",
    "spam-reported",
];

#[derive(Debug, Serialize)]
struct Context {
    organization: String,
    generated: String,
    case: CaseView,
    first_detected: Option<String>,
    first_action: Option<String>,
    first_takedown: Option<String>,
    metrics: Metrics,
    went_well: Vec<Note>,
    went_wrong: Vec<Note>,
    costs: Vec<Cost>,
    cost_totals: Vec<Total>,
    findings: Vec<FindingView>,
    items: Vec<ItemView>,
    takedowns: Vec<TakedownView>,
    indicators: Vec<IndicatorView>,
    timeline: Vec<Note>,
}

#[derive(Debug, Serialize)]
struct CaseView {
    id: i64,
    title: String,
    summary: String,
    vector: String,
    status: String,
    started: Option<String>,
    opened: String,
    closed: Option<String>,
}

/// The report's three durations, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub time_to_detect: String,
    pub time_to_first_action: String,
    pub time_to_takedown: String,
}

#[derive(Debug, Serialize)]
struct Note {
    at: String,
    author: String,
    kind: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct Cost {
    label: String,
    amount: String,
    currency: String,
}

#[derive(Debug, Serialize)]
struct Total {
    amount: String,
    currency: String,
}

#[derive(Debug, Serialize)]
struct FindingView {
    id: i64,
    subject: String,
    imitates: String,
    severity: String,
    status: String,
    first_seen: String,
}

#[derive(Debug, Serialize)]
struct ItemView {
    subject: String,
    state: String,
    detail: String,
}

#[derive(Debug, Serialize)]
struct TakedownView {
    id: i64,
    target: String,
    recipient: String,
    role: String,
    sent: String,
    followups: u32,
    answer_hours: Option<String>,
    status: String,
}

#[derive(Debug, Serialize)]
struct IndicatorView {
    kind: String,
    value: String,
}

/// Writes a duration as days, hours and minutes: `2 d 3 h 10 min`.
pub fn duration_words(duration: time::Duration) -> String {
    if duration.is_negative() {
        return format!("-{}", duration_words(-duration));
    }
    let minutes = duration.whole_minutes();
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0 || parts.is_empty() {
        parts.push(format!("{minutes} min"));
    }
    parts.join(" ")
}

fn between(from: Option<OffsetDateTime>, to: Option<OffsetDateTime>, missing: &str) -> String {
    match (from, to) {
        (Some(from), Some(to)) => duration_words(to - from),
        _ => missing.to_owned(),
    }
}

/// Computes the report's durations for a case.
pub fn metrics(store: &Store, case_id: i64) -> Result<Metrics, CaseError> {
    let parts = Parts::read(store, case_id)?;
    Ok(parts.metrics())
}

/// The times the metrics are made of.
struct Parts {
    started: Option<OffsetDateTime>,
    detected: Option<OffsetDateTime>,
    action: Option<(OffsetDateTime, String)>,
    takedown: Option<OffsetDateTime>,
}

impl Parts {
    fn read(store: &Store, case_id: i64) -> Result<Parts, CaseError> {
        let case = any_case(store, case_id)?;
        let detected = store
            .case_findings(case_id)?
            .iter()
            .filter(|f| f.status != "false-positive")
            .map(|f| f.first_seen)
            .min();
        let action = store
            .case_events(case_id)?
            .into_iter()
            .filter(|e| ACTIONS.contains(&e.kind.as_str()))
            .map(|e| (e.at, e.text))
            .min_by_key(|(at, _)| *at);
        let takedown = store
            .takedowns(Some(case_id))?
            .iter()
            .filter_map(|t| t.down_at)
            .min();
        Ok(Parts {
            started: case.started_at,
            detected,
            action,
            takedown,
        })
    }

    fn metrics(&self) -> Metrics {
        Metrics {
            time_to_detect: between(
                self.started,
                self.detected,
                "unknown (no campaign start recorded)",
            ),
            time_to_first_action: between(
                self.detected,
                self.action.as_ref().map(|(at, _)| *at),
                "no action yet",
            ),
            time_to_takedown: between(self.detected, self.takedown, "nothing taken down yet"),
        }
    }
}

/// Renders the report of a case.
pub fn render(
    store: &Store,
    config: &Config,
    case_id: i64,
    format: Format,
    now: OffsetDateTime,
) -> Result<String, CaseError> {
    let context = context(store, config, case_id, now)?;
    let name = match format {
        Format::Md => "report/case.md",
        Format::Html => "report/case.html",
    };
    templates::render(config.response.templates_dir.as_deref(), name, &context)
}

fn context(
    store: &Store,
    config: &Config,
    case_id: i64,
    now: OffsetDateTime,
) -> Result<Context, CaseError> {
    let case = any_case(store, case_id)?;
    let parts = Parts::read(store, case_id)?;
    let findings = store.case_findings(case_id)?;
    let events = store.case_events(case_id)?;
    let note = |e: &crate::store::CaseEvent| Note {
        at: rfc3339(e.at),
        author: e.author.clone(),
        kind: e.kind.clone(),
        text: e.text.clone(),
    };
    let (costs, cost_totals) = costs(&events);

    let confirmed: Vec<_> = findings
        .iter()
        .filter(|f| f.status == "confirmed")
        .cloned()
        .collect();
    let list = blocklist::build(config, &confirmed, &BTreeMap::new());
    let brand = findings
        .first()
        .and_then(|f| config.watchlists.iter().find(|w| w.id == f.watchlist))
        .map(|w| w.brand.as_str());

    Ok(Context {
        organization: super::warning::organization(config, brand),
        generated: rfc3339(now),
        first_detected: parts.detected.map(rfc3339),
        first_action: parts
            .action
            .as_ref()
            .map(|(at, text)| format!("{} ({text})", rfc3339(*at))),
        first_takedown: parts.takedown.map(rfc3339),
        metrics: parts.metrics(),
        went_well: events
            .iter()
            .filter(|e| e.kind == "went-well")
            .map(note)
            .collect(),
        went_wrong: events
            .iter()
            .filter(|e| e.kind == "went-wrong")
            .map(note)
            .collect(),
        costs,
        cost_totals,
        findings: findings
            .iter()
            .map(|f| FindingView {
                id: f.id,
                subject: defang(&f.subject),
                imitates: f.imitates.clone(),
                severity: f.severity.to_string(),
                status: f.status.clone(),
                first_seen: rfc3339(f.first_seen),
            })
            .collect(),
        items: item_states(store, case_id)?
            .into_iter()
            .map(|item| ItemView {
                subject: defang(&item.subject),
                state: item.state.to_owned(),
                detail: item.detail,
            })
            .collect(),
        takedowns: store
            .takedowns(Some(case_id))?
            .into_iter()
            .map(|t| TakedownView {
                id: t.id,
                target: defang(&t.target),
                recipient: t.recipient,
                role: t.role,
                sent: rfc3339(t.sent_at),
                followups: t.followups,
                answer_hours: t
                    .answered_at
                    .map(|at| format!("{:.1}", (at - t.sent_at).as_seconds_f64() / 3600.0)),
                status: t.status,
            })
            .collect(),
        indicators: list
            .entries
            .iter()
            .map(|e| IndicatorView {
                kind: kind_name(e.kind).to_owned(),
                value: defang(&e.value),
            })
            .collect(),
        timeline: timeline(store, case_id)?
            .into_iter()
            .map(|e| Note {
                at: rfc3339(e.at),
                author: e.author,
                kind: e.kind,
                text: e.text,
            })
            .collect(),
        case: CaseView {
            id: case.id,
            title: case.title,
            summary: case.summary,
            vector: case.vector,
            status: case.status,
            started: case.started_at.map(rfc3339),
            opened: rfc3339(case.opened_at),
            closed: case.closed_at.map(rfc3339),
        },
    })
}

/// Collects the cost events of a case and their totals by currency.
fn costs(events: &[crate::store::CaseEvent]) -> (Vec<Cost>, Vec<Total>) {
    let mut costs = Vec::new();
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for event in events.iter().filter(|e| e.kind == "cost") {
        let amount = event.data["amount"].as_f64().unwrap_or(0.0);
        let currency = event.data["currency"].as_str().unwrap_or("").to_owned();
        *totals.entry(currency.clone()).or_default() += amount;
        costs.push(Cost {
            label: event.data["label"].as_str().unwrap_or("").to_owned(),
            amount: format!("{amount:.2}"),
            currency,
        });
    }
    let totals = totals
        .into_iter()
        .map(|(currency, amount)| Total {
            amount: format!("{amount:.2}"),
            currency,
        })
        .collect();
    (costs, totals)
}

#[cfg(test)]
mod tests {
    use super::duration_words;

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(time::Duration::minutes(0)), "0 min");
        assert_eq!(duration_words(time::Duration::minutes(75)), "1 h 15 min");
        assert_eq!(duration_words(time::Duration::hours(50)), "2 d 2 h");
        assert_eq!(duration_words(-time::Duration::minutes(5)), "-5 min");
    }
}
