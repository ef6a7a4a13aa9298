//! Evidence about a finding's web host, read without a person visiting it: what its page is
//! (status, redirects, certificate, title, forms, brand, favicon, similarity to the real page,
//! parked or for sale), who owns the domain and the network (RDAP), and who handles its mail.
//!
//! Every fetch goes through [`crate::net::fetch::Fetcher`]. Nothing here runs a script or
//! keeps a page body beyond the fetcher's limit; [`web`] keeps the facts read from it.
//! The change watch in [`crate::watch`] calls [`web::check_host`] on its schedule and turns the
//! result into a sighting of the finding.

pub mod cert;
pub mod mx;
pub mod page;
pub mod parked;
pub mod rdap;
pub mod similarity;
pub mod web;
