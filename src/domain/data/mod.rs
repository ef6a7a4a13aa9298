//! Data compiled into the binary: character tables here, word and TLD lists as text files
//! read with `include_str!`.

pub mod tables;
