//! The `[sinks.NAME]` tables of `vigie.toml`: where alerts are delivered.

use std::collections::BTreeMap;
use std::path::Path;

use super::names::check_mail_address;
use super::secrets::{EnvLookup, SecretKeys, read_secret};
use super::tls;
use super::tree::{Reader, Table};
use super::{SinkConfig, SmtpSecurity, SmtpSinkConfig, WebhookFormat, WebhookSinkConfig};
use crate::alert::policy::{QuietHours, SinkPolicy, parse_offset};
use time::UtcOffset;

const SMTP_KEYS: &[&str] = &[
    "max_per_hour",
    "quiet_hours",
    "utc_offset",
    "type",
    "host",
    "port",
    "security",
    "username",
    "password",
    "password_env",
    "password_file",
    "from",
    "to",
    "timeout_secs",
    "ca_file",
    "tls_server_name",
];
const WEBHOOK_KEYS: &[&str] = &[
    "max_per_hour",
    "quiet_hours",
    "utc_offset",
    "type",
    "url",
    "url_env",
    "url_file",
    "format",
    "secret",
    "secret_env",
    "secret_file",
    "timeout_secs",
];

const PASSWORD: SecretKeys = SecretKeys {
    inline: "password",
    env: "password_env",
    file: "password_file",
};
const WEBHOOK_URL: SecretKeys = SecretKeys {
    inline: "url",
    env: "url_env",
    file: "url_file",
};
const WEBHOOK_SECRET: SecretKeys = SecretKeys {
    inline: "secret",
    env: "secret_env",
    file: "secret_file",
};

/// Reads every `[sinks.NAME]` table. A sink with errors is left out of the result, but its
/// name is still returned in `names` so that watchlists routing to it report no second error.
pub(crate) fn sinks(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    env: EnvLookup<'_>,
) -> (
    BTreeMap<String, SinkConfig>,
    Vec<String>,
    BTreeMap<String, SinkPolicy>,
) {
    let mut sinks = BTreeMap::new();
    let mut names = Vec::new();
    let mut policies = BTreeMap::new();
    let Some(table) = table else {
        return (sinks, names, policies);
    };
    for key in table.entries.keys() {
        let name: &str = key.get_ref();
        names.push(name.to_string());
        if !valid_sink_name(name) {
            reader.error(
                &key.span(),
                format!("invalid sink name \"{name}\""),
                "use letters, digits, '-' and '_' only, such as [sinks.soc-mail]".to_string(),
            );
        }
        let path = format!("sinks.{name}");
        let Some(sink_table) = reader.table(table, name, &path) else {
            continue;
        };
        let policy = policy(reader, &sink_table);
        if !policy.is_open() {
            policies.insert(name.to_string(), policy);
        }
        if let Some(sink) = sink(reader, &sink_table, base, env) {
            sinks.insert(name.to_string(), sink);
        }
    }
    (sinks, names, policies)
}

/// Reads the rate limit and quiet hours of one sink.
fn policy(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> SinkPolicy {
    let max_per_hour = table
        .has("max_per_hour")
        .then(|| reader.integer(table, "max_per_hour", 60, (1, 10_000), "messages") as u32);
    let offset = match reader.string(table, "utc_offset") {
        None => UtcOffset::UTC,
        Some((text, span)) => parse_offset(&text).unwrap_or_else(|| {
            reader.error(
                &span,
                format!("invalid {} \"{text}\"", table.key_path("utc_offset")),
                "write the offset of the SOC's local time as +HH:MM or -HH:MM, such as \"+01:00\""
                    .to_string(),
            );
            UtcOffset::UTC
        }),
    };
    let quiet_hours = reader
        .string(table, "quiet_hours")
        .and_then(|(text, span)| match QuietHours::parse(&text, offset) {
            Some(quiet) => Some(quiet),
            None => {
                reader.error(
                    &span,
                    format!("invalid {} \"{text}\"", table.key_path("quiet_hours")),
                    "write a daily window as \"HH:MM-HH:MM\" with two different times, such as \
                     \"22:00-07:00\""
                        .to_string(),
                );
                None
            }
        });
    SinkPolicy {
        max_per_hour,
        quiet_hours,
    }
}

fn valid_sink_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn sink(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<SinkConfig> {
    if !table.has("type") {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("type")),
            "add `type = \"smtp\"` or `type = \"webhook\"`".to_string(),
        );
        return None;
    }
    let (kind, _) = reader.choice(table, "type", &["smtp", "webhook"])?;
    let errors_before = reader.errors.len();
    let sink = if kind == "smtp" {
        reader.check_keys(table, SMTP_KEYS);
        smtp(reader, table, base, env).map(SinkConfig::Smtp)
    } else {
        reader.check_keys(table, WEBHOOK_KEYS);
        webhook(reader, table, base, env).map(SinkConfig::Webhook)
    };
    // A sink with any error is not handed out half-read.
    sink.filter(|_| reader.errors.len() == errors_before)
}

