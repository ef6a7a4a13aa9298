//! CLI.

pub mod check;
