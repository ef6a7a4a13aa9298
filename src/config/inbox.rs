//! The `[inbox.NAME]` tables and the `[intake]` table of `vigie.toml`: mailboxes of reported
//! scam mail (IMAP or Maildir) and the HTTP endpoint of the report form.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use super::secrets::{EnvLookup, SecretKeys, read_secret};
use super::tls;
use super::tree::{Reader, Table};
use super::{AfterRead, ImapConfig, ImapSecurity, InboxConfig, InboxLocation, IntakeConfig};
use crate::model::Severity;

const IMAP_KEYS: &[&str] = &[
    "type",
    "host",
    "port",
    "security",
    "username",
    "password",
    "password_env",
    "password_file",
    "folders",
    "idle",
    "poll_secs",
    "after",
    "move_to",
    "timeout_secs",
    "reconnect_max_secs",
    "ca_file",
    "tls_server_name",
    "watchlist",
    "unmatched_severity",
    "max_message_bytes",
];
const MAILDIR_KEYS: &[&str] = &[
    "type",
    "path",
    "poll_secs",
    "watchlist",
    "unmatched_severity",
    "max_message_bytes",
];
const INTAKE_KEYS: &[&str] = &[
    "listen",
    "token",
    "token_env",
    "token_file",
    "max_body_bytes",
    "rate_per_minute",
    "watchlist",
    "unmatched_severity",
];

const PASSWORD: SecretKeys = SecretKeys {
    inline: "password",
    env: "password_env",
    file: "password_file",
};
const TOKEN: SecretKeys = SecretKeys {
    inline: "token",
    env: "token_env",
    file: "token_file",
};

/// Default `[intake] listen`.
pub const DEFAULT_INTAKE_LISTEN: &str = "127.0.0.1:8089";

/// A `watchlist` key met while reading, checked once the watchlists are loaded.
pub(crate) struct WatchlistRef {
    pub name: String,
    pub key_path: String,
    pub span: Range<usize>,
}

/// Reads every `[inbox.NAME]` table; an inbox with errors is left out of the result.
pub(crate) fn inboxes(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    env: EnvLookup<'_>,
    refs: &mut Vec<WatchlistRef>,
) -> BTreeMap<String, InboxConfig> {
    let mut inboxes = BTreeMap::new();
    let Some(table) = table else {
        return inboxes;
    };
    for key in table.entries.keys() {
        let name: &str = key.get_ref();
        if !is_valid_name(name) {
            reader.error(
                &key.span(),
                format!("invalid inbox name \"{name}\""),
                "use letters, digits, '-' and '_' only, such as [inbox.abuse]".to_string(),
            );
        }
        let path = format!("inbox.{name}");
        let Some(inbox_table) = reader.table(table, name, &path) else {
            continue;
        };
        let errors_before = reader.errors.len();
        let inbox = inbox(reader, &inbox_table, name, base, env, refs);
        if reader.errors.len() == errors_before
            && let Some(inbox) = inbox
        {
            inboxes.insert(name.to_string(), inbox);
        }
    }
    inboxes
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn inbox(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    name: &str,
    base: &Path,
    env: EnvLookup<'_>,
    refs: &mut Vec<WatchlistRef>,
) -> Option<InboxConfig> {
    if !table.has("type") {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("type")),
            "add `type = \"imap\"` or `type = \"maildir\"`".to_string(),
        );
        return None;
    }
    let (kind, _) = reader.choice(table, "type", &["imap", "maildir"])?;
    let location = if kind == "imap" {
        reader.check_keys(table, IMAP_KEYS);
        InboxLocation::Imap(imap(reader, table, base, env)?)
    } else {
        reader.check_keys(table, MAILDIR_KEYS);
        InboxLocation::Maildir(maildir_path(reader, table, base)?)
    };
    Some(InboxConfig {
        name: name.to_string(),
        location,
        watchlist: watchlist_ref(reader, table, refs),
        unmatched_severity: severity(reader, table, "unmatched_severity"),
        max_message_bytes: reader.integer(
            table,
            "max_message_bytes",
            25 << 20,
            (1024, 1 << 30),
            "bytes",
        ),
        poll_secs: reader.integer(table, "poll_secs", 60, (1, 86_400), "seconds"),
    })
}

