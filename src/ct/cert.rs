//! Names, issuer and validity of the certificate in a CT leaf, read with x509-parser.
//!
//! Extensions are not parsed in depth: only the subject alternative name is decoded, which
//! keeps one certificate in the tens of microseconds. Every DNS name of the subject common
//! name and of the SAN is kept, lower-cased, in ASCII (punycode) and in Unicode form, with
//! the wildcard label (`*.`) taken off and noted.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::{TbsCertificate, TbsCertificateParser, X509CertificateParser};
use x509_parser::extensions::{GeneralName, SubjectAlternativeName};
use x509_parser::nom::Parser;
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME;
use x509_parser::prelude::FromDer;

use super::leaf::{EntryType, Leaf};

/// Names kept per certificate; the rest are counted in [`NameSet::dropped`]. CAs cap a
/// certificate at a few hundred names, so this only bounds hostile input.
pub const MAX_NAMES: usize = 1000;

/// A certificate (or precertificate `TBSCertificate`) read from a leaf.
#[derive(Debug)]
pub struct ParsedCert<'a> {
    tbs: TbsCertificate<'a>,
    entry_type: EntryType,
    der: &'a [u8],
}

/// One DNS name of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertName {
    /// ASCII (punycode) form, lower-case, without the `*.` of a wildcard.
    pub ascii: String,
    /// Unicode form of `ascii`.
    pub unicode: String,
    /// Whether the certificate gave the name as `*.ascii`.
    pub wildcard: bool,
}

impl CertName {
    /// Returns the name as the certificate spells it, in ASCII: `*.example.com` for a wildcard.
    pub fn display(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.ascii)
        } else {
            self.ascii.clone()
        }
    }
}

/// The DNS names of one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameSet {
    /// Distinct names, subject CN first, then SAN order.
    pub names: Vec<CertName>,
    /// Names left out because the certificate has more than [`MAX_NAMES`].
    pub dropped: usize,
    /// Error of a SAN extension that does not decode. The CN names are still in `names`.
    pub san_error: Option<String>,
}

/// Issuer, validity, serial and hash of a certificate, which findings record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDetails {
    /// Issuer distinguished name, e.g. `C=US, O=Let's Encrypt, CN=R3`.
    pub issuer: String,
    /// Issuer organization (`O`), or its common name when it has no organization.
    pub issuer_org: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Serial number in hex, bytes separated by colons.
    pub serial: String,
    /// SHA-256 of the DER bytes in the leaf: the certificate for an X509 entry, the
    /// `TBSCertificate` for a precertificate entry.
    pub sha256: String,
}

/// Error of a certificate that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct CertError {
    what: &'static str,
    reason: String,
}

