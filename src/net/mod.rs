//! Network clients shared by the sources: DNS resolution and the safe fetcher.

pub mod dns;
pub mod fetch;
mod mmsg;
mod udp;
