//! Helpers shared by the integration tests.

pub mod ct_log;
pub mod daemon;
pub mod dns;
pub mod feed_web;
pub mod imap;
pub mod inbox;
pub mod mail;
pub mod response;
pub mod tls;
pub mod unbound;
pub mod watch;
pub mod web;
pub mod webhook;