impl<'a> ParsedCert<'a> {
    /// Parses the DER of a leaf: a whole certificate for an X509 entry, a `TBSCertificate`
    /// for a precertificate entry. Bytes after the DER structure are ignored.
    pub fn parse(leaf: &Leaf<'a>) -> Result<ParsedCert<'a>, CertError> {
        let tbs = match leaf.entry_type {
            EntryType::X509 => {
                X509CertificateParser::new()
                    .with_deep_parse_extensions(false)
                    .parse(leaf.der)
                    .map_err(|error| CertError {
                        what: "certificate",
                        reason: error.to_string(),
                    })?
                    .1
                    .tbs_certificate
            }
            EntryType::Precert => {
                TbsCertificateParser::new()
                    .with_deep_parse_extensions(false)
                    .parse(leaf.der)
                    .map_err(|error| CertError {
                        what: "precertificate TBSCertificate",
                        reason: error.to_string(),
                    })?
                    .1
            }
        };
        Ok(ParsedCert {
            tbs,
            entry_type: leaf.entry_type,
            der: leaf.der,
        })
    }

    pub fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    /// Returns every DNS name of the subject common name and the SAN.
    pub fn names(&self) -> NameSet {
        let mut set = NameSet::default();
        for attribute in self.tbs.subject.iter_common_name() {
            if let Ok(text) = attribute.as_str() {
                add_name(&mut set, text);
            }
        }

        let san = self
            .tbs
            .extensions()
            .iter()
            .find(|ext| ext.oid == OID_X509_EXT_SUBJECT_ALT_NAME);
        if let Some(san) = san {
            match SubjectAlternativeName::from_der(san.value) {
                Ok((_, san)) => {
                    for name in &san.general_names {
                        if let GeneralName::DNSName(text) = name {
                            add_name(&mut set, text);
                        }
                    }
                }
                Err(error) => set.san_error = Some(format!("subject alternative name: {error}")),
            }
        }
        set
    }

    /// Returns the issuer, validity, serial number and hash of the certificate.
    pub fn details(&self) -> CertDetails {
        let issuer = &self.tbs.issuer;
        let issuer_org = issuer
            .iter_organization()
            .find_map(|a| a.as_str().ok())
            .or_else(|| issuer.iter_common_name().find_map(|a| a.as_str().ok()))
            .map_or_else(|| issuer.to_string(), str::to_string);
        CertDetails {
            issuer: issuer.to_string(),
            issuer_org,
            not_before: self.tbs.validity.not_before.to_datetime(),
            not_after: self.tbs.validity.not_after.to_datetime(),
            serial: self.tbs.raw_serial_as_string(),
            sha256: hex::encode(Sha256::digest(self.der)),
        }
    }
}

fn add_name(set: &mut NameSet, raw: &str) {
    let Some(name) = normalize_name(raw) else {
        return;
    };
    if set.names.iter().any(|known| known.ascii == name.ascii) {
        // `*.example.com` and `example.com` are one name for matching; the wildcard form,
        // which covers more hosts, is the one kept.
        if name.wildcard
            && let Some(known) = set.names.iter_mut().find(|k| k.ascii == name.ascii)
        {
            known.wildcard = true;
        }
        return;
    }
    if set.names.len() >= MAX_NAMES {
        set.dropped += 1;
        return;
    }
    set.names.push(name);
}

/// Turns a CN or SAN value into a DNS name. Returns `None` for a value that is no host name:
/// a person's or a CA's name in the CN, an IP address, a bare label, or a `*` anywhere but
/// in the first label.
pub fn normalize_name(raw: &str) -> Option<CertName> {
    let trimmed = raw.trim().trim_end_matches('.');
    let (wildcard, rest) = match trimmed.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if !rest.contains('.') || rest.contains('*') || rest.contains(' ') {
        return None;
    }
    if rest.split('.').any(str::is_empty) {
        return None;
    }
    if rest.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }

    // Most names are plain lower-case ASCII already; IDNA processing is for the others.
    let plain = rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !rest.starts_with("xn--")
        && !rest.contains(".xn--");
    if plain {
        return Some(CertName {
            ascii: rest.to_string(),
            unicode: rest.to_string(),
            wildcard,
        });
    }
    let ascii = idna::domain_to_ascii(rest).ok()?;
    if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
        return None;
    }
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    Some(CertName {
        ascii,
        unicode,
        wildcard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        let name = normalize_name("WWW.Example.COM.").unwrap();
        assert_eq!(name.ascii, "www.example.com");
        assert!(!name.wildcard);

        let wildcard = normalize_name("*.Example.com").unwrap();
        assert_eq!(wildcard.ascii, "example.com");
        assert!(wildcard.wildcard);
        assert_eq!(wildcard.display(), "*.example.com");

        let idn = normalize_name("xn--bcher-kva.de").unwrap();
        assert_eq!(idn.unicode, "bücher.de");
        let unicode = normalize_name("Bücher.de").unwrap();
        assert_eq!(unicode.ascii, "xn--bcher-kva.de");
        assert_eq!(unicode.unicode, "bücher.de");
    }

    #[test]
    fn non_host_names_are_skipped() {
        for raw in [
            "Let's Encrypt Authority X3",
            "localhost",
            "192.0.2.1",
            "foo.*.example.com",
            "*",
            "",
            "a..b.com",
        ] {
            assert_eq!(normalize_name(raw), None, "{raw:?}");
        }
    }
}
