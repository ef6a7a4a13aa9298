//! Merkle tree hashes of RFC 6962 section 2.1.

use sha2::{Digest, Sha256};

/// Returns the hash of one leaf: SHA-256 of `0x00 || leaf`.
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Returns the Merkle tree hash of a list of leaf hashes; the hash of the empty string for
/// an empty list.
pub fn root_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            // The left subtree has the largest power of two below n leaves.
            let split = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&root_hash(&leaves[..split]), &root_hash(&leaves[split..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_of_rfc_shapes() {
        let leaves: Vec<[u8; 32]> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        assert_eq!(root_hash(&leaves[..1]), leaves[0]);
        let two = node_hash(&leaves[0], &leaves[1]);
        assert_eq!(root_hash(&leaves[..2]), two);
        let three = node_hash(&two, &leaves[2]);
        assert_eq!(root_hash(&leaves[..3]), three);
        let four = node_hash(&two, &node_hash(&leaves[2], &leaves[3]));
        assert_eq!(root_hash(&leaves[..4]), four);
        assert_eq!(root_hash(&leaves), node_hash(&four, &leaves[4]));
        assert_eq!(
            hex::encode(root_hash(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
