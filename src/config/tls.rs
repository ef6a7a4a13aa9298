//! TLS keys of an SMTP sink: `ca_file`, the private CA that signs the relay's certificate, and
//! `tls_server_name`, the name that certificate must carry.
//!
//! The CA file is read, and every certificate in it parsed as a trust anchor, when the config
//! loads. So a wrong path or a broken file stops `vigie check` and the daemon's start with its
//! file:line, instead of failing each delivery later. No key turns verification off.

use std::io::ErrorKind;
use std::ops::Range;
use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName};

use super::CaFile;
use super::tree::{Reader, Table};

/// Maximum size of a CA file. Debian's bundle of all 150 public roots (ca-certificates 20250419)
/// is 225 KB, so a larger file is a wrong path (a log, a disk image), not certificates.
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads `ca_file` from `table`, relative to `base`; reports a missing, unreadable or
/// unparsable file and returns `None` for it.
pub(crate) fn ca_file(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
) -> Option<CaFile> {
    let (written, span) = reader.string(table, "ca_file")?;
    let key = table.key_path("ca_file");
    let path = base.join(&written);
    let text = read_limited(reader, &key, &path, &span, base)?;
    let certificates = parse_certificates(reader, &key, &path, &text, &span)?;
    Some(CaFile { path, certificates })
}

fn read_limited(
    reader: &mut Reader<'_>,
    key: &str,
    path: &Path,
    span: &Range<usize>,
    base: &Path,
) -> Option<Vec<u8>> {
    let result = std::fs::metadata(path).and_then(|metadata| {
        if metadata.len() > MAX_CA_FILE_BYTES {
            return Ok(None);
        }
        std::fs::read(path).map(Some)
    });
    match result {
        Ok(Some(bytes)) => Some(bytes),
        Ok(None) => {
            reader.error(
                span,
                format!(
                    "CA file {} named by {key} is larger than {} MiB",
                    path.display(),
                    MAX_CA_FILE_BYTES / (1024 * 1024)
                ),
                "name a PEM file that holds only the CA certificates of the SMTP relay".to_string(),
            );
            None
        }
        Err(error) if error.kind() == ErrorKind::NotFound => {
            reader.error(
                span,
                format!("CA file {} named by {key} not found", path.display()),
                format!(
                    "correct the path (a relative path starts from {}), or remove {key} to trust only the public roots",
                    base.display()
                ),
            );
            None
        }
        Err(error) => {
            reader.error(
                span,
                format!(
                    "cannot read CA file {} named by {key}: {error}",
                    path.display()
                ),
                "make the file readable by the vigie user".to_string(),
            );
            None
        }
    }
}

/// Parses every `CERTIFICATE` block of `text` and checks that each one can be a trust
/// anchor. Other PEM blocks (keys, parameters) are ignored, as in a combined bundle.
fn parse_certificates(
    reader: &mut Reader<'_>,
    key: &str,
    path: &Path,
    text: &[u8],
    span: &Range<usize>,
) -> Option<Vec<CertificateDer<'static>>> {
    let certificates = match CertificateDer::pem_slice_iter(text).collect::<Result<Vec<_>, _>>() {
        Ok(certificates) => certificates,
        Err(error) => {
            reader.error(
                span,
                format!(
                    "CA file {} named by {key} is not valid PEM: {}",
                    path.display(),
                    describe_pem_error(&error)
                ),
                "write the CA certificates as PEM blocks from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----"
                    .to_string(),
            );
            return None;
        }
    };
    if certificates.is_empty() {
        reader.error(
            span,
            format!(
                "CA file {} named by {key} contains no PEM certificate",
                path.display()
            ),
            "add the relay's CA certificate in PEM form; convert a DER file with `openssl x509 -inform der -in ca.der -out ca.pem`"
                .to_string(),
        );
        return None;
    }

    let mut all_valid = true;
    for (index, certificate) in certificates.iter().enumerate() {
        if let Err(error) = RootCertStore::empty().add(certificate.clone()) {
            all_valid = false;
            reader.error(
                span,
                format!(
                    "certificate {} of CA file {} named by {key} cannot be parsed: {error}",
                    index + 1,
                    path.display()
                ),
                "replace it with the CA certificate exported again in PEM form".to_string(),
            );
        }
    }
    all_valid.then_some(certificates)
}

/// Describes a PEM error in words, because the crate's `Display` prints lines as byte arrays.
fn describe_pem_error(error: &pem::Error) -> String {
    match error {
        // The field holds the block's label, such as `CERTIFICATE`.
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "no -----END {}----- line",
            String::from_utf8_lossy(end_marker).trim()
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed BEGIN line {:?}",
            String::from_utf8_lossy(line).trim()
        ),
        pem::Error::Base64Decode(reason) => format!("invalid base64 in a block ({reason})"),
        other => other.to_string(),
    }
}

/// Reads `tls_server_name`; it must be a DNS name or an IP address.
pub(crate) fn server_name(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> Option<String> {
    let (name, span) = reader.string(table, "tls_server_name")?;
    if ServerName::try_from(name.as_str()).is_ok() {
        return Some(name);
    }
    reader.error(
        &span,
        format!(
            "{} \"{name}\" is not a DNS name or an IP address",
            table.key_path("tls_server_name")
        ),
        "write the name that the relay's certificate carries, such as \"smtp.corp.example\""
            .to_string(),
    );
    None
}

/// Reports `ca_file` or `tls_server_name` on a sink whose `security` is `plain`, where they
/// would have no effect: the operator probably expects TLS.
pub(crate) fn reject_with_plain(reader: &mut Reader<'_>, table: &Table<'_, '_>) {
    for key in ["ca_file", "tls_server_name"] {
        if table.has(key) {
            reader.error(
                &table.key_span(key),
                format!(
                    "{} is set but security is \"plain\", which uses no TLS",
                    table.key_path(key)
                ),
                format!("set security to \"starttls\" or \"tls\", or remove {key}"),
            );
        }
    }
}
