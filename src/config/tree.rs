//! Typed reads from a parsed TOML tree that keep the span of every key and value.
//!
//! The files are parsed with `toml::de::DeTable` rather than through serde, because a derived
//! `Deserialize` stops at the first error. Walking the tree lets one pass report every
//! unknown key, wrong type and bad value with its line and column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::ConfigError;

/// One configuration file's text, with the line starts needed to turn spans into places.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Source {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Source {
            path: path.to_path_buf(),
            text,
            line_starts,
        }
    }

    /// Returns the 1-based line and column (in characters) of a byte offset.
    pub fn place(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |prefix| prefix.chars().count() + 1);
        (line, column)
    }

    pub fn error(&self, span: &Range<usize>, message: String, fix: String) -> ConfigError {
        let (line, column) = self.place(span.start);
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            message,
            fix,
        }
    }
}

/// A TOML table with the dotted name used in messages (`dns`, `sinks.soc-mail`, `domains[2]`).
#[derive(Clone)]
pub(crate) struct Table<'t, 'i> {
    pub name: &'t str,
    /// Span of the table: its `[header]` for a standard table, the whole file for the root.
    pub span: Range<usize>,
    pub entries: &'t DeTable<'i>,
}

impl<'t, 'i> Table<'t, 'i> {
    pub fn get(&self, key: &str) -> Option<(&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>)> {
        self.entries.get_key_value(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Returns `section.key`, or `key` alone for the top-level table.
    pub fn key_path(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.name)
        }
    }

    /// Returns the span of a key, or of the table itself when the key is absent.
    pub fn key_span(&self, key: &str) -> Range<usize> {
        self.get(key)
            .map_or_else(|| self.span.clone(), |(k, _)| k.span())
    }
}

/// Collects the errors and warnings of one file while its tables are read.
pub(crate) struct Reader<'s> {
    pub source: &'s Source,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
    /// Top-level keys that are not tables. Found inside a table, such a key was written
    /// after a `[header]`, so TOML put it in that table; the error says to move it up.
    pub top_level_values: &'static [&'static str],
}

