//! Helpers shared by the integration tests.

pub mod daemon;
pub mod dns;
pub mod mail;
pub mod watch;
pub mod web;
pub mod webhook;
