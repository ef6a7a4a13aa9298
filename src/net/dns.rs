//! DNS resolution of candidate names through hickory-resolver.

use std::collections::BTreeSet;

use crate::config::DnsConfig;

/// Records of a registered name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Records {
    pub a: BTreeSet<String>,
    pub aaaa: BTreeSet<String>,
    pub ns: BTreeSet<String>,
    pub mx: BTreeSet<String>,
}

/// What resolving one name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The name exists: at least one of A, AAAA, NS, MX, or an empty answer without NXDOMAIN.
    Registered(Records),
    /// NXDOMAIN: not registered.
    NotRegistered,
    /// SERVFAIL, timeout or refusal: try again later, never report as registered.
    Unknown(String),
}

pub struct Resolver {}

impl Resolver {
    pub fn new(_config: &DnsConfig) -> anyhow::Result<Resolver> {
        todo!()
    }

    pub async fn resolve(&self, _name: &str) -> Resolution {
        todo!()
    }
}
