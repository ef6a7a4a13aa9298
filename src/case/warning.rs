//! The warning page for customers: what the scam looks like, what the company never asks,
//! whom to contact.
//!
//! A case's page is rendered from `warning/LANG.html` in each language asked and written to
//! `WEB_ROOT/case-ID/LANG.html`, plus `index.html` in the first language. Each file is
//! written atomically (temporary file, then rename), so the web server never serves half a
//! page. Publishing and removal are events of the case.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::{Actor, CaseError, any_case, finding_domains, templates, write_atomically};
use crate::config::{Config, DomainStatus, LANGUAGES};
use crate::model::{IndicatorKind, defang};
use crate::store::Store;

/// Context of the warning templates.
#[derive(Debug, Clone, Serialize)]
pub struct PageContext {
    pub language: String,
    pub organization: String,
    pub title: String,
    pub summary: String,
    pub vector: String,
    /// Defanged domains, URLs and mail addresses of the case's confirmed findings.
    pub indicators: Vec<String>,
    /// The company's active legitimate domains.
    pub official_domains: Vec<String>,
    pub report_email: Option<String>,
    pub report_url: Option<String>,
    pub report_phone: Option<String>,
    /// Date of publication, `YYYY-MM-DD`.
    pub updated: String,
}

/// Checks a language code against the shipped templates (or an override of that name).
pub fn check_language(config: &Config, language: &str) -> Result<(), CaseError> {
    super::check_language_code(language)?;
    let name = format!("warning/{language}.html");
    if templates::exists(config.response.templates_dir.as_deref(), &name) {
        return Ok(());
    }
    Err(CaseError::Invalid(format!(
        "no warning page template for language {language:?}; use one of {} or add {name} to templates_dir",
        LANGUAGES.join(", ")
    )))
}

/// Builds the context of a case's page in `language`.
pub fn context(
    store: &Store,
    config: &Config,
    case_id: i64,
    language: &str,
    today: time::Date,
) -> Result<PageContext, CaseError> {
    let case = any_case(store, case_id)?;
    let findings = store.case_findings(case_id)?;
    let mut indicators = Vec::new();
    for finding in findings.iter().filter(|f| f.status == "confirmed") {
        let mut push = |value: &str| {
            let value = defang(value);
            if !indicators.contains(&value) {
                indicators.push(value);
            }
        };
        for domain in finding_domains(finding) {
            push(&domain);
        }
        for indicator in &finding.indicators {
            if matches!(indicator.kind, IndicatorKind::Url | IndicatorKind::Email) {
                push(&indicator.value);
            }
        }
    }
    let watchlist = findings
        .first()
        .and_then(|f| config.watchlists.iter().find(|w| w.id == f.watchlist))
        .or_else(|| config.watchlists.first());
    let official_domains = watchlist
        .map(|w| {
            w.domains
                .iter()
                .filter(|d| d.status == DomainStatus::Active)
                .map(|d| idna::domain_to_unicode(&d.name).0)
                .collect()
        })
        .unwrap_or_default();
    let response = &config.response;
    Ok(PageContext {
        language: language.to_owned(),
        organization: organization(config, watchlist.map(|w| w.brand.as_str())),
        title: case.title,
        summary: case.summary,
        vector: case.vector,
        indicators,
        official_domains,
        report_email: response.report_email.clone(),
        report_url: response.report_url.clone(),
        report_phone: response.report_phone.clone(),
        updated: today.to_string(),
    })
}

/// The name that signs pages and notices: `[response] organization`, else the brand.
pub fn organization(config: &Config, brand: Option<&str>) -> String {
    config
        .response
        .organization
        .clone()
        .or_else(|| brand.map(str::to_owned))
        .or_else(|| config.watchlists.first().map(|w| w.brand.clone()))
        .unwrap_or_else(|| "our company".to_owned())
}

