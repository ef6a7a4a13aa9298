//! The `[response]` section of `vigie.toml` and the contacts directory (`contacts.toml`).
//!
//! `[response]` holds what the response commands need: the web root of the warning page,
//! the relay and sender of takedown notices, the deadlines, and where the contacts directory
//! and the template overrides are. The contacts directory is its own TOML file, by default
//! `contacts.toml` in the watchlists folder (which is why no watchlist can be called
//! `contacts`); its errors carry their `file:line` like every other file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::error::ConfigError;
use super::names::{check_mail_address, normalize_domain};
use super::tree::{Reader, Source, Table};
use super::{Contact, ContactChannel, ContactRole, ResponseConfig};

const RESPONSE_KEYS: &[&str] = &[
    "web_root",
    "templates_dir",
    "contacts_file",
    "sink",
    "sender",
    "reply_to",
    "organization",
    "report_email",
    "report_url",
    "report_phone",
    "language",
    "answer_hours",
    "followups_before_escalation",
    "recovery_interval_secs",
    "recovery_timeout_secs",
    "recovery_private_addresses",
    "dkim_selectors",
];
const CONTACT_KEYS: &[&str] = &[
    "id",
    "name",
    "role",
    "email",
    "web_form",
    "phone",
    "languages",
    "preferred",
    "country",
    "covers",
    "note",
];

/// Languages the shipped templates are written in.
pub const LANGUAGES: &[&str] = &["en", "fr", "de", "es"];

/// File name of the contacts directory in the watchlists folder.
pub const CONTACTS_FILE: &str = "contacts.toml";

/// Reads `[response]`; `sink_names` are the SMTP sinks defined in `vigie.toml`.
pub(crate) fn response(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    watchlists_dir: &Path,
    smtp_sinks: &[String],
) -> ResponseConfig {
    let mut config = ResponseConfig::with_contacts_file(watchlists_dir.join(CONTACTS_FILE));
    let Some(table) = table else {
        config.sink = smtp_sinks.first().cloned();
        return config;
    };
    reader.check_keys(table, RESPONSE_KEYS);

    let path = |reader: &mut Reader<'_>, key: &str| {
        reader.string(table, key).map(|(text, _)| base.join(text))
    };
    config.web_root = path(reader, "web_root");
    config.templates_dir = path(reader, "templates_dir");
    if let Some(file) = path(reader, "contacts_file") {
        config.contacts_file = file;
        config.contacts_file_required = true;
    }
    config.sink = sink(reader, table, smtp_sinks);
    config.sender = address(reader, table, "sender");
    config.reply_to = address(reader, table, "reply_to");
    config.organization = reader.string(table, "organization").map(|(text, _)| text);
    config.report_email = address(reader, table, "report_email");
    config.report_url = reader.string(table, "report_url").map(|(text, _)| text);
    config.report_phone = reader.string(table, "report_phone").map(|(text, _)| text);
    if let Some((language, _)) = reader.choice(table, "language", LANGUAGES) {
        config.language = language;
    }
    config.answer_hours = reader.integer(table, "answer_hours", 48, (1, 24 * 90), "hours");
    config.followups_before_escalation = reader.integer(
        table,
        "followups_before_escalation",
        2,
        (0, 20),
        "follow-ups",
    ) as u32;
    config.recovery_interval_secs = reader.integer(
        table,
        "recovery_interval_secs",
        3600,
        (10, 7 * 86_400),
        "seconds",
    );
    config.recovery_timeout_secs =
        reader.integer(table, "recovery_timeout_secs", 10, (1, 300), "seconds");
    config.recovery_private_addresses = reader.bool(table, "recovery_private_addresses", false);
    config.dkim_selectors = dkim_selectors(reader, table);
    config
}

