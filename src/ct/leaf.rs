//! The `MerkleTreeLeaf` structure of RFC 6962 section 3.4, as `get-entries` returns it in
//! `leaf_input`.
//!
//! ```text
//! struct {
//!     Version version;                      // 1 byte, v1 = 0
//!     MerkleLeafType leaf_type;             // 1 byte, timestamped_entry = 0
//!     struct {
//!         uint64 timestamp;                 // milliseconds since the Unix epoch
//!         LogEntryType entry_type;          // 2 bytes, x509_entry = 0, precert_entry = 1
//!         select (entry_type) {
//!             case x509_entry: ASN.1Cert;   // 3-byte length, then the DER certificate
//!             case precert_entry: PreCert;  // 32-byte issuer_key_hash, 3-byte length, TBS DER
//!         } signed_entry;
//!         CtExtensions extensions;          // 2-byte length, then opaque bytes
//!     } timestamped_entry;
//! } MerkleTreeLeaf;
//! ```
//!
//! The TLS presentation language is read by hand: it is a handful of fixed-size integers and
//! length-prefixed byte strings, which no maintained crate parses on its own.

/// Kind of certificate a leaf holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A final certificate. The leaf contains its DER encoding.
    X509,
    /// A precertificate. The leaf contains the DER `TBSCertificate` without the poison
    /// extension, and the SHA-256 hash of the issuer's public key.
    Precert,
}

impl EntryType {
    /// Returns the RFC 6962 name of the entry type.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::X509 => "x509_entry",
            EntryType::Precert => "precert_entry",
        }
    }
}

/// One parsed `MerkleTreeLeaf`, borrowing the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// Time the log accepted the entry, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub entry_type: EntryType,
    /// For [`EntryType::Precert`], the SHA-256 hash of the issuer's `SubjectPublicKeyInfo`.
    pub issuer_key_hash: Option<[u8; 32]>,
    /// The DER certificate ([`EntryType::X509`]) or DER `TBSCertificate`
    /// ([`EntryType::Precert`]).
    pub der: &'a [u8],
    /// The `CtExtensions` bytes; empty for every log in use today.
    pub extensions: &'a [u8],
}

/// Error of a leaf that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    #[error("leaf is truncated: {field} needs {needed} bytes at offset {offset}, {left} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        left: usize,
    },
    #[error("unsupported leaf version {0}; only v1 (0) is defined")]
    Version(u8),
    #[error("unsupported leaf type {0}; only timestamped_entry (0) is defined")]
    LeafType(u8),
    #[error("unknown entry type {0}; expected x509_entry (0) or precert_entry (1)")]
    EntryType(u16),
    #[error("empty {0}")]
    Empty(&'static str),
    #[error("{0} bytes after the end of the leaf")]
    Trailing(usize),
}

/// Reads a `MerkleTreeLeaf`. Every length is checked against the bytes left, so a hostile
/// length cannot make the reader go past the input.
pub fn parse_leaf(input: &[u8]) -> Result<Leaf<'_>, LeafError> {
    let mut reader = Reader { input, offset: 0 };
    let version = reader.u8("version")?;
    if version != 0 {
        return Err(LeafError::Version(version));
    }
    let leaf_type = reader.u8("leaf_type")?;
    if leaf_type != 0 {
        return Err(LeafError::LeafType(leaf_type));
    }
    let timestamp_ms = u64::from_be_bytes(reader.array::<8>("timestamp")?);
    let entry_type = match u16::from_be_bytes(reader.array::<2>("entry_type")?) {
        0 => EntryType::X509,
        1 => EntryType::Precert,
        other => return Err(LeafError::EntryType(other)),
    };

    let (issuer_key_hash, der) = match entry_type {
        EntryType::X509 => (None, reader.vector(3, "certificate")?),
        EntryType::Precert => {
            let hash = reader.array::<32>("issuer_key_hash")?;
            (Some(hash), reader.vector(3, "tbs_certificate")?)
        }
    };
    if der.is_empty() {
        return Err(LeafError::Empty(match entry_type {
            EntryType::X509 => "certificate",
            EntryType::Precert => "tbs_certificate",
        }));
    }
    let extensions = reader.vector(2, "extensions")?;
    let left = reader.input.len() - reader.offset;
    if left > 0 {
        return Err(LeafError::Trailing(left));
    }
    Ok(Leaf {
        timestamp_ms,
        entry_type,
        issuer_key_hash,
        der,
        extensions,
    })
}

