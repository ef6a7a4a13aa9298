//! Domain names: parsing, public-suffix split, IDNA, and the permutation engine. No I/O.

pub mod permute;

pub use permute::{Fuzzer, Permutation, PermuteOptions, permute};