/// Reads `dkim_selectors`: `"selector"` or `"domain:selector"`.
fn dkim_selectors(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    let mut selectors = Vec::new();
    for (text, span) in reader.strings(table, "dkim_selectors") {
        let selector = text.rsplit(':').next().unwrap_or_default();
        let valid = !selector.is_empty()
            && selector.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid {
            selectors.push(text.to_ascii_lowercase());
        } else {
            reader.error(
                &span,
                format!("invalid DKIM selector \"{text}\" in response.dkim_selectors"),
                "write a selector such as \"s1\", or \"example.com:s1\" for one domain".to_string(),
            );
        }
    }
    selectors
}

/// Reads `sink`, which must name an SMTP sink; defaults to the first SMTP sink.
fn sink(reader: &mut Reader<'_>, table: &Table<'_, '_>, smtp_sinks: &[String]) -> Option<String> {
    let Some((name, span)) = reader.string(table, "sink") else {
        return smtp_sinks.first().cloned();
    };
    if smtp_sinks.contains(&name) {
        return Some(name);
    }
    let fix = if smtp_sinks.is_empty() {
        "define an SMTP sink as [sinks.NAME] with type = \"smtp\" in vigie.toml".to_string()
    } else {
        format!("use one of the SMTP sinks: {}", smtp_sinks.join(", "))
    };
    reader.error(
        &span,
        format!("response.sink \"{name}\" is not an SMTP sink of vigie.toml"),
        fix,
    );
    None
}

fn address(reader: &mut Reader<'_>, table: &Table<'_, '_>, key: &str) -> Option<String> {
    let (text, span) = reader.string(table, key)?;
    match check_mail_address(&text) {
        Ok(()) => Some(text),
        Err(problem) => {
            reader.error(
                &span,
                format!("{}: {}", table.key_path(key), problem.message),
                problem.fix,
            );
            None
        }
    }
}

/// Reads the contacts directory at `path`. A missing file is an error only when
/// `required` (the configuration named it); otherwise the directory is empty.
pub(crate) fn contacts(path: &Path, required: bool, errors: &mut Vec<ConfigError>) -> Vec<Contact> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
            return Vec::new();
        }
        Err(error) => {
            errors.push(ConfigError::without_place(
                path,
                format!("cannot read the contacts directory: {error}"),
                "create the file, or correct response.contacts_file".to_string(),
            ));
            return Vec::new();
        }
    };
    let source = Source::new(path, text);
    let (root, syntax) = DeTable::parse_recoverable(&source.text);
    if !syntax.is_empty() {
        for error in &syntax {
            let span = error.span().unwrap_or(0..0);
            errors.push(source.error(
                &span,
                format!("invalid TOML: {}", error.message().trim_end()),
                "correct the TOML syntax at this place".to_string(),
            ));
        }
        return Vec::new();
    }
    let root = Table {
        name: "",
        span: 0..0,
        entries: root.get_ref(),
    };
    let mut reader = Reader::new(&source);
    reader.check_keys(&root, &["contact"]);
    let mut contacts: Vec<Contact> = Vec::new();
    for (index, (span, entries)) in reader.tables(&root, "contact").into_iter().enumerate() {
        let name = format!("contact[{index}]");
        let table = Table {
            name: &name,
            span: span.clone(),
            entries,
        };
        if let Some(contact) = contact(&mut reader, &table) {
            if contacts.iter().any(|known| known.id == contact.id) {
                reader.error(
                    &span,
                    format!("contact id \"{}\" is used twice", contact.id),
                    "give each [[contact]] its own id".to_string(),
                );
                continue;
            }
            contacts.push(contact);
        }
    }
    errors.append(&mut reader.errors);
    contacts
}