struct Reader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, needed: usize, field: &'static str) -> Result<&'a [u8], LeafError> {
        let left = self.input.len() - self.offset;
        if needed > left {
            return Err(LeafError::Truncated {
                field,
                offset: self.offset,
                needed,
                left,
            });
        }
        let bytes = &self.input[self.offset..self.offset + needed];
        self.offset += needed;
        Ok(bytes)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, LeafError> {
        Ok(self.take(1, field)?[0])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], LeafError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// Reads a byte string preceded by its length on `width` big-endian bytes.
    fn vector(&mut self, width: usize, field: &'static str) -> Result<&'a [u8], LeafError> {
        let length = self
            .take(width, field)?
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        self.take(length, field)
    }
}

/// Builds the leaf of an X509 entry; the inverse of [`parse_leaf`], used by tests and
/// benchmarks that serve a log.
pub fn encode_x509_leaf(timestamp_ms: u64, certificate: &[u8]) -> Vec<u8> {
    let mut out = leaf_header(timestamp_ms, 0);
    push_vector(&mut out, 3, certificate);
    push_vector(&mut out, 2, &[]);
    out
}

/// Builds the leaf of a precertificate entry from the issuer's key hash and the DER
/// `TBSCertificate`; the inverse of [`parse_leaf`].
pub fn encode_precert_leaf(timestamp_ms: u64, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Vec<u8> {
    let mut out = leaf_header(timestamp_ms, 1);
    out.extend_from_slice(issuer_key_hash);
    push_vector(&mut out, 3, tbs);
    push_vector(&mut out, 2, &[]);
    out
}

fn leaf_header(timestamp_ms: u64, entry_type: u16) -> Vec<u8> {
    let mut out = vec![0u8, 0u8];
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&entry_type.to_be_bytes());
    out
}

fn push_vector(out: &mut Vec<u8>, width: usize, bytes: &[u8]) {
    let length = bytes.len().to_be_bytes();
    out.extend_from_slice(&length[length.len() - width..]);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x509_leaf_round_trips() {
        let leaf = encode_x509_leaf(1_700_000_000_123, b"\x30\x03\x02\x01\x01");
        let parsed = parse_leaf(&leaf).unwrap();
        assert_eq!(parsed.timestamp_ms, 1_700_000_000_123);
        assert_eq!(parsed.entry_type, EntryType::X509);
        assert_eq!(parsed.der, b"\x30\x03\x02\x01\x01");
        assert_eq!(parsed.issuer_key_hash, None);
        assert!(parsed.extensions.is_empty());
    }

    #[test]
    fn precert_leaf_round_trips() {
        let hash = [7u8; 32];
        let leaf = encode_precert_leaf(5, &hash, b"\x30\x00");
        let parsed = parse_leaf(&leaf).unwrap();
        assert_eq!(parsed.entry_type, EntryType::Precert);
        assert_eq!(parsed.issuer_key_hash, Some(hash));
        assert_eq!(parsed.der, b"\x30\x00");
    }

    #[test]
    fn bad_leaves_are_rejected() {
        let good = encode_x509_leaf(1, b"\x30\x00");
        assert!(matches!(parse_leaf(&[]), Err(LeafError::Truncated { .. })));
        let mut version = good.clone();
        version[0] = 1;
        assert_eq!(parse_leaf(&version), Err(LeafError::Version(1)));
        let mut leaf_type = good.clone();
        leaf_type[1] = 3;
        assert_eq!(parse_leaf(&leaf_type), Err(LeafError::LeafType(3)));
        let mut entry_type = good.clone();
        entry_type[11] = 9;
        assert_eq!(parse_leaf(&entry_type), Err(LeafError::EntryType(9)));
        let mut long = good.clone();
        long[14] = 0xff;
        assert!(matches!(
            parse_leaf(&long),
            Err(LeafError::Truncated {
                field: "certificate",
                ..
            })
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(parse_leaf(&trailing), Err(LeafError::Trailing(1)));
        assert_eq!(
            parse_leaf(&encode_x509_leaf(1, b"")),
            Err(LeafError::Empty("certificate"))
        );
        assert!(matches!(
            parse_leaf(&good[..good.len() - 1]),
            Err(LeafError::Truncated {
                field: "extensions",
                ..
            })
        ));
    }
}
