//! The `[ct]` table of `vigie.toml` and its `[ct.logs.NAME]` overrides: the Certificate
//! Transparency logs to follow.

use std::collections::BTreeMap;
use std::path::Path;

use super::tree::{Reader, Table};
use super::{CtConfig, CtLogConfig, LogListLocation};
use crate::ct::LogState;
use crate::ct::loglist::normalize_log_url;

const CT_KEYS: &[&str] = &[
    "log_list_url",
    "log_list_path",
    "log_list_refresh_secs",
    "states",
    "batch_size",
    "parallel_requests",
    "poll_interval_secs",
    "backfill",
    "timeout_secs",
    "max_response_bytes",
    "retry_max_secs",
    "workers",
    "ca_file",
    "logs",
];

const LOG_KEYS: &[&str] = &[
    "url",
    "enabled",
    "description",
    "batch_size",
    "parallel_requests",
    "poll_interval_secs",
    "backfill",
    "start_index",
];

/// Default of `[ct] states`: the logs that accept new certificates.
const DEFAULT_STATES: &[LogState] = &[LogState::Usable, LogState::Qualified];

/// Reads `[ct]`; `None` when the table is absent (the source does not run).
pub(crate) fn ct(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
) -> Option<CtConfig> {
    let table = table?;
    reader.check_keys(table, CT_KEYS);

    let log_list = log_list(reader, table, base);
    let config = CtConfig {
        log_list,
        log_list_refresh_secs: reader.integer(
            table,
            "log_list_refresh_secs",
            86_400,
            (60, 30 * 86_400),
            "seconds",
        ),
        states: states(reader, table),
        batch_size: reader.integer(table, "batch_size", 256, (1, 10_000), "entries"),
        parallel_requests: reader.integer(table, "parallel_requests", 2, (1, 16), "requests")
            as usize,
        poll_interval_secs: reader.integer(table, "poll_interval_secs", 30, (1, 86_400), "seconds"),
        backfill: reader.bool(table, "backfill", false),
        timeout_secs: reader.integer(table, "timeout_secs", 30, (1, 600), "seconds"),
        max_response_bytes: reader.integer(
            table,
            "max_response_bytes",
            64 << 20,
            (1 << 16, 1 << 30),
            "bytes",
        ),
        retry_max_secs: reader.integer(table, "retry_max_secs", 600, (1, 86_400), "seconds"),
        workers: reader.integer(table, "workers", 0, (0, 256), "threads") as usize,
        ca_file: super::tls::ca_file(reader, table, base),
        logs: logs(reader, table),
    };

    if config.log_list.is_none() && !config.logs.values().any(|log| log.enabled) {
        reader.error(
            &table.span,
            "[ct] names no log: it has no log list and no enabled [ct.logs.NAME] table"
                .to_string(),
            "add `log_list_url = \"https://...\"` (a v3 log list) or `log_list_path`, or a [ct.logs.NAME] table with a `url`"
                .to_string(),
        );
    }
    Some(config)
}

fn log_list(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
) -> Option<LogListLocation> {
    let url = reader.string(table, "log_list_url");
    let path = reader.string(table, "log_list_path");
    match (url, path) {
        (None, None) => None,
        (Some((_, span)), Some(_)) => {
            reader.error(
                &span,
                "[ct] has both `log_list_url` and `log_list_path`".to_string(),
                "keep one of them".to_string(),
            );
            None
        }
        (Some((url, span)), None) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                reader.error(
                    &span,
                    format!("ct.log_list_url must be an http or https URL, found \"{url}\""),
                    "write the URL of a v3 log list, or use `log_list_path` for a file".to_string(),
                );
            }
            Some(LogListLocation::Url(url))
        }
        (None, Some((path, span))) => {
            let full = base.join(&path);
            if !full.is_file() {
                reader.error(
                    &span,
                    format!(
                        "log list {} named by ct.log_list_path not found",
                        full.display()
                    ),
                    format!(
                        "correct the path (a relative path starts from {}) or use `log_list_url`",
                        base.display()
                    ),
                );
            }
            Some(LogListLocation::Path(full))
        }
    }
}

fn states(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<LogState> {
    if !table.has("states") {
        return DEFAULT_STATES.to_vec();
    }
    let mut states = Vec::new();
    for (name, span) in reader.strings(table, "states") {
        match LogState::parse(&name) {
            Some(state) if !states.contains(&state) => states.push(state),
            Some(_) => {}
            None => reader.error(
                &span,
                format!("unknown log state \"{name}\" in ct.states"),
                format!("use states from: {}", LogState::NAMES.join(", ")),
            ),
        }
    }
    states
}

fn logs(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> BTreeMap<String, CtLogConfig> {
    let mut logs: BTreeMap<String, CtLogConfig> = BTreeMap::new();
    let Some(logs_table) = reader.table(table, "logs", "ct.logs") else {
        return logs;
    };
    for key in logs_table.entries.keys() {
        let name: &str = key.get_ref();
        if !is_valid_name(name) {
            reader.error(
                &key.span(),
                format!("invalid log name \"{name}\""),
                "use letters, digits, '-' and '_' only, such as [ct.logs.argon2026h1]".to_string(),
            );
            continue;
        }
        let path = format!("ct.logs.{name}");
        let Some(log_table) = reader.table(&logs_table, name, &path) else {
            continue;
        };
        let errors_before = reader.errors.len();
        let Some(log) = log(reader, &log_table, name) else {
            continue;
        };
        if let Some(other) = logs.values().find(|other| other.url == log.url) {
            reader.error(
                &log_table.key_span("url"),
                format!(
                    "[ct.logs.{name}] has the same url as [ct.logs.{}]: {}",
                    other.name, log.url
                ),
                "keep one table per log".to_string(),
            );
            continue;
        }
        if reader.errors.len() == errors_before {
            logs.insert(name.to_string(), log);
        }
    }
    logs
}

fn log(reader: &mut Reader<'_>, table: &Table<'_, '_>, name: &str) -> Option<CtLogConfig> {
    reader.check_keys(table, LOG_KEYS);
    let (url, span) = reader.required_string(table, "url", "\"https://ct.example.net/log/\"")?;
    let url = match normalize_log_url(&url) {
        Ok(url) => url,
        Err(reason) => {
            reader.error(
                &span,
                format!("invalid ct.logs.{name}.url: {reason}"),
                "write the log's base URL, the part before ct/v1/, such as \"https://ct.example.net/2026h1/\""
                    .to_string(),
            );
            return None;
        }
    };
    let optional = |reader: &mut Reader<'_>, key: &str, range: (u64, u64), unit: &str| {
        table
            .has(key)
            .then(|| reader.integer(table, key, range.0, range, unit))
    };
    Some(CtLogConfig {
        name: name.to_string(),
        url,
        enabled: reader.bool(table, "enabled", true),
        description: reader.string(table, "description").map(|(text, _)| text),
        batch_size: optional(reader, "batch_size", (1, 10_000), "entries"),
        parallel_requests: optional(reader, "parallel_requests", (1, 16), "requests")
            .map(|n| n as usize),
        poll_interval_secs: optional(reader, "poll_interval_secs", (1, 86_400), "seconds"),
        backfill: table
            .has("backfill")
            .then(|| reader.bool(table, "backfill", false)),
        start_index: optional(reader, "start_index", (0, i64::MAX as u64), "entries"),
    })
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
