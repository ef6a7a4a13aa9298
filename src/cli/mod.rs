//! CLI.

pub mod match_cmd;
