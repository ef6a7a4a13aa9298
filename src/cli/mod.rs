//! CLI.
pub mod check;
pub mod findings;
pub mod permute;
