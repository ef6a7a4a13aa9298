//! The v3 log list JSON that Chrome and Apple publish (`operators[].logs[]`), as a file or a
//! download.
//!
//! Only RFC 6962 logs (`logs`) are read; `tiled_logs` (the static CT API) are ignored. A log
//! entry that lacks its URL or has an unusable one is skipped with a problem naming the
//! operator and the log, so one bad entry does not hide the others.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// State of a log in the list, as its `state` object names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogState {
    Pending,
    Qualified,
    Usable,
    ReadOnly,
    Retired,
    Rejected,
    /// The list gives no state, or one this version does not know.
    Unknown,
}

impl LogState {
    /// Every state name, as the list and the `states` setting spell them.
    pub const NAMES: &'static [&'static str] = &[
        "pending",
        "qualified",
        "usable",
        "readonly",
        "retired",
        "rejected",
    ];

    /// Parses a state name of the list.
    pub fn parse(name: &str) -> Option<LogState> {
        Some(match name {
            "pending" => LogState::Pending,
            "qualified" => LogState::Qualified,
            "usable" => LogState::Usable,
            "readonly" => LogState::ReadOnly,
            "retired" => LogState::Retired,
            "rejected" => LogState::Rejected,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Pending => "pending",
            LogState::Qualified => "qualified",
            LogState::Usable => "usable",
            LogState::ReadOnly => "readonly",
            LogState::Retired => "retired",
            LogState::Rejected => "rejected",
            LogState::Unknown => "unknown",
        }
    }
}

/// One RFC 6962 log of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLog {
    /// Name of the operator, e.g. `Google`.
    pub operator: String,
    /// Description, e.g. `Google 'Argon2025h2' log`.
    pub description: String,
    /// Base URL, ending with `/`; `ct/v1/get-sth` is appended to it.
    pub url: String,
    /// Log ID (base64 SHA-256 of the log's key), as the list gives it.
    pub log_id: String,
    pub state: LogState,
    /// Certificates expiring in `[start, end)` only, for a temporal shard.
    pub temporal_interval: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// A parsed log list and the entries that were skipped.
#[derive(Debug, Clone, Default)]
pub struct LogList {
    pub logs: Vec<ListedLog>,
    /// One line per skipped entry, naming the operator and the log and why.
    pub problems: Vec<String>,
}

/// Error of a log list that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogListError {
    #[error("log list {origin} is not valid JSON at line {line}, column {column}: {reason}")]
    Json {
        origin: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("log list {origin} has no `operators` array; is it a v3 log list?")]
    NoOperators { origin: String },
}

#[derive(Deserialize)]
struct RawList {
    operators: Option<Vec<RawOperator>>,
}

#[derive(Deserialize)]
struct RawOperator {
    #[serde(default)]
    name: String,
    #[serde(default)]
    logs: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawLog {
    #[serde(default)]
    description: String,
    #[serde(default)]
    log_id: String,
    url: Option<String>,
    #[serde(default)]
    state: BTreeMap<String, serde_json::Value>,
    temporal_interval: Option<RawInterval>,
}

#[derive(Deserialize)]
struct RawInterval {
    start_inclusive: String,
    end_exclusive: String,
}

/// Parses a v3 log list. `origin` (a path or URL) is named in errors.
pub fn parse_log_list(text: &[u8], origin: &str) -> Result<LogList, LogListError> {
    let raw: RawList = serde_json::from_slice(text).map_err(|error| LogListError::Json {
        origin: origin.to_string(),
        line: error.line(),
        column: error.column(),
        reason: error.to_string(),
    })?;
    let Some(operators) = raw.operators else {
        return Err(LogListError::NoOperators {
            origin: origin.to_string(),
        });
    };

    let mut list = LogList::default();
    for (op_index, operator) in operators.into_iter().enumerate() {
        for (log_index, value) in operator.logs.into_iter().enumerate() {
            let place = format!(
                "operator {:?} (operators[{op_index}]), logs[{log_index}]",
                operator.name
            );
            match read_log(&operator.name, value) {
                Ok(log) => list.logs.push(log),
                Err(reason) => list
                    .problems
                    .push(format!("{origin}: {place} skipped: {reason}")),
            }
        }
    }
    Ok(list)
}

fn read_log(operator: &str, value: serde_json::Value) -> Result<ListedLog, String> {
    let raw: RawLog = serde_json::from_value(value).map_err(|error| error.to_string())?;
    let url = raw.url.ok_or("no `url`")?;
    let url = normalize_log_url(&url)?;
    let state = raw
        .state
        .keys()
        .find_map(|name| LogState::parse(name))
        .unwrap_or(LogState::Unknown);
    let temporal_interval = match raw.temporal_interval {
        None => None,
        Some(interval) => {
            let parse = |text: &str| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map_err(|error| format!("invalid temporal_interval time {text:?}: {error}"))
            };
            Some((
                parse(&interval.start_inclusive)?,
                parse(&interval.end_exclusive)?,
            ))
        }
    };
    Ok(ListedLog {
        operator: operator.to_string(),
        description: raw.description,
        url,
        log_id: raw.log_id,
        state,
        temporal_interval,
    })
}

/// Checks that a log URL is an http or https URL and returns it ending with one `/`.
pub fn normalize_log_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("log URL {url:?} has no scheme; write https://..."));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(format!("log URL {url:?} is not http or https"));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("log URL {url:?} has no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "log URL {url:?} has a query or fragment; give the log's base URL"
        ));
    }
    let mut normalized = format!("{}://{rest}", scheme.to_ascii_lowercase());
    while normalized.ends_with("//") {
        normalized.pop();
    }
    if !normalized.ends_with('/') {
        normalized.push('/');
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(
            normalize_log_url("https://log.bob.io").unwrap(),
            "https://log.bob.io/"
        );
        assert_eq!(
            normalize_log_url("HTTPS://ct.example/logs/a2025//").unwrap(),
            "https://ct.example/logs/a2025/"
        );
        assert!(normalize_log_url("ftp://x/").is_err());
        assert!(normalize_log_url("ct.example/log").is_err());
        assert!(normalize_log_url("https:///x").is_err());
        assert!(normalize_log_url("https://x/?a=1").is_err());
    }

    #[test]
    fn bad_entries_are_skipped_with_their_place() {
        let text = br#"{"operators": [{"name": "Op", "logs": [
            {"description": "good", "url": "https://a.example/", "state": {"usable": {}}},
            {"description": "no url"},
            {"description": "bad url", "url": "gopher://x"},
            {"description": "bad interval", "url": "https://b.example/",
             "temporal_interval": {"start_inclusive": "yesterday", "end_exclusive": "x"}}
        ]}]}"#;
        let list = parse_log_list(text, "list.json").unwrap();
        assert_eq!(list.logs.len(), 1);
        assert_eq!(list.logs[0].state, LogState::Usable);
        assert_eq!(list.problems.len(), 3, "{:?}", list.problems);
        assert!(list.problems[0].contains("logs[1]"), "{:?}", list.problems);
        assert!(list.problems[0].contains("no `url`"), "{:?}", list.problems);
    }

    #[test]
    fn invalid_json_names_the_place() {
        let error = parse_log_list(b"{\n  \"operators\": [,]\n}", "list.json").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("list.json"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(matches!(
            parse_log_list(b"{}", "x").unwrap_err(),
            LogListError::NoOperators { .. }
        ));
    }
}