fn imap(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<ImapConfig> {
    let host = reader.required_string(table, "host", "\"imap.example.com\"");
    let security = match reader.choice(table, "security", &["tls", "starttls", "plain"]) {
        Some((text, _)) if text == "plain" => ImapSecurity::Plain,
        Some((text, _)) if text == "starttls" => ImapSecurity::StartTls,
        _ => ImapSecurity::Tls,
    };
    let default_port = if security == ImapSecurity::Tls {
        993
    } else {
        143
    };
    let port = reader.integer(table, "port", default_port, (1, 65_535), "") as u16;
    let username = reader.required_string(table, "username", "\"abuse@example.com\"");
    if !table.has("password_env") && !table.has("password_file") && !table.has("password") {
        reader.error(
            &table.span,
            format!("[{}] has no password", table.name),
            "add password_env = \"VARIABLE\" or password_file = \"/path/to/file\"".to_string(),
        );
    }
    let password = read_secret(reader, table, &PASSWORD, base, env);
    let folders = folders(reader, table);
    let after = after(reader, table);
    let (ca_file, tls_server_name) = if security == ImapSecurity::Plain {
        tls::reject_with_plain(reader, table);
        (None, None)
    } else {
        (
            tls::ca_file(reader, table, base),
            tls::server_name(reader, table),
        )
    };
    Some(ImapConfig {
        host: host?.0,
        port,
        security,
        username: username?.0,
        password: password?,
        folders,
        idle: reader.bool(table, "idle", true),
        after,
        timeout_secs: reader.integer(table, "timeout_secs", 60, (1, 3600), "seconds"),
        reconnect_max_secs: reader.integer(
            table,
            "reconnect_max_secs",
            300,
            (1, 86_400),
            "seconds",
        ),
        ca_file,
        tls_server_name,
    })
}

fn folders(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    if !table.has("folders") {
        return vec!["INBOX".to_string()];
    }
    let mut folders: Vec<String> = Vec::new();
    let mut invalid = false;
    for (folder, span) in reader.strings(table, "folders") {
        if folder.trim().is_empty() || folder.contains(['\r', '\n', '"']) {
            invalid = true;
            reader.error(
                &span,
                format!(
                    "invalid folder name {folder:?} in {}",
                    table.key_path("folders")
                ),
                "write the folder as the server lists it, such as \"INBOX\" or \"INBOX/Phishing\""
                    .to_string(),
            );
        } else if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
    if folders.is_empty() && !invalid {
        reader.error(
            &table.key_span("folders"),
            format!("{} is empty", table.key_path("folders")),
            "list at least one folder, such as [\"INBOX\"], or remove the key".to_string(),
        );
    }
    folders
}

fn after(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> AfterRead {
    let choice = reader.choice(table, "after", &["keep", "seen", "flag", "move"]);
    let move_to = reader.string(table, "move_to");
    match (choice.as_ref().map(|(text, _)| text.as_str()), move_to) {
        (Some("move"), Some((folder, span))) => {
            if folder.trim().is_empty() || folder.contains(['\r', '\n', '"']) {
                reader.error(
                    &span,
                    format!(
                        "invalid folder name {folder:?} in {}",
                        table.key_path("move_to")
                    ),
                    "write a folder name such as \"INBOX/vigie-done\"".to_string(),
                );
            }
            AfterRead::Move(folder)
        }
        (Some("move"), None) => {
            reader.error(
                &table.key_span("after"),
                format!(
                    "{} is \"move\" but move_to is missing",
                    table.key_path("after")
                ),
                "add `move_to = \"INBOX/vigie-done\"`, the folder processed mail goes to"
                    .to_string(),
            );
            AfterRead::Keep
        }
        (_, Some((_, span))) => {
            reader.error(
                &span,
                format!(
                    "{} is set but after is not \"move\"",
                    table.key_path("move_to")
                ),
                "add `after = \"move\"`, or remove move_to".to_string(),
            );
            AfterRead::Keep
        }
        (Some("seen"), None) => AfterRead::Seen,
        (Some("flag"), None) => AfterRead::Flag,
        _ => AfterRead::Keep,
    }
}

fn maildir_path(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
) -> Option<std::path::PathBuf> {
    let (path, span) = reader.required_string(table, "path", "\"/var/mail/spamtrap/Maildir\"")?;
    if path.trim().is_empty() {
        reader.error(
            &span,
            format!("{} is empty", table.key_path("path")),
            "write the path of the Maildir folder (the one that holds new/ and cur/)".to_string(),
        );
        return None;
    }
    Some(base.join(path))
}

fn watchlist_ref(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    refs: &mut Vec<WatchlistRef>,
) -> Option<String> {
    let (name, span) = reader.string(table, "watchlist")?;
    refs.push(WatchlistRef {
        name: name.clone(),
        key_path: table.key_path("watchlist"),
        span,
    });
    Some(name)
}

fn severity(reader: &mut Reader<'_>, table: &Table<'_, '_>, key: &str) -> Severity {
    reader
        .choice(table, key, &["low", "medium", "high", "critical"])
        .and_then(|(text, _)| Severity::parse(&text))
        .unwrap_or(Severity::Low)
}

/// Reads `[intake]`; `None` when the section is absent or has errors.
pub(crate) fn intake(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    env: EnvLookup<'_>,
    refs: &mut Vec<WatchlistRef>,
) -> Option<IntakeConfig> {
    let table = table?;
    reader.check_keys(table, INTAKE_KEYS);
    let errors_before = reader.errors.len();

    let listen = match reader.string(table, "listen") {
        None => DEFAULT_INTAKE_LISTEN.parse().ok(),
        Some((text, span)) => match text.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                reader.error(
                    &span,
                    format!("invalid address \"{text}\" for intake.listen"),
                    "write an IP address and a port, such as \"127.0.0.1:8089\" or \"[::1]:8089\""
                        .to_string(),
                );
                None
            }
        },
    };
    if !table.has("token_env") && !table.has("token_file") && !table.has("token") {
        reader.error(
            &table.span,
            "[intake] has no token".to_string(),
            "add token_env = \"VARIABLE\" or token_file = \"/path/to/file\"; the form sends it as `Authorization: Bearer TOKEN`".to_string(),
        );
    }
    let token = read_secret(reader, table, &TOKEN, base, env);
    let config = IntakeConfig {
        listen: listen?,
        token: token?,
        max_body_bytes: reader.integer(table, "max_body_bytes", 10 << 20, (1024, 1 << 30), "bytes"),
        rate_per_minute: reader.integer(table, "rate_per_minute", 10, (1, 100_000), "requests")
            as u32,
        watchlist: watchlist_ref(reader, table, refs),
        unmatched_severity: severity(reader, table, "unmatched_severity"),
    };
    (reader.errors.len() == errors_before).then_some(config)
}
