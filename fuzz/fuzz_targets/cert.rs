//! Certificate Transparency parsing on any bytes: get-entries and get-sth bodies, the
//! MerkleTreeLeaf, the X.509 certificate or precertificate in it, and its names. A result,
//! never a panic or a hang.
//!
//! The first byte picks what the rest is: 0 a MerkleTreeLeaf, 1 a DER certificate wrapped in
//! an X509 leaf, 2 a DER TBSCertificate wrapped in a precertificate leaf, 3 a get-entries
//! body whose leaves are parsed in turn, anything else a get-sth body and a name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::ct::cert::{MAX_NAMES, ParsedCert, normalize_name};
use vigie::ct::leaf::{encode_precert_leaf, encode_x509_leaf, parse_leaf};
use vigie::ct::merkle::leaf_hash;
use vigie::ct::{parse_entries, parse_tree_head};

fn leaf(bytes: &[u8]) {
    let _ = leaf_hash(bytes);
    let Ok(leaf) = parse_leaf(bytes) else {
        return;
    };
    let Ok(cert) = ParsedCert::parse(&leaf) else {
        return;
    };
    let names = cert.names();
    assert!(names.names.len() <= MAX_NAMES);
    for name in names.names.iter() {
        let _ = name.display();
    }
    let details = cert.details();
    assert_eq!(details.sha256.len(), 64);
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    match kind {
        0 => leaf(rest),
        1 => leaf(&encode_x509_leaf(1_700_000_000_000, rest)),
        2 => leaf(&encode_precert_leaf(1_700_000_000_000, &[7; 32], rest)),
        3 => {
            if let Ok(entries) = parse_entries(rest) {
                for bytes in entries.into_iter().flatten() {
                    leaf(&bytes);
                }
            }
        }
        _ => {
            let _ = parse_tree_head(rest);
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = normalize_name(text);
            }
        }
    }
});