fn smtp(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<SmtpSinkConfig> {
    let host = reader.required_string(table, "host", "\"smtp.example.com\"");
    let security = match reader.choice(table, "security", &["plain", "starttls", "tls"]) {
        Some((text, _)) if text == "plain" => SmtpSecurity::Plain,
        Some((text, _)) if text == "tls" => SmtpSecurity::Tls,
        _ => SmtpSecurity::StartTls,
    };
    let default_port = match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    let port = reader.integer(table, "port", default_port, (1, 65_535), "") as u16;
    let username = reader.string(table, "username").map(|(name, _)| name);
    let password = read_secret(reader, table, &PASSWORD, base, env);
    check_credentials_pair(reader, table, username.is_some());

    let from = reader.required_string(table, "from", "\"vigie@example.com\"");
    if let Some((address, span)) = &from {
        check_address(reader, table, "from", address, span);
    }
    let to = recipients(reader, table);
    let timeout_secs = reader.integer(table, "timeout_secs", 30, (1, 600), "seconds");
    let (ca_file, tls_server_name) = if security == SmtpSecurity::Plain {
        tls::reject_with_plain(reader, table);
        (None, None)
    } else {
        (
            tls::ca_file(reader, table, base),
            tls::server_name(reader, table),
        )
    };

    Some(SmtpSinkConfig {
        host: host?.0,
        port,
        security,
        username,
        password,
        from: from?.0,
        to,
        timeout_secs,
        ca_file,
        tls_server_name,
    })
}

/// Reports a username without a password source, or a password source without a username.
fn check_credentials_pair(reader: &mut Reader<'_>, table: &Table<'_, '_>, has_username: bool) {
    let has_password = table.has("password_env") || table.has("password_file");
    if has_username && !has_password {
        reader.error(
            &table.key_span("username"),
            format!(
                "{} is set but no password is given",
                table.key_path("username")
            ),
            "add password_env or password_file, or remove username".to_string(),
        );
    }
    if has_password && !has_username {
        let key = if table.has("password_env") {
            "password_env"
        } else {
            "password_file"
        };
        reader.error(
            &table.key_span(key),
            format!("{} is set but username is missing", table.key_path(key)),
            "add `username = \"...\"` for SMTP authentication".to_string(),
        );
    }
}

fn recipients(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    if !table.has("to") {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("to")),
            "add `to = [\"soc@example.com\"]`".to_string(),
        );
        return Vec::new();
    }
    let addresses = reader.strings(table, "to");
    if addresses.is_empty() {
        reader.error(
            &table.key_span("to"),
            format!("{} lists no recipient", table.key_path("to")),
            "add at least one address, such as `to = [\"soc@example.com\"]`".to_string(),
        );
    }
    for (address, span) in &addresses {
        check_address(reader, table, "to", address, span);
    }
    addresses.into_iter().map(|(address, _)| address).collect()
}

fn check_address(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    address: &str,
    span: &std::ops::Range<usize>,
) {
    if let Err(problem) = check_mail_address(address) {
        reader.error(
            span,
            format!("{}: {}", table.key_path(key), problem.message),
            problem.fix,
        );
    }
}

