//! One watchlist file: a brand, the domains it legitimately owns, its allow list and the
//! routing of its alerts.

use std::collections::BTreeMap;
use std::path::Path;

use super::identity::{IDENTITY_KEYS, identity};
use super::names::normalize_domain;
use super::sections::lookalike;
use super::tree::{Reader, Table, closest};
use super::{DomainStatus, Identity, LegitDomain, LookalikeConfig, Watchlist};
use crate::model::Severity;

const ROOT_KEYS: &[&str] = &["brand", "domains", "allow", "alerts", "lookalike"];
const BRAND_KEYS: &[&str] = &["name", "keywords", "word_keywords"];
const DOMAIN_KEYS: &[&str] = &["name", "status", "watch", "note"];
const ALERTS_KEYS: &[&str] = &["sinks", "min_severity"];

/// Data a watchlist is checked against: the global `[lookalike]` section, the sink names of
/// `vigie.toml`, and the domains already listed by earlier watchlists.
pub(crate) struct Context<'a> {
    pub lookalike: &'a LookalikeConfig,
    pub sink_names: &'a [String],
    /// Each legitimate domain seen so far, with the `file:line` that listed it first.
    pub seen_domains: &'a mut BTreeMap<String, String>,
}

/// Reads a watchlist from its root table. Returns `None` when a required part is missing;
/// every problem is reported on `reader`.
pub(crate) fn watchlist(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    id: String,
    context: &mut Context<'_>,
) -> Option<Watchlist> {
    reader.check_keys(root, ROOT_KEYS);
    let file = reader.source.path.clone();
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();

    let brand_table = reader.table(root, "brand", "brand");
    if brand_table.is_none() && !root.has("brand") {
        reader.error(
            &(0..0),
            "missing [brand] table".to_string(),
            "add `[brand]` with `name = \"Example\"` and `keywords = [\"example\"]`".to_string(),
        );
    }
    let (brand, keywords, word_keywords) = match &brand_table {
        Some(table) => brand(reader, table),
        None => (None, Vec::new(), Vec::new()),
    };
    let identity = match &brand_table {
        Some(table) => identity(reader, table),
        None => Identity::default(),
    };

    let domains = domains(reader, root, context);
    let allow = allow(reader, root);
    let alerts_table = reader.table(root, "alerts", "alerts");
    let (sinks, min_severity) = alerts(reader, alerts_table.as_ref(), context.sink_names);
    let lookalike_table = reader.table(root, "lookalike", "lookalike");
    let lookalike = lookalike(reader, lookalike_table.as_ref(), context.lookalike, &base);

    Some(Watchlist {
        id,
        file,
        brand: brand?,
        keywords,
        word_keywords,
        domains,
        allow,
        sinks,
        min_severity,
        lookalike,
        identity,
    })
}

fn brand(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
) -> (Option<String>, Vec<String>, Vec<String>) {
    let known: Vec<&str> = BRAND_KEYS.iter().chain(IDENTITY_KEYS).copied().collect();
    reader.check_keys(table, &known);
    let name = reader
        .required_string(table, "name", "\"Example\"")
        .and_then(|(name, span)| {
            if name.trim().is_empty() {
                reader.error(
                    &span,
                    "brand.name is empty".to_string(),
                    "write the brand's display name".to_string(),
                );
                return None;
            }
            Some(name.trim().to_string())
        });

    let keywords = keyword_list(reader, table, "keywords", &[]);
    let word_keywords = keyword_list(reader, table, "word_keywords", &keywords);
    (name, keywords, word_keywords)
}

/// Reads a list of keywords, lower-cased and without duplicates; a keyword already in
/// `other` is an error, since one keyword cannot be both a substring and a whole word.
fn keyword_list(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    other: &[String],
) -> Vec<String> {
    let mut keywords: Vec<String> = Vec::new();
    for (keyword, span) in reader.strings(table, key) {
        let keyword = keyword.trim().to_lowercase();
        if keyword.is_empty() {
            reader.error(
                &span,
                format!("empty keyword in brand.{key}"),
                "remove the empty string".to_string(),
            );
        } else if other.contains(&keyword) {
            reader.error(
                &span,
                format!("keyword \"{keyword}\" is in both brand.keywords and brand.word_keywords"),
                "keep it in word_keywords to match it only as a whole word, or in keywords to match it anywhere".to_string(),
            );
        } else if !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }
    keywords
}

