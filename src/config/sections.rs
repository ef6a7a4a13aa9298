//! The `[daemon]`, `[dns]`, `[lookalike]` and `[dispatcher]` sections of `vigie.toml`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::domain::lists;

use super::error::ConfigError;
use super::secrets::EnvLookup;
use super::tree::{Reader, Table, closest};
use super::{DaemonConfig, DispatcherConfig, DnsConfig, LogFormat, LookalikeConfig};

/// Fuzzer names, as dnstwist names them.
pub const FUZZERS: &[&str] = &[
    "addition",
    "bitsquatting",
    "cyrillic",
    "homoglyph",
    "hyphenation",
    "insertion",
    "omission",
    "plural",
    "repetition",
    "replacement",
    "subdomain",
    "transposition",
    "vowel-swap",
    "various",
    "dictionary",
    "tld-swap",
];

const DAEMON_KEYS: &[&str] = &[
    "state_dir",
    "watchlists_dir",
    "log_format",
    "shutdown_grace_secs",
];
const DNS_KEYS: &[&str] = &["nameservers", "timeout_ms", "attempts", "concurrency"];
pub(crate) const LOOKALIKE_KEYS: &[&str] = &[
    "interval_secs",
    "jitter_secs",
    "fuzzers",
    "dictionary",
    "dictionary_file",
    "tld_swap",
    "tld_file",
];
const DISPATCHER_KEYS: &[&str] = &["retry_initial_secs", "retry_max_secs"];

/// Default state folder when neither `state_dir` nor `$STATE_DIRECTORY` is set.
const DEFAULT_STATE_DIR: &str = "/var/lib/vigie";

pub(crate) fn daemon(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    env: EnvLookup<'_>,
) -> DaemonConfig {
    let mut config = DaemonConfig {
        state_dir: default_state_dir(env),
        watchlists_dir: base.join("watchlists"),
        log_format: LogFormat::Text,
        shutdown_grace_secs: 10,
    };
    let Some(table) = table else {
        return config;
    };
    reader.check_keys(table, DAEMON_KEYS);

    if let Some((dir, _)) = non_empty_path(reader, table, "state_dir") {
        config.state_dir = base.join(dir);
    }
    if let Some((dir, _)) = non_empty_path(reader, table, "watchlists_dir") {
        config.watchlists_dir = base.join(dir);
    }
    if let Some((format, _)) = reader.choice(table, "log_format", &["text", "json"]) {
        config.log_format = if format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
    }
    config.shutdown_grace_secs =
        reader.integer(table, "shutdown_grace_secs", 10, (1, 3600), "seconds");
    config
}

/// Returns `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`), else `/var/lib/vigie`.
fn default_state_dir(env: EnvLookup<'_>) -> PathBuf {
    // systemd joins several state folders with ':'; the unit declares only one.
    env("STATE_DIRECTORY")
        .and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

fn non_empty_path(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
) -> Option<(String, std::ops::Range<usize>)> {
    let (text, span) = reader.string(table, key)?;
    if text.trim().is_empty() {
        reader.error(
            &span,
            format!("{} is empty", table.key_path(key)),
            "write a folder path, or remove the key to use the default".to_string(),
        );
        return None;
    }
    Some((text, span))
}

pub(crate) fn dns(reader: &mut Reader<'_>, table: Option<&Table<'_, '_>>) -> DnsConfig {
    let Some(table) = table else {
        return DnsConfig {
            nameservers: Vec::new(),
            timeout_ms: 2000,
            attempts: 2,
            concurrency: 100,
        };
    };
    reader.check_keys(table, DNS_KEYS);

    let mut nameservers = Vec::new();
    for (text, span) in reader.strings(table, "nameservers") {
        match parse_nameserver(&text) {
            Some(address) => nameservers.push(address),
            None => reader.error(
                &span,
                format!("invalid nameserver \"{text}\" in dns.nameservers"),
                "write an IP address with an optional port: \"192.0.2.53\", \"192.0.2.53:53\" or \"[2001:db8::53]:53\"".to_string(),
            ),
        }
    }
    DnsConfig {
        nameservers,
        timeout_ms: reader.integer(table, "timeout_ms", 2000, (1, 60_000), "milliseconds"),
        attempts: reader.integer(table, "attempts", 2, (1, 10), "attempts") as u32,
        concurrency: reader.integer(table, "concurrency", 100, (1, 10_000), "queries") as usize,
    }
}

/// Parses `ip`, `ip:port` or `[ipv6]:port`; port 53 when none is given. Port 0 is rejected.
fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    let address = match text.parse::<SocketAddr>() {
        Ok(address) => address,
        Err(_) => SocketAddr::new(text.trim_matches(['[', ']']).parse::<IpAddr>().ok()?, 53),
    };
    (address.port() != 0).then_some(address)
}

