//! Bodies of the two RFC 6962 calls vigie makes: `get-sth` (section 4.3) and `get-entries`
//! (section 4.6).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// A signed tree head, as far as vigie uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries in the log.
    pub tree_size: u64,
    /// Time of the tree head, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Merkle tree hash of the log's first `tree_size` entries.
    pub root_hash: [u8; 32],
}

/// Error of a response body that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("response is not the expected JSON: {0}")]
    Json(String),
    #[error("sha256_root_hash is not 32 bytes of base64")]
    RootHash,
}

#[derive(Deserialize)]
struct RawTreeHead<'a> {
    tree_size: u64,
    timestamp: u64,
    #[serde(borrow)]
    sha256_root_hash: Cow<'a, str>,
}

/// Parses a `get-sth` response. The signature is not checked.
pub fn parse_tree_head(body: &[u8]) -> Result<TreeHead, ApiError> {
    let raw: RawTreeHead<'_> =
        serde_json::from_slice(body).map_err(|error| ApiError::Json(error.to_string()))?;
    let hash = STANDARD
        .decode(raw.sha256_root_hash.as_bytes())
        .map_err(|_| ApiError::RootHash)?;
    let root_hash: [u8; 32] = hash.try_into().map_err(|_| ApiError::RootHash)?;
    Ok(TreeHead {
        tree_size: raw.tree_size,
        timestamp_ms: raw.timestamp,
        root_hash,
    })
}

#[derive(Deserialize)]
struct RawEntries<'a> {
    #[serde(borrow)]
    entries: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    // `extra_data` (the chain) is not read, because the leaf contains the names and the issuer.
    #[serde(borrow)]
    leaf_input: Cow<'a, str>,
}

/// Parses a `get-entries` response into the decoded `leaf_input` of each entry, in order.
///
/// An entry whose `leaf_input` is not base64 is returned as an error in its place, so that
/// it is stored as malformed while the others are processed.
pub fn parse_entries(body: &[u8]) -> Result<Vec<Result<Vec<u8>, String>>, ApiError> {
    let raw: RawEntries<'_> =
        serde_json::from_slice(body).map_err(|error| ApiError::Json(error.to_string()))?;
    Ok(raw
        .entries
        .iter()
        .map(|entry| {
            STANDARD
                .decode(entry.leaf_input.as_bytes())
                .map_err(|error| format!("leaf_input is not base64: {error}"))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_head_parses() {
        let hash = STANDARD.encode([1u8; 32]);
        let body = format!(
            r#"{{"tree_size": 42, "timestamp": 1700000000000, "sha256_root_hash": "{hash}", "tree_head_signature": "BAMA"}}"#
        );
        let head = parse_tree_head(body.as_bytes()).unwrap();
        assert_eq!(head.tree_size, 42);
        assert_eq!(head.root_hash, [1u8; 32]);
        assert_eq!(
            parse_tree_head(br#"{"tree_size": 1, "timestamp": 1, "sha256_root_hash": "AAAA"}"#),
            Err(ApiError::RootHash)
        );
        assert!(matches!(parse_tree_head(b"<html>"), Err(ApiError::Json(_))));
    }

    #[test]
    fn bad_base64_entry_keeps_its_place() {
        let body = br#"{"entries": [{"leaf_input": "AAE=", "extra_data": ""},
                                    {"leaf_input": "!!", "extra_data": ""},
                                    {"leaf_input": "AA\/A", "extra_data": ""}]}"#;
        let entries = parse_entries(body).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], Ok(vec![0, 1]));
        assert!(entries[1].is_err());
        assert_eq!(entries[2], Ok(vec![0, 15, 192]));
    }
}
