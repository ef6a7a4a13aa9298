//! Configuration errors: one [`ConfigError`] per problem, each with its file, line and column
//! and what to write instead, gathered in [`ConfigErrors`] so that one run reports them all.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a configuration or watchlist file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no place in a file (e.g. a missing file).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// Description of the problem, naming the key or value.
    pub message: String,
    /// Text or action that fixes the problem.
    pub fix: String,
}

impl fmt::Display for ConfigError {
    /// Prints `FILE:LINE:COLUMN: MESSAGE (fix: FIX)`, or `FILE: ...` when the error has no place.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {} (fix: {})", self.message, self.fix)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Builds an error that has no line, such as a file that cannot be read.
    pub fn without_place(file: impl Into<PathBuf>, message: String, fix: String) -> Self {
        ConfigError {
            file: file.into(),
            line: 0,
            column: 0,
            message,
            fix,
        }
    }
}

/// Every error found by one [`load`](super::load). `Display` prints one error a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The errors, sorted by file, then line, then column.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Sorts the errors by file and place so that output follows the files.
    pub(crate) fn new(mut errors: Vec<ConfigError>) -> Self {
        errors.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        errors.dedup();
        ConfigErrors { errors }
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}
