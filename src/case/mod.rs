//! The response to a confirmed campaign: cases, triage, containment, takedown, recovery and
//! the lessons-learned report.
//!
//! A case groups findings; everything done about it is an event on its timeline, written by
//! the store in the transaction that makes the change. The CLI (`src/cli/`) parses arguments
//! and prints; the work is here, so that tests drive it with a [`FixedClock`] instead of
//! waiting for deadlines. Indicators leave vigie through [`blocklist`] and [`iocs`] from
//! confirmed findings only. The daemon runs [`watch`], which reminds the SOC of unanswered
//! takedown notices and checks that taken-down items stay down.

pub mod arf;
pub mod audit;
pub mod blocklist;
pub mod contacts;
pub mod iocs;
pub mod recovery;
pub mod report;
pub mod takedown;
pub mod templates;
pub mod timeline;
pub mod triage;
pub mod warning;
pub mod watch;

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::model::IndicatorKind;
use crate::store::{Case, NewEvent, Store, StoreError, StoredFinding};

/// Errors of the response commands. Each names the item and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("no case {0}; list the cases with `vigie case list --all`")]
    NoCase(i64),
    #[error("no finding {0:?}; give a finding id or fingerprint from `vigie findings`")]
    NoFinding(String),
    #[error("no takedown {0}; list them with `vigie takedown status`")]
    NoTakedown(i64),
    #[error("case {0} is closed; reopen it with `vigie case reopen {0}` first")]
    Closed(i64),
    #[error("{0}")]
    Invalid(String),
    #[error("setting missing in vigie.toml: {setting}; {fix}")]
    Setting { setting: &'static str, fix: String },
    #[error("template {name}: {reason}; correct the template or remove the override")]
    Template { name: String, reason: String },
    #[error("cannot write {path}: {source}; check that the folder exists and is writable")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("sending the notice to {recipient} through {relay} failed: {reason}")]
    Send {
        recipient: String,
        relay: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Source of the current time, so that tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when a test sets or advances it.
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> FixedClock {
        FixedClock(Mutex::new(at))
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Returns who acts: `explicit` (`--author`), else `$VIGIE_AUTHOR`, else the login name.
pub fn author(explicit: Option<&str>) -> String {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    explicit
        .map(str::to_owned)
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env("VIGIE_AUTHOR"))
        .or_else(login_name)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Name of the user running the process, from the password database.
fn login_name() -> Option<String> {
    // SAFETY: getpwuid_r writes into the buffers given, whose sizes are passed along; the
    // returned name points into `buffer`, which outlives its use here.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut buffer = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let status = libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        );
        if status != 0 || result.is_null() || entry.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(entry.pw_name);
        Some(name.to_string_lossy().into_owned())
    }
}

/// Author and clock of the events an operation writes.
pub struct Actor<'a> {
    pub author: &'a str,
    pub clock: &'a dyn Clock,
}

impl Actor<'_> {
    /// Builds an event at the clock's time by this author.
    pub fn event<'e>(
        &'e self,
        kind: &'e str,
        text: String,
        data: serde_json::Value,
    ) -> NewEvent<'e> {
        NewEvent {
            at: self.clock.now(),
            author: self.author,
            kind,
            text,
            data,
        }
    }
}

/// Finds a finding by its id or its fingerprint.
pub fn find_finding(store: &Store, text: &str) -> Result<StoredFinding, CaseError> {
    let found = match text.trim().parse::<i64>() {
        Ok(id) => store.finding(id)?,
        Err(_) => store.finding_by_fingerprint(text.trim())?,
    };
    found.ok_or_else(|| CaseError::NoFinding(text.to_owned()))
}

/// Returns an open case, or why it cannot be changed.
pub fn open_case(store: &Store, id: i64) -> Result<Case, CaseError> {
    let case = store.case(id)?.ok_or(CaseError::NoCase(id))?;
    if case.status == "closed" {
        return Err(CaseError::Closed(id));
    }
    Ok(case)
}

/// Returns a case, open or closed.
pub fn any_case(store: &Store, id: i64) -> Result<Case, CaseError> {
    store.case(id)?.ok_or(CaseError::NoCase(id))
}

/// Lists the domains a finding points at: its subject when it is a domain name, and its
/// domain indicators, lower-case and without duplicates.
pub fn finding_domains(finding: &StoredFinding) -> Vec<String> {
    let mut domains = Vec::new();
    let mut push = |name: &str| {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if looks_like_domain(&name) && !domains.contains(&name) {
            domains.push(name);
        }
    };
    push(&finding.subject);
    for indicator in &finding.indicators {
        if indicator.kind == IndicatorKind::Domain {
            push(&indicator.value);
        }
    }
    domains
}

/// Tells whether `text` has the shape of a DNS name with at least two labels.
pub fn looks_like_domain(text: &str) -> bool {
    text.contains('.')
        && text.len() <= 253
        && text.parse::<std::net::IpAddr>().is_err()
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Checks that a language code is safe to put in a template or file name: two lower-case
/// letters, optionally followed by `-` and a region or script (`pt-br`).
pub fn check_language_code(language: &str) -> Result<(), CaseError> {
    let (base, rest) = language.split_once('-').unwrap_or((language, ""));
    let valid = base.len() == 2
        && base.chars().all(|c| c.is_ascii_lowercase())
        && rest.len() <= 8
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && (rest.is_empty() != language.contains('-'));
    if valid {
        return Ok(());
    }
    Err(CaseError::Invalid(format!(
        "invalid language {language:?}; write an ISO 639-1 code such as fr"
    )))
}

/// Formats a time as RFC 3339, for messages and documents.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// Parses an RFC 3339 time or a date (`2026-03-01`, taken as midnight UTC).
pub fn parse_time(text: &str) -> Result<OffsetDateTime, CaseError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| {
            CaseError::Invalid(format!(
                "invalid time {text:?}; write a date such as 2026-03-01 or a time such as 2026-03-01T08:30:00Z"
            ))
        })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part:
/// a temporary file in the same folder, flushed to disk, then renamed over `path`.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), CaseError> {
    use std::io::Write as _;

    let error = |source| CaseError::Write {
        path: path.to_owned(),
        source,
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error(source));
    }
    Ok(())
}
