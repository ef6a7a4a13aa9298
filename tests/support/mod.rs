//! Helpers shared by the integration tests.

pub mod ct_log;
pub mod daemon;
pub mod dns;
pub mod mail;
pub mod web;
pub mod webhook;