/// Returns the built-in defaults of `[lookalike]`.
pub(crate) fn default_lookalike() -> LookalikeConfig {
    LookalikeConfig {
        interval_secs: 3600,
        jitter_secs: 300,
        fuzzers: Vec::new(),
        dictionary: true,
        dictionary_file: None,
        tld_swap: true,
        tld_file: None,
    }
}

/// Reads `[lookalike]` over `inherited`: each key present replaces the inherited value.
/// Relative file paths are taken from `base`, the folder of the file being read.
pub(crate) fn lookalike(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    inherited: &LookalikeConfig,
    base: &Path,
) -> LookalikeConfig {
    let mut config = inherited.clone();
    let Some(table) = table else {
        return config;
    };
    reader.check_keys(table, LOOKALIKE_KEYS);

    config.interval_secs = reader.integer(
        table,
        "interval_secs",
        inherited.interval_secs,
        (1, 30 * 86_400),
        "seconds",
    );
    config.jitter_secs = reader.integer(
        table,
        "jitter_secs",
        inherited.jitter_secs,
        (0, 86_400),
        "seconds",
    );
    if table.has("fuzzers") {
        config.fuzzers = fuzzers(reader, table);
    }
    config.dictionary = reader.bool(table, "dictionary", inherited.dictionary);
    config.tld_swap = reader.bool(table, "tld_swap", inherited.tld_swap);
    if table.has("dictionary_file") {
        config.dictionary_file = existing_file(reader, table, "dictionary_file", base);
        if let Some(path) = &config.dictionary_file {
            check_list(reader, table, "dictionary_file", path, lists::parse_words);
        }
    }
    if table.has("tld_file") {
        config.tld_file = existing_file(reader, table, "tld_file", base);
        if let Some(path) = &config.tld_file {
            check_list(reader, table, "tld_file", path, lists::parse_tlds);
        }
    }
    config
}

/// Reads the word or TLD list named by `key` and reports each bad line at its place in that
/// file. The lookalike source reads the list again at each sweep and fails on the same lines.
fn check_list(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    path: &Path,
    parse: fn(&str, &str) -> lists::ListResult,
) {
    let span = table.get(key).map_or(0..0, |(_, value)| value.span());
    let key_path = table.key_path(key);
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            reader.error(
                &span,
                format!(
                    "file {} named by {key_path} is not valid UTF-8",
                    path.display()
                ),
                "save the file as UTF-8".to_string(),
            );
            return;
        }
        Err(error) => {
            reader.error(
                &span,
                format!(
                    "cannot read file {} named by {key_path}: {error}",
                    path.display()
                ),
                "make the file readable by the user vigie runs as".to_string(),
            );
            return;
        }
    };
    let Err(errors) = parse(&text, &path.display().to_string()) else {
        return;
    };
    for error in errors {
        reader.errors.push(ConfigError {
            file: path.to_path_buf(),
            line: error.line,
            column: 1,
            message: format!(
                "invalid {} {:?} in the list named by {key_path}: {}",
                error.kind, error.entry, error.reason
            ),
            fix: "correct or remove this line".to_string(),
        });
    }
}

fn fuzzers(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    let mut names = Vec::new();
    for (name, span) in reader.strings(table, "fuzzers") {
        if FUZZERS.contains(&name.as_str()) {
            if !names.contains(&name) {
                names.push(name);
            }
            continue;
        }
        let fix = match closest(&name, FUZZERS) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None => format!("use fuzzer names from: {}", FUZZERS.join(", ")),
        };
        reader.error(
            &span,
            format!("unknown fuzzer \"{name}\" in {}", table.key_path("fuzzers")),
            fix,
        );
    }
    names
}

/// Reads a path that must name an existing file; relative paths are taken from `base`.
pub(crate) fn existing_file(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    base: &Path,
) -> Option<PathBuf> {
    let (text, span) = reader.string(table, key)?;
    let path = base.join(&text);
    if path.is_file() {
        return Some(path);
    }
    reader.error(
        &span,
        format!(
            "file {} named by {} not found",
            path.display(),
            table.key_path(key)
        ),
        format!(
            "create the file, correct the path (a relative path starts from {}), or remove the key",
            base.display()
        ),
    );
    None
}

pub(crate) fn dispatcher(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
) -> DispatcherConfig {
    let Some(table) = table else {
        return DispatcherConfig {
            retry_initial_secs: 5,
            retry_max_secs: 900,
        };
    };
    reader.check_keys(table, DISPATCHER_KEYS);

    let initial = reader.integer(table, "retry_initial_secs", 5, (1, 3600), "seconds");
    let max = reader.integer(table, "retry_max_secs", 900, (1, 86_400), "seconds");
    if max < initial {
        reader.error(
            &table.key_span("retry_max_secs"),
            format!(
                "dispatcher.retry_max_secs ({max}) is less than retry_initial_secs ({initial})"
            ),
            "make retry_max_secs at least retry_initial_secs".to_string(),
        );
    }
    DispatcherConfig {
        retry_initial_secs: initial,
        retry_max_secs: max.max(initial),
    }
}
