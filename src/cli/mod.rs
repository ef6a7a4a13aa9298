//! CLI.
pub mod check;
pub mod findings;
pub mod permute;
pub mod scan;
