//! Network clients shared by the sources: DNS resolution.

pub mod dns;
mod mmsg;
mod udp;
