//! CLI.
pub mod check;
pub mod permute;