impl<'s> Reader<'s> {
    pub fn new(source: &'s Source) -> Reader<'s> {
        Reader {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
            top_level_values: &[],
        }
    }

    pub fn error(&mut self, span: &Range<usize>, message: String, fix: String) {
        let error = self.source.error(span, message, fix);
        self.errors.push(error);
    }

    pub fn warn(&mut self, span: &Range<usize>, message: String, fix: String) {
        let warning = self.source.error(span, message, fix);
        self.warnings.push(warning);
    }

    /// Reports every key of `table` that is not in `known`, with the closest known key.
    pub fn check_keys(&mut self, table: &Table<'_, '_>, known: &[&str]) {
        for key in table.entries.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            if !table.name.is_empty() && self.top_level_values.contains(&name) {
                self.error(
                    &key.span(),
                    format!(
                        "`{name}` follows the [{}] header, so TOML reads it as a key of that table",
                        table.name
                    ),
                    format!("move the `{name} = ...` line above the first [table] of the file"),
                );
                continue;
            }
            let place = if table.name.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", table.name)
            };
            let fix = match closest(name, known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("remove it; known keys here: {}", known.join(", ")),
            };
            self.error(&key.span(), format!("unknown key `{name}` {place}"), fix);
        }
    }

    /// Reads an optional sub-table; a value of another type is an error.
    pub fn table<'t, 'i>(
        &mut self,
        parent: &Table<'t, 'i>,
        key: &str,
        name: &'t str,
    ) -> Option<Table<'t, 'i>> {
        let (_, value) = parent.get(key)?;
        match value.get_ref() {
            DeValue::Table(entries) => Some(Table {
                name,
                span: value.span(),
                entries,
            }),
            other => {
                self.wrong_type(parent, key, value, other, "a table");
                None
            }
        }
    }

    /// Reads an optional array of tables (`[[key]]`), returning each table with its span.
    pub fn tables<'t, 'i>(
        &mut self,
        parent: &Table<'t, 'i>,
        key: &str,
    ) -> Vec<(Range<usize>, &'t DeTable<'i>)> {
        let Some((_, value)) = parent.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.error(
                &value.span(),
                format!(
                    "{} must be an array of tables, found {}",
                    parent.key_path(key),
                    type_name(value.get_ref())
                ),
                format!("write each entry under its own [[{key}]] header"),
            );
            return Vec::new();
        };
        let mut tables = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(entries) => tables.push((item.span(), entries)),
                other => self.error(
                    &item.span(),
                    format!(
                        "{}[{index}] must be a table, found {}",
                        parent.key_path(key),
                        type_name(other)
                    ),
                    format!("write each entry as a [[{key}]] table"),
                ),
            }
        }
        tables
    }

    pub fn string(&mut self, table: &Table<'_, '_>, key: &str) -> Option<(String, Range<usize>)> {
        let (_, value) = table.get(key)?;
        match value.get_ref() {
            DeValue::String(text) => Some((text.to_string(), value.span())),
            other => {
                self.wrong_type(table, key, value, other, "a string");
                None
            }
        }
    }

    /// Reads a required string; reports it as missing when absent.
    pub fn required_string(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        example: &str,
    ) -> Option<(String, Range<usize>)> {
        if !table.has(key) {
            self.error(
                &table.span,
                format!("missing key `{}`", table.key_path(key)),
                format!("add `{key} = {example}`"),
            );
            return None;
        }
        self.string(table, key)
    }

    pub fn bool(&mut self, table: &Table<'_, '_>, key: &str, default: bool) -> bool {
        let Some((_, value)) = table.get(key) else {
            return default;
        };
        match value.get_ref() {
            DeValue::Boolean(flag) => *flag,
            other => {
                self.wrong_type(table, key, value, other, "true or false");
                default
            }
        }
    }

    /// Reads an integer that must lie in `min..=max`; `unit` (may be empty) is named in
    /// messages.
    pub fn integer(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        default: u64,
        (min, max): (u64, u64),
        unit: &str,
    ) -> u64 {
        let Some((_, value)) = table.get(key) else {
            return default;
        };
        let DeValue::Integer(number) = value.get_ref() else {
            self.wrong_type(table, key, value, value.get_ref(), "an integer");
            return default;
        };
        let parsed = i128::from_str_radix(number.as_str(), number.radix()).ok();
        match parsed {
            Some(n) if n >= i128::from(min) && n <= i128::from(max) => n as u64,
            _ => {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                };
                self.error(
                    &value.span(),
                    format!(
                        "{} must be between {min} and {max}{unit}, found {number}",
                        table.key_path(key)
                    ),
                    format!(
                        "write a value from {min} to {max}, or remove the key to use the default, {default}"
                    ),
                );
                default
            }
        }
    }

    /// Reads one of a fixed set of strings.
    pub fn choice(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        choices: &[&str],
    ) -> Option<(String, Range<usize>)> {
        let (text, span) = self.string(table, key)?;
        if choices.contains(&text.as_str()) {
            return Some((text, span));
        }
        let fix = match closest(&text, choices) {
            Some(near) => format!(
                "did you mean \"{near}\"? Use one of: {}",
                choices.join(", ")
            ),
            None => format!("use one of: {}", choices.join(", ")),
        };
        self.error(
            &span,
            format!("invalid value \"{text}\" for {}", table.key_path(key)),
            fix,
        );
        None
    }

    /// Reads an array of strings, returning each with its span; other items are reported.
    pub fn strings(&mut self, table: &Table<'_, '_>, key: &str) -> Vec<(String, Range<usize>)> {
        let Some((_, value)) = table.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(table, key, value, value.get_ref(), "an array of strings");
            return Vec::new();
        };
        let mut strings = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(text) => strings.push((text.to_string(), item.span())),
                other => self.error(
                    &item.span(),
                    format!(
                        "{} must hold only strings, found {}",
                        table.key_path(key),
                        type_name(other)
                    ),
                    "put the item in double quotes".to_string(),
                ),
            }
        }
        strings
    }

    fn wrong_type(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        found: &DeValue<'_>,
        expected: &str,
    ) {
        self.error(
            &value.span(),
            format!(
                "{} must be {expected}, found {}",
                table.key_path(key),
                type_name(found)
            ),
            format!("write {expected} for `{key}`"),
        );
    }
}

pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Returns the known name closest to `name`, if one is close enough to be a likely typo.
pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}
