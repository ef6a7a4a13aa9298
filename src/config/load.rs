//! Loading: reads `vigie.toml`, then every watchlist, and gathers every error of every file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::error::{ConfigError, ConfigErrors};
use super::inbox::{self, WatchlistRef};
use super::secrets::EnvLookup;
use super::tree::{Reader, Source, Table};
use super::watchlist::{Context, watchlist};
use super::web;
use super::{Config, LookalikeConfig, Watchlist, sections, sinks};
use super::{ct, evidence, health, mail, nrd};

const ROOT_KEYS: &[&str] = &[
    "daemon",
    "dns",
    "lookalike",
    "dispatcher",
    "sinks",
    "nrd",
    "feed",
    "scam_repository",
    "social",
    "health",
    "mail",
    "ct",
    "fetch",
    "evidence",
    "rdap",
    "response",
    "inbox",
    "intake",
];

/// A loaded configuration and the warnings met on the way (such as a secret file that other
/// users can read), which do not stop the daemon.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigError>,
}

/// Reads `vigie.toml` at `path`, every `*.toml` of its watchlists folder (sorted by name) and
/// the secrets they name, and checks everything.
///
/// Returns every error of every file, not only the first. Warnings are logged.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let lookup = |name: &str| std::env::var(name).ok();
    let loaded = load_with_env(path, &lookup)?;
    for warning in &loaded.warnings {
        tracing::warn!(
            file = %warning.file.display(),
            line = warning.line,
            message = %warning.message,
            fix = %warning.fix,
            "Configuration warning."
        );
    }
    Ok(loaded.config)
}

/// Same as [`load`], with environment variables read through `env`, and the warnings returned
/// rather than logged.
pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Loaded, ConfigErrors> {
    let source = read_source(path).map_err(|error| ConfigErrors::new(vec![error]))?;
    let base = parent_folder(path);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    let (root, syntax) = DeTable::parse_recoverable(&source.text);
    let root = Table {
        name: "",
        span: 0..0,
        entries: root.get_ref(),
    };
    let mut reader = Reader::new(&source);
    let mut main = main_file(&mut reader, &root, &base, env);
    if syntax.is_empty() {
        errors.append(&mut reader.errors);
    } else {
        // The tree recovered after a syntax error may lack whole tables, so its schema errors
        // would mislead. Only the syntax errors are reported for this file.
        errors.extend(syntax.iter().map(|error| syntax_error(&source, error)));
    }
    warnings.append(&mut reader.warnings);

    let mut response = main.response.clone();
    response.contacts = super::response::contacts(
        &response.contacts_file,
        response.contacts_file_required,
        &mut errors,
    );
    let files = watchlist_files(&source, &main, &mut errors);
    let reference_checks = std::mem::take(&mut main.reference_checks);
    let mut context_domains = BTreeMap::new();
    let mut context = Context {
        lookalike: &main.lookalike,
        sink_names: &main.sink_names,
        seen_domains: &mut context_domains,
    };
    let mut watchlists = Vec::new();
    for file in files {
        if let Some(list) = watchlist_file(&file, &mut context, &mut errors, &mut warnings) {
            watchlists.push(list);
        }
    }
    if syntax.is_empty() {
        check_watchlist_refs(&source, &main.watchlist_refs, &watchlists, &mut errors);
    }

    for (watchlist, error) in reference_checks {
        if !watchlists.iter().any(|w: &Watchlist| w.id == watchlist) {
            errors.push(error);
        }
    }

    if !errors.is_empty() {
        return Err(ConfigErrors::new(errors));
    }
    let config = Config {
        path: path.to_path_buf(),
        daemon: main.daemon,
        dns: main.dns,
        lookalike: main.lookalike,
        dispatcher: main.dispatcher,
        health: main.health,
        sinks: main.sinks,
        sink_policies: main.sink_policies,
        nrd: main.nrd,
        feeds: main.feeds,
        scam_repositories: main.scam_repositories,
        social: main.social,
        inboxes: main.inboxes,
        intake: main.intake,
        mail: main.mail,
        ct: main.ct,
        fetch: main.fetch,
        evidence: main.evidence,
        rdap: main.rdap,
        watchlists,
        response,
    };
    Ok(Loaded { config, warnings })
}