/// Renders a case's page in one language.
pub fn render(
    store: &Store,
    config: &Config,
    case_id: i64,
    language: &str,
    today: time::Date,
) -> Result<String, CaseError> {
    check_language(config, language)?;
    let context = context(store, config, case_id, language, today)?;
    templates::render(
        config.response.templates_dir.as_deref(),
        &format!("warning/{language}.html"),
        &context,
    )
}

/// The folder of a case's pages under the web root.
pub fn case_folder(config: &Config, case_id: i64) -> Result<PathBuf, CaseError> {
    let root = config
        .response
        .web_root
        .as_ref()
        .ok_or_else(|| CaseError::Setting {
            setting: "[response] web_root",
            fix: "set it to the folder the web server serves the warning pages from".to_owned(),
        })?;
    if !root.is_dir() {
        return Err(CaseError::Invalid(format!(
            "web root {} is not a folder; create it or correct [response] web_root",
            root.display()
        )));
    }
    Ok(root.join(format!("case-{case_id}")))
}

/// Writes the page in every language of `languages` (the first also as `index.html`) and
/// records the event. Returns the files written.
pub fn publish(
    store: &Store,
    config: &Config,
    actor: &Actor<'_>,
    case_id: i64,
    languages: &[String],
) -> Result<Vec<PathBuf>, CaseError> {
    super::open_case(store, case_id)?;
    if languages.is_empty() {
        return Err(CaseError::Invalid(
            "no language given; pass --lang en".to_owned(),
        ));
    }
    for language in languages {
        check_language(config, language)?;
    }
    let folder = case_folder(config, case_id)?;
    std::fs::create_dir_all(&folder).map_err(|source| CaseError::Write {
        path: folder.clone(),
        source,
    })?;
    let today = actor.clock.now().date();
    // Every page is rendered before the first is written, so a template error leaves the
    // published set as it was.
    let mut pages = Vec::new();
    for language in languages {
        pages.push((language, render(store, config, case_id, language, today)?));
    }
    let mut written = Vec::new();
    for (index, (language, page)) in pages.iter().enumerate() {
        let path = folder.join(format!("{language}.html"));
        write_atomically(&path, page.as_bytes())?;
        written.push(path);
        if index == 0 {
            let index_path = folder.join("index.html");
            write_atomically(&index_path, page.as_bytes())?;
            written.push(index_path);
        }
    }
    let event = actor.event(
        "warning-published",
        format!(
            "Warning page published in {} at {}.",
            languages.join(", "),
            folder.display()
        ),
        json!({ "languages": languages, "folder": folder }),
    );
    store.add_event(case_id, &event)?;
    Ok(written)
}

/// Removes a case's pages from the web root and records the event. Returns the files removed.
pub fn unpublish(
    store: &Store,
    config: &Config,
    actor: &Actor<'_>,
    case_id: i64,
) -> Result<Vec<PathBuf>, CaseError> {
    any_case(store, case_id)?;
    let folder = case_folder(config, case_id)?;
    let removed = remove_pages(&folder)?;
    if removed.is_empty() {
        return Err(CaseError::Invalid(format!(
            "case {case_id} has no published page in {}",
            folder.display()
        )));
    }
    let event = actor.event(
        "warning-unpublished",
        format!("Warning page removed from {}.", folder.display()),
        json!({ "folder": folder }),
    );
    store.add_event(case_id, &event)?;
    Ok(removed)
}

/// Removes the pages vigie writes (`LANG.html`, `index.html`) and the folder when empty.
fn remove_pages(folder: &Path) -> Result<Vec<PathBuf>, CaseError> {
    let mut removed = Vec::new();
    let names = LANGUAGES
        .iter()
        .map(|language| format!("{language}.html"))
        .chain(std::iter::once("index.html".to_owned()));
    for name in names {
        let path = folder.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CaseError::Write { path, source }),
        }
    }
    // A folder still holding other files (added by hand) is left in place.
    let _ = std::fs::remove_dir(folder);
    Ok(removed)
}
