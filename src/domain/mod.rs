//! Domain names: parsing, public-suffix split and IDNA ([`name`]), and the permutation
//! engine that makes lookalikes of a legitimate domain ([`permute`]). No I/O.

mod data;
mod fuzz;
mod idn;
pub mod lists;
pub mod name;
pub mod permute;

pub use name::{DomainError, DomainParts, split, to_ascii, to_unicode};
pub use permute::{Fuzzer, Permutation, PermuteOptions, permute};