fn contact(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Option<Contact> {
    reader.check_keys(table, CONTACT_KEYS);
    let errors_before = reader.errors.len();
    let id = reader.required_string(table, "id", "\"hoster-abuse\"");
    if let Some((id, span)) = &id {
        check_id(reader, id, span);
    }
    let name = reader
        .string(table, "name")
        .map(|(name, _)| name)
        .or_else(|| id.as_ref().map(|(id, _)| id.clone()));
    let role = role(reader, table);
    let email = address(reader, table, "email");
    let web_form = reader.string(table, "web_form").map(|(text, _)| text);
    let phone = reader.string(table, "phone").map(|(text, _)| text);
    let languages = languages(reader, table);
    let preferred = match reader.choice(table, "preferred", &["email", "web-form", "phone"]) {
        Some((text, _)) if text == "web-form" => ContactChannel::WebForm,
        Some((text, _)) if text == "phone" => ContactChannel::Phone,
        _ => ContactChannel::Email,
    };
    let country = country(reader, table);
    let covers = covers(reader, table);
    let note = reader
        .string(table, "note")
        .map(|(text, _)| text)
        .unwrap_or_default();

    if !["email", "web_form", "phone"]
        .iter()
        .any(|key| table.has(key))
    {
        reader.error(
            &table.span,
            format!("[[contact]] {} gives no way to reach it", table.name),
            "add email, web_form or phone".to_string(),
        );
    }
    if role == Some(ContactRole::Cert) && country.is_none() {
        reader.error(
            &table.key_span("role"),
            format!("{} is a CERT without a country", table.name),
            "add `country = \"FR\"` (ISO 3166 two-letter code) so that escalation can find it"
                .to_string(),
        );
    }
    if reader.errors.len() != errors_before {
        return None;
    }
    Some(Contact {
        id: id?.0,
        name: name?,
        role: role?,
        email,
        web_form,
        phone,
        languages,
        preferred,
        country,
        covers,
        note,
    })
}

fn check_id(reader: &mut Reader<'_>, id: &str, span: &Range<usize>) {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        reader.error(
            span,
            format!("invalid contact id \"{id}\""),
            "use letters, digits, '-' and '_' only, such as \"hoster-abuse\"".to_string(),
        );
    }
}

fn role(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Option<ContactRole> {
    let names: Vec<&str> = ContactRole::ALL.iter().map(|role| role.as_str()).collect();
    if !table.has("role") {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("role")),
            format!("add `role = \"hosting\"`; roles: {}", names.join(", ")),
        );
        return None;
    }
    let (text, _) = reader.choice(table, "role", &names)?;
    ContactRole::parse(&text)
}

fn languages(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    let mut languages = Vec::new();
    for (text, span) in reader.strings(table, "languages") {
        let code = text.trim().to_ascii_lowercase();
        let valid = code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase());
        if !valid {
            reader.error(
                &span,
                format!(
                    "invalid language \"{text}\" in {}",
                    table.key_path("languages")
                ),
                "write ISO 639-1 two-letter codes, such as \"fr\"".to_string(),
            );
        } else if !languages.contains(&code) {
            languages.push(code);
        }
    }
    languages
}

fn country(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Option<String> {
    let (text, span) = reader.string(table, "country")?;
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
        return Some(code);
    }
    reader.error(
        &span,
        format!(
            "invalid country \"{text}\" in {}",
            table.key_path("country")
        ),
        "write an ISO 3166 two-letter code, such as \"FR\"".to_string(),
    );
    None
}

/// Reads `covers`: domains (and host suffixes) that the contact answers for.
fn covers(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Vec<String> {
    let mut names = Vec::new();
    for (text, span) in reader.strings(table, "covers") {
        let written = text.trim().trim_start_matches('.');
        // A bare TLD (a registry's zone) is not a registrable domain, so it is only checked
        // for its characters.
        let normalized = if written.contains('.') {
            normalize_domain(written).map_err(|problem| problem.message)
        } else {
            idna::domain_to_ascii(written).map_err(|error| error.to_string())
        };
        match normalized {
            Ok(name) if !name.is_empty() => names.push(name),
            Ok(_) | Err(_) => reader.error(
                &span,
                format!("invalid name \"{text}\" in {}", table.key_path("covers")),
                "write domain names such as \"hoster.example\" or a TLD such as \"fr\"".to_string(),
            ),
        }
    }
    names
}

impl ResponseConfig {
    /// The defaults, with the contacts directory at `contacts_file`.
    pub fn with_contacts_file(contacts_file: PathBuf) -> ResponseConfig {
        ResponseConfig {
            contacts_file,
            ..ResponseConfig::default()
        }
    }
}