/// The sections of `vigie.toml`, read before the watchlists that depend on them.
struct MainFile {
    daemon: super::DaemonConfig,
    dns: super::DnsConfig,
    lookalike: LookalikeConfig,
    dispatcher: super::DispatcherConfig,
    health: super::HealthConfig,
    sinks: BTreeMap<String, super::SinkConfig>,
    sink_policies: BTreeMap<String, crate::alert::policy::SinkPolicy>,
    nrd: BTreeMap<String, super::NrdConfig>,
    feeds: BTreeMap<String, super::FeedConfig>,
    scam_repositories: BTreeMap<String, super::ScamRepositoryConfig>,
    social: BTreeMap<String, super::SocialConfig>,
    inboxes: BTreeMap<String, super::InboxConfig>,
    intake: Option<super::IntakeConfig>,
    /// `watchlist` keys of the inboxes and the intake, checked once the watchlists are read.
    watchlist_refs: Vec<WatchlistRef>,
    mail: super::MailConfig,
    ct: Option<super::CtConfig>,
    fetch: super::FetchConfig,
    evidence: super::EvidenceConfig,
    rdap: super::RdapConfig,
    /// Watchlists named by `[[evidence.reference]]`, checked once the watchlists are read.
    reference_checks: Vec<evidence::WatchlistCheck>,
    response: super::ResponseConfig,
    /// Every sink name defined, including those of sinks with errors.
    sink_names: Vec<String>,
    /// Span of the `watchlists_dir` value, where folder errors are reported.
    watchlists_dir_span: Range<usize>,
}

fn main_file(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    base: &Path,
    env: EnvLookup<'_>,
) -> MainFile {
    reader.check_keys(root, ROOT_KEYS);
    let daemon_table = reader.table(root, "daemon", "daemon");
    let dns_table = reader.table(root, "dns", "dns");
    let lookalike_table = reader.table(root, "lookalike", "lookalike");
    let dispatcher_table = reader.table(root, "dispatcher", "dispatcher");
    let sinks_table = reader.table(root, "sinks", "sinks");
    let nrd_table = reader.table(root, "nrd", "nrd");
    let feed_table = reader.table(root, "feed", "feed");
    let scam_table = reader.table(root, "scam_repository", "scam_repository");
    let social_table = reader.table(root, "social", "social");
    let health_table = reader.table(root, "health", "health");
    let mail_table = reader.table(root, "mail", "mail");
    let ct_table = reader.table(root, "ct", "ct");
    let fetch_table = reader.table(root, "fetch", "fetch");
    let evidence_table = reader.table(root, "evidence", "evidence");
    let rdap_table = reader.table(root, "rdap", "rdap");
    let response_table = reader.table(root, "response", "response");
    let inbox_table = reader.table(root, "inbox", "inbox");
    let intake_table = reader.table(root, "intake", "intake");

    let watchlists_dir_span = daemon_table
        .as_ref()
        .and_then(|table| table.get("watchlists_dir"))
        .map_or(0..0, |(_, value)| value.span());
    let defaults = sections::default_lookalike();
    let (sinks, sink_names, sink_policies) = sinks::sinks(reader, sinks_table.as_ref(), base, env);
    let mut reference_checks = Vec::new();
    let evidence = evidence::evidence(reader, evidence_table.as_ref(), base, &mut reference_checks);
    let daemon = sections::daemon(reader, daemon_table.as_ref(), base, env);
    let smtp_sinks: Vec<String> = sinks
        .iter()
        .filter(|(_, sink)| matches!(sink, super::SinkConfig::Smtp(_)))
        .map(|(name, _)| name.clone())
        .collect();
    let response = super::response::response(
        reader,
        response_table.as_ref(),
        base,
        &daemon.watchlists_dir,
        &smtp_sinks,
    );
    let mut watchlist_refs = Vec::new();
    let inboxes = inbox::inboxes(reader, inbox_table.as_ref(), base, env, &mut watchlist_refs);
    let intake = inbox::intake(
        reader,
        intake_table.as_ref(),
        base,
        env,
        &mut watchlist_refs,
    );
    MainFile {
        daemon,
        response,
        dns: sections::dns(reader, dns_table.as_ref()),
        lookalike: sections::lookalike(reader, lookalike_table.as_ref(), &defaults, base),
        dispatcher: sections::dispatcher(reader, dispatcher_table.as_ref()),
        health: health::health(reader, health_table.as_ref(), &sink_names),
        sinks,
        sink_policies,
        nrd: nrd::nrd_lists(reader, nrd_table.as_ref(), base),
        feeds: web::feeds(reader, feed_table.as_ref()),
        scam_repositories: web::scam_repositories(reader, scam_table.as_ref()),
        social: web::socials(reader, social_table.as_ref(), base, env),
        inboxes,
        intake,
        watchlist_refs,
        mail: mail::mail(reader, mail_table.as_ref()),
        ct: ct::ct(reader, ct_table.as_ref(), base),
        fetch: evidence::fetch(reader, fetch_table.as_ref(), base),
        evidence,
        reference_checks,
        rdap: evidence::rdap(reader, rdap_table.as_ref(), base),
        sink_names,
        watchlists_dir_span,
    }
}