fn webhook(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<WebhookSinkConfig> {
    let format = match reader.choice(
        table,
        "format",
        &["generic", "slack", "mattermost", "teams"],
    ) {
        Some((text, _)) => match text.as_str() {
            "slack" => WebhookFormat::Slack,
            "mattermost" => WebhookFormat::Mattermost,
            "teams" => WebhookFormat::Teams,
            _ => WebhookFormat::Generic,
        },
        None => WebhookFormat::Generic,
    };
    let from_secret = table.has(WEBHOOK_URL.env) || table.has(WEBHOOK_URL.file);
    let url = if table.has("url") {
        if from_secret {
            reader.error(
                &table.key_span("url"),
                format!(
                    "{} is set together with {} or {}",
                    table.key_path("url"),
                    WEBHOOK_URL.env,
                    WEBHOOK_URL.file
                ),
                "keep only one way to give the URL".to_string(),
            );
            return None;
        }
        let url = reader.required_string(table, "url", "\"https://soc.example.com/hooks/vigie\"");
        if let Some((text, span)) = &url {
            check_url(reader, table, text, span);
            if format != WebhookFormat::Generic {
                reader.warn(
                    span,
                    format!(
                        "{} of a {} webhook is the webhook's secret, and is written in the TOML",
                        table.key_path("url"),
                        format.as_str()
                    ),
                    "move the URL to a file or an environment variable and name it with \
                     url_file or url_env"
                        .to_string(),
                );
            }
        }
        url?.0
    } else if from_secret {
        let secret = read_secret(reader, table, &WEBHOOK_URL, base, env)?;
        let text = secret.expose().trim().to_string();
        if let Err(problem) = secret_url_problem(&text) {
            let key = if table.has(WEBHOOK_URL.env) {
                WEBHOOK_URL.env
            } else {
                WEBHOOK_URL.file
            };
            reader.error(
                &table.key_span(key),
                format!("the URL given by {} {problem}", table.key_path(key)),
                "put one full http or https URL there, such as \
                 \"https://hooks.slack.com/services/...\""
                    .to_string(),
            );
            return None;
        }
        text
    } else {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("url")),
            "add url = \"https://soc.example.com/hooks/vigie\", or url_env / url_file when \
             the URL is itself a secret"
                .to_string(),
        );
        return None;
    };
    let secret = read_secret(reader, table, &WEBHOOK_SECRET, base, env);
    let timeout_secs = reader.integer(table, "timeout_secs", 10, (1, 600), "seconds");
    Some(WebhookSinkConfig {
        url,
        url_is_secret: from_secret,
        format,
        secret,
        timeout_secs,
    })
}

/// Checks a URL read from a secret without quoting it back.
fn secret_url_problem(text: &str) -> Result<(), String> {
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        Ok(url) => Err(format!(
            "has scheme \"{}\", not http or https",
            url.scheme()
        )),
        Err(error) => Err(format!("is not a valid URL ({error})")),
    }
}

fn check_url(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    text: &str,
    span: &std::ops::Range<usize>,
) {
    let problem = match reqwest::Url::parse(text) {
        Ok(url) if url.password().is_some() => {
            reader.error(
                span,
                format!(
                    "{} \"{}\" contains a password, which would be stored in the TOML and \
                     printed with the URL",
                    table.key_path("url"),
                    without_user_info(text)
                ),
                "remove `user:password@` from the URL; receivers check vigie's requests by \
                 their HMAC signature (secret_env or secret_file)"
                    .to_string(),
            );
            return;
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => return,
        Ok(url) => format!("scheme \"{}\" is not http or https", url.scheme()),
        Err(error) => error.to_string(),
    };
    reader.error(
        span,
        format!(
            "invalid URL \"{}\" in {}: {problem}",
            without_user_info(text),
            table.key_path("url")
        ),
        "write a full http or https URL, such as \"https://soc.example.com/hooks/vigie\""
            .to_string(),
    );
}

/// Replaces the `user:password@` part of a URL's authority with `***@`, so that a message
/// can quote the URL without its credentials.
fn without_user_info(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_string(),
    }
}
