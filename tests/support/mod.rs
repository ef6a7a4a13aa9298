//! Helpers shared by the integration tests.

pub mod daemon;
pub mod dns;
pub mod inbox;
pub mod mail;
pub mod webhook;
