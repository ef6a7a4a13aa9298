//! CLI.

pub mod scan;