fn domains(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    context: &mut Context<'_>,
) -> Vec<LegitDomain> {
    let tables = reader.tables(root, "domains");
    if tables.is_empty() && !root.has("domains") {
        reader.error(
            &(0..0),
            "the watchlist lists no domain".to_string(),
            "add a [[domains]] table with `name = \"example.com\"` for each domain the brand owns"
                .to_string(),
        );
    }
    let mut domains = Vec::new();
    for (index, (span, entries)) in tables.into_iter().enumerate() {
        let name = format!("domains[{index}]");
        let table = Table {
            name: &name,
            span,
            entries,
        };
        if let Some(domain) = domain(reader, &table, context) {
            domains.push(domain);
        }
    }
    domains
}

fn domain(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    context: &mut Context<'_>,
) -> Option<LegitDomain> {
    reader.check_keys(table, DOMAIN_KEYS);
    let status = match reader.choice(table, "status", &["active", "old", "forgotten"]) {
        Some((text, _)) if text == "old" => DomainStatus::Old,
        Some((text, _)) if text == "forgotten" => DomainStatus::Forgotten,
        _ => DomainStatus::Active,
    };
    let watch = reader.bool(table, "watch", status == DomainStatus::Active);
    // `note` is free text for the people who edit the file.
    let _ = reader.string(table, "note");

    let (written, span) = reader.required_string(table, "name", "\"example.com\"")?;
    let name = match normalize_domain(&written) {
        Ok(name) => name,
        Err(problem) => {
            reader.error(
                &span,
                format!("{}: {}", table.key_path("name"), problem.message),
                problem.fix,
            );
            return None;
        }
    };

    // A public suffix cannot be permuted, and as a legitimate domain it would silence every
    // finding under it.
    if let Err(error) = crate::domain::split(&name) {
        reader.error(
            &span,
            format!("{}: \"{name}\": {}", table.key_path("name"), error.reason),
            "write the registrable domain the brand owns, such as \"example.co.uk\"".to_string(),
        );
        return None;
    }

    let (line, _) = reader.source.place(span.start);
    let here = format!("{}:{line}", reader.source.path.display());
    if let Some(first) = context.seen_domains.get(&name) {
        reader.error(
            &span,
            format!("domain \"{name}\" is listed twice; it is already listed at {first}"),
            "keep one entry for each domain, in the watchlist of the brand that owns it"
                .to_string(),
        );
        return None;
    }
    context.seen_domains.insert(name.clone(), here);
    Some(LegitDomain {
        name,
        status,
        watch,
    })
}

fn allow(reader: &mut Reader<'_>, root: &Table<'_, '_>) -> Vec<String> {
    let mut names = Vec::new();
    for (written, span) in reader.strings(root, "allow") {
        match normalize_domain(&written) {
            Ok(name) if !names.contains(&name) => names.push(name),
            Ok(_) => {}
            Err(problem) => reader.error(&span, format!("allow: {}", problem.message), problem.fix),
        }
    }
    names
}

fn alerts(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    sink_names: &[String],
) -> (Vec<String>, Severity) {
    let Some(table) = table else {
        return (Vec::new(), Severity::Low);
    };
    reader.check_keys(table, ALERTS_KEYS);

    let known: Vec<&str> = sink_names.iter().map(String::as_str).collect();
    let mut sinks = Vec::new();
    for (name, span) in reader.strings(table, "sinks") {
        if known.contains(&name.as_str()) {
            if !sinks.contains(&name) {
                sinks.push(name);
            }
            continue;
        }
        let fix = match (closest(&name, &known), known.is_empty()) {
            (Some(near), _) => format!("did you mean \"{near}\"?"),
            (None, true) => "define the sink as [sinks.NAME] in vigie.toml".to_string(),
            (None, false) => format!(
                "use a sink defined in vigie.toml: {}, or define [sinks.{name}] there",
                known.join(", ")
            ),
        };
        reader.error(
            &span,
            format!("unknown sink \"{name}\" in alerts.sinks"),
            fix,
        );
    }

    let levels = ["low", "medium", "high", "critical"];
    let min_severity = reader
        .choice(table, "min_severity", &levels)
        .and_then(|(text, _)| Severity::parse(&text))
        .unwrap_or(Severity::Low);
    (sinks, min_severity)
}
