//! Helpers shared by the integration tests.

pub mod ct_log;
pub mod daemon;
pub mod dns;
pub mod imap;
pub mod mail;
pub mod response;
pub mod unbound;
pub mod web;
pub mod webhook;
