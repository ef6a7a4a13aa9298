//! vigie watches the places where a scam campaign against a company shows first (lookalike
//! domains, certificates, feeds, reported mails) and alerts the company's SOC.
//!
//! The path of one item: a source turns what it saw into a [`model::Finding`], the
//! [`pipeline`] records it in the [`store`] together with its alerts (one transaction), and the
//! [`alert`] dispatcher delivers those alerts to every configured sink until each succeeds.
//! [`domain`] and the matchers do no I/O; [`net`] holds DNS resolution; [`store`] knows no
//! source and no sink.

pub mod alert;
pub mod campaign;
pub mod case;
pub mod cli;
pub mod config;
pub mod ct;
pub mod daemon;
pub mod detect;
pub mod domain;
pub mod evidence;
pub mod health;
pub mod intake;
pub mod mail;
pub mod memory;
pub mod model;
pub mod net;
pub mod pipeline;
pub mod sources;
pub mod store;
pub mod watch;

/// Installs ring as the process-wide rustls crypto provider.
///
/// reqwest is built without a provider of its own (to keep aws-lc out of the build), so this
/// must run once before the first HTTPS client is made. Calling it again does nothing.
#[expect(
    deprecated,
    reason = "rustls 0.23.48 deprecates its ring provider for lacking post-quantum key exchange, and offers no other ring constructor; aws-lc-rs is kept out of the build"
)]
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