/// Reports every `watchlist` key of an inbox or of the intake that names no watchlist file.
fn check_watchlist_refs(
    source: &Source,
    refs: &[WatchlistRef],
    watchlists: &[Watchlist],
    errors: &mut Vec<ConfigError>,
) {
    for reference in refs {
        if watchlists.iter().any(|list| list.id == reference.name) {
            continue;
        }
        let known: Vec<&str> = watchlists.iter().map(|list| list.id.as_str()).collect();
        errors.push(source.error(
            &reference.span,
            format!(
                "{} names watchlist \"{}\", which does not exist",
                reference.key_path, reference.name
            ),
            format!(
                "use the file stem of a watchlist ({}), or remove the key",
                if known.is_empty() {
                    "none is loaded".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
}

fn read_source(path: &Path) -> Result<Source, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Source::new(path, text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ConfigError::without_place(
                path,
                "file not found".to_string(),
                "check the path, or pass another one with --config or $VIGIE_CONFIG".to_string(),
            ))
        }
        Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
            Err(ConfigError::without_place(
                path,
                "file is not valid UTF-8".to_string(),
                "save the file as UTF-8".to_string(),
            ))
        }
        Err(error) => Err(ConfigError::without_place(
            path,
            format!("cannot read file: {error}"),
            "make the file readable by the user vigie runs as".to_string(),
        )),
    }
}

/// Returns the folder holding `path`, from which relative paths in that file are taken.
fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn syntax_error(source: &Source, error: &toml::de::Error) -> ConfigError {
    let span = error.span().unwrap_or(0..0);
    source.error(
        &span,
        format!("invalid TOML: {}", error.message().trim_end()),
        "correct the TOML syntax at this place".to_string(),
    )
}

/// Lists the watchlist files, sorted by name; a missing or empty folder is an error reported
/// on the `watchlists_dir` line of `vigie.toml`.
fn watchlist_files(
    source: &Source,
    main: &MainFile,
    errors: &mut Vec<ConfigError>,
) -> Vec<PathBuf> {
    let dir = &main.daemon.watchlists_dir;
    let span = &main.watchlists_dir_span;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            let message = if error.kind() == std::io::ErrorKind::NotFound {
                format!("watchlists folder {} not found", dir.display())
            } else {
                format!("cannot read watchlists folder {}: {error}", dir.display())
            };
            errors.push(source.error(
                span,
                message,
                "create the folder with one .toml file for each brand, or set daemon.watchlists_dir"
                    .to_string(),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        // A listed entry that does not exist is a dangling symlink: it is kept so that reading
        // it reports the missing target rather than dropping a watchlist without a word.
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "toml") && (path.is_file() || !path.exists())
        })
        // The contacts directory may sit beside the watchlists; it is not one of them.
        .filter(|path| *path != main.response.contacts_file)
        .collect();
    files.sort();
    if files.is_empty() {
        errors.push(source.error(
            span,
            format!("watchlists folder {} holds no .toml file", dir.display()),
            "add a watchlist such as example.toml, or set daemon.watchlists_dir to the right folder"
                .to_string(),
        ));
    }
    files
}

fn watchlist_file(
    path: &Path,
    context: &mut Context<'_>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) -> Option<Watchlist> {
    let source = match read_source(path) {
        Ok(source) => source,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let (root, syntax) = DeTable::parse_recoverable(&source.text);
    if !syntax.is_empty() {
        errors.extend(syntax.iter().map(|error| syntax_error(&source, error)));
        return None;
    }
    let root = Table {
        name: "",
        span: 0..0,
        entries: root.get_ref(),
    };
    let id = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();

    let mut reader = Reader::new(&source);
    reader.top_level_values = &["allow"];
    let list = watchlist(&mut reader, &root, id, context);
    warnings.append(&mut reader.warnings);
    if reader.errors.is_empty() {
        list
    } else {
        errors.append(&mut reader.errors);
        None
    }
}
