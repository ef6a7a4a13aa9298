//! The TLS certificate a page was served with: subject, issuer, validity and names, read with
//! x509-parser from the DER that the fetcher keeps.

use serde::{Deserialize, Serialize};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The parts of a server certificate the analyst uses: who it names, who issued it, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// DNS names of the subject alternative name extension.
    pub names: Vec<String>,
    /// SHA-256 of the DER, hex: the key to search CT logs and crt.sh with.
    pub sha256: String,
}

/// Reads a DER certificate; an unparsable one gives the reason.
pub fn read(der: &[u8]) -> Result<CertificateInfo, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("invalid certificate: {e}"))?;
    let rfc3339 = |time: x509_parser::time::ASN1Time| {
        time.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339(cert.validity().not_before),
        not_after: rfc3339(cert.validity().not_after),
        names,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der)),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn garbage_is_an_error() {
        assert!(super::read(b"not a certificate").is_err());
    }
}
