//! CLI.
pub mod findings;
