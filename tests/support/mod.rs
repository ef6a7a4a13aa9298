//! Helpers shared by the integration tests.

pub mod dns;
pub mod mail;
