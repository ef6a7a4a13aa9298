//! CLI.

pub mod permute;
