//! Templates of the warning page, the takedown notices and the case report.
//!
//! The built-in templates (the repository's `templates/` folder) are compiled into the
//! binary; a file of the same name under `[response] templates_dir` replaces one. They are
//! minijinja (Jinja2) templates: `.html` templates escape every value, the others do not.
//! A template that does not parse or render gives an error naming it and the line.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::CaseError;

/// The built-in templates, by name.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "warning/en.html",
        include_str!("../../templates/warning/en.html"),
    ),
    (
        "warning/fr.html",
        include_str!("../../templates/warning/fr.html"),
    ),
    (
        "warning/de.html",
        include_str!("../../templates/warning/de.html"),
    ),
    (
        "warning/es.html",
        include_str!("../../templates/warning/es.html"),
    ),
    (
        "takedown/en.txt",
        include_str!("../../templates/takedown/en.txt"),
    ),
    (
        "takedown/fr.txt",
        include_str!("../../templates/takedown/fr.txt"),
    ),
    (
        "takedown/de.txt",
        include_str!("../../templates/takedown/de.txt"),
    ),
    (
        "takedown/es.txt",
        include_str!("../../templates/takedown/es.txt"),
    ),
    (
        "report/case.md",
        include_str!("../../templates/report/case.md"),
    ),
    (
        "report/case.html",
        include_str!("../../templates/report/case.html"),
    ),
];

/// Largest template file read from `templates_dir`.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// Renders template `name` with `context`, taking it from `overrides` when that folder holds
/// a file of that name.
pub fn render(
    overrides: Option<&Path>,
    name: &str,
    context: &impl Serialize,
) -> Result<String, CaseError> {
    let source = source(overrides, name)?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_keep_trailing_newline(true);
    env.add_template_owned(name.to_owned(), source)
        .map_err(|error| template_error(name, &error))?;
    let template = env
        .get_template(name)
        .map_err(|error| template_error(name, &error))?;
    template
        .render(context)
        .map_err(|error| template_error(name, &error))
}

/// Tells whether a template of this name exists (built in or overridden).
pub fn exists(overrides: Option<&Path>, name: &str) -> bool {
    overrides.is_some_and(|dir| dir.join(name).is_file())
        || BUILT_IN.iter().any(|(known, _)| *known == name)
}

fn source(overrides: Option<&Path>, name: &str) -> Result<String, CaseError> {
    if let Some(dir) = overrides {
        let path = dir.join(name);
        if path.is_file() {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_TEMPLATE_BYTES {
                return Err(CaseError::Template {
                    name: path.display().to_string(),
                    reason: format!(
                        "the file is {size} bytes, over the {MAX_TEMPLATE_BYTES} byte limit"
                    ),
                });
            }
            return std::fs::read_to_string(&path).map_err(|error| CaseError::Template {
                name: path.display().to_string(),
                reason: format!("cannot read it: {error}"),
            });
        }
    }
    BUILT_IN
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| (*text).to_owned())
        .ok_or_else(|| CaseError::Template {
            name: name.to_owned(),
            reason: "no such template".to_owned(),
        })
}

fn template_error(name: &str, error: &minijinja::Error) -> CaseError {
    let place = error
        .line()
        .map(|line| format!(" at line {line}"))
        .unwrap_or_default();
    let detail = error
        .detail()
        .map(|detail| format!(": {detail}"))
        .unwrap_or_default();
    CaseError::Template {
        name: name.to_owned(),
        reason: format!("{}{place}{detail}", error.kind()),
    }
}
