//! Certificate Transparency (RFC 6962) formats: the log list, the `get-sth` and
//! `get-entries` bodies, the `MerkleTreeLeaf` structure, and the names of the certificate
//! inside a leaf. No I/O: the `ct` source in `sources::ct` fetches, this module reads.

pub mod api;
pub mod cert;
pub mod leaf;
pub mod loglist;
pub mod merkle;

pub use api::{TreeHead, parse_entries, parse_tree_head};
pub use cert::{CertDetails, CertName, NameSet, ParsedCert};
pub use leaf::{EntryType, Leaf, LeafError, parse_leaf};
pub use loglist::{ListedLog, LogList, LogState, parse_log_list};
