//! One check of a web host: fetch its page (https first, then http), read it, fetch its
//! favicon, compare it with the company's reference pages, and classify it.

use std::collections::HashMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::cert::{self, CertificateInfo};
use super::page::{self, Features, Form};
use super::parked::{self, PageState};
use super::similarity::{self, Similarity};
use crate::config::{Config, ReferenceLocation};
use crate::net::fetch::{FetchError, Fetched, Fetcher, Hop};

/// Largest favicon hashed; a bigger one is not an icon.
const MAX_FAVICON_BYTES: usize = 512 * 1024;

/// A page of the company's real site, read once and compared with every lookalike page.
#[derive(Debug, Clone)]
pub struct Reference {
    /// URL or file it was read from.
    pub source: String,
    pub features: Features,
}

impl Reference {
    /// Reads a reference page from its HTML.
    pub fn from_html(source: &str, html: &str) -> Reference {
        let base = reqwest::Url::parse(source)
            .unwrap_or_else(|_| reqwest::Url::parse("http://reference.invalid/").expect("URL"));
        Reference {
            source: source.to_owned(),
            features: page::analyse(html, &base).features,
        }
    }
}

/// What the check needs besides the host.
#[derive(Debug, Clone, Default)]
pub struct CheckContext<'a> {
    /// Reference pages of the finding's watchlist.
    pub references: &'a [Reference],
    /// Brand names, keywords and legitimate domains to look for in the page.
    pub brand_terms: &'a [String],
    /// The domain's nameservers, for the parked classifier.
    pub nameservers: &'a [String],
}

/// The favicon, hashed two ways: SHA-256 of its bytes, and the MurmurHash3 of its base64 form
/// that Shodan and similar search engines index (`http.favicon.hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Favicon {
    pub url: String,
    pub sha256: String,
    pub mmh3: i32,
}

/// Similarity to the closest reference page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceMatch {
    pub reference: String,
    #[serde(flatten)]
    pub similarity: Similarity,
    pub band: String,
}

/// Everything one check read from a host. Kept as the finding's `web` evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebEvidence {
    /// RFC 3339 time of the check.
    pub read_at: String,
    pub host: String,
    pub state: PageState,
    /// Why the classifier chose the state.
    pub signs: Vec<String>,
    /// The URL asked first and the one that answered last.
    pub url: Option<String>,
    pub final_url: Option<String>,
    pub status: Option<u16>,
    pub redirects: Vec<Hop>,
    /// Address the page came from.
    pub address: Option<String>,
    pub content_type: Option<String>,
    pub truncated: bool,
    pub certificate: Option<CertificateInfo>,
    pub title: Option<String>,
    pub login_form: bool,
    pub payment_form: bool,
    pub forms: Vec<Form>,
    /// Brand terms the page shows.
    pub brand_terms: Vec<String>,
    pub favicon: Option<Favicon>,
    pub similarity: Option<ReferenceMatch>,
    /// Why no page was read, or what failed along the way.
    pub errors: Vec<String>,
}

impl WebEvidence {
    fn unreachable(host: &str, errors: Vec<String>) -> WebEvidence {
        WebEvidence {
            read_at: now(),
            host: host.to_owned(),
            state: PageState::Unreachable,
            signs: Vec::new(),
            url: None,
            final_url: None,
            status: None,
            redirects: Vec::new(),
            address: None,
            content_type: None,
            truncated: false,
            certificate: None,
            title: None,
            login_form: false,
            payment_form: false,
            forms: Vec::new(),
            brand_terms: Vec::new(),
            favicon: None,
            similarity: None,
            errors,
        }
    }
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Checks the web host `host`: https first, http when https gives no answer.
pub async fn check_host(fetcher: &Fetcher, host: &str, context: &CheckContext<'_>) -> WebEvidence {
    let mut errors = Vec::new();
    for scheme in ["https", "http"] {
        let url = format!("{scheme}://{host}/");
        match fetcher.get(&url).await {
            Ok(fetched) => {
                let mut evidence = read_page(fetcher, host, &url, fetched, context).await;
                evidence.errors.splice(0..0, errors);
                return evidence;
            }
            // The address policy answers the same for both schemes.
            Err(error @ (FetchError::Refused { .. } | FetchError::Unresolved { .. })) => {
                errors.push(error.to_string());
                break;
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    WebEvidence::unreachable(host, errors)
}

async fn read_page(
    fetcher: &Fetcher,
    host: &str,
    url: &str,
    fetched: Fetched,
    context: &CheckContext<'_>,
) -> WebEvidence {
    let html = String::from_utf8_lossy(&fetched.body);
    let page = page::analyse(&html, &fetched.final_url);
    let mut urls: Vec<String> = fetched.redirects.iter().map(|h| h.url.clone()).collect();
    urls.push(fetched.final_url.to_string());
    let verdict = parked::classify(&page, &urls, fetched.status, context.nameservers);
    let similarity = closest_reference(&page.features, context.references);
    let mut errors = Vec::new();
    let certificate = fetched
        .certificate
        .as_deref()
        .and_then(|der| cert::read(der).map_err(|e| errors.push(e)).ok());
    let favicon = match &page.favicon {
        Some(icon) if fetched.status < 400 => favicon(fetcher, icon.as_str(), &mut errors).await,
        _ => None,
    };

    WebEvidence {
        read_at: now(),
        host: host.to_owned(),
        state: verdict.state,
        signs: verdict.signs,
        url: Some(url.to_owned()),
        final_url: Some(fetched.final_url.to_string()),
        status: Some(fetched.status),
        redirects: fetched.redirects,
        address: fetched.address.map(|a| a.ip().to_string()),
        content_type: fetched.content_type,
        truncated: fetched.truncated,
        certificate,
        title: page.title.clone(),
        login_form: page.login_form,
        payment_form: page.payment_form,
        brand_terms: page::brand_terms(&page, context.brand_terms),
        forms: page.forms,
        favicon,
        similarity,
        errors,
    }
}

fn closest_reference(features: &Features, references: &[Reference]) -> Option<ReferenceMatch> {
    references
        .iter()
        .map(|reference| {
            (
                reference,
                similarity::compare(features, &reference.features),
            )
        })
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        .map(|(reference, similarity)| ReferenceMatch {
            reference: reference.source.clone(),
            band: similarity.band().to_owned(),
            similarity,
        })
}

async fn favicon(fetcher: &Fetcher, url: &str, errors: &mut Vec<String>) -> Option<Favicon> {
    let fetched = match fetcher.get(url).await {
        Ok(fetched) => fetched,
        Err(error) => {
            errors.push(format!("favicon: {error}"));
            return None;
        }
    };
    if fetched.status != 200 || fetched.body.is_empty() || fetched.body.len() > MAX_FAVICON_BYTES {
        return None;
    }
    Some(Favicon {
        url: fetched.final_url.to_string(),
        sha256: hex::encode(Sha256::digest(&fetched.body)),
        mmh3: favicon_mmh3(&fetched.body),
    })
}

/// MurmurHash3 (x86, 32 bits, seed 0) of the favicon's base64 text with a line break after
/// every 76 characters and at the end, as Python's `base64.encodebytes` writes it: the form
/// that Shodan's `http.favicon.hash` is computed on.
pub fn favicon_mmh3(bytes: &[u8]) -> i32 {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut text = Vec::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for line in encoded.as_bytes().chunks(76) {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    murmur3_32(&text, 0) as i32
}

/// MurmurHash3 x86_32. Written here because the hash is twenty lines and no maintained
/// crate is in the tree.
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut hash = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        hash ^= k;
        hash = hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, byte) in tail.iter().enumerate() {
            k |= u32::from(*byte) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        hash ^= k;
    }
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// Largest saved reference page read from a file, in bytes.
const MAX_REFERENCE_BYTES: u64 = 4 << 20;

/// Reads every reference page of `[[evidence.reference]]`, by watchlist. A page that cannot be
/// read is logged, naming `user` (the checks that then go without it), and left out.
pub async fn read_references(
    config: &Config,
    fetcher: &Fetcher,
    user: &str,
) -> HashMap<String, Vec<Reference>> {
    let mut references: HashMap<String, Vec<Reference>> = HashMap::new();
    for page in &config.evidence.references {
        let read = match &page.location {
            ReferenceLocation::Url(url) => match fetcher.get(url).await {
                Ok(fetched) if fetched.status < 400 => Ok((
                    url.clone(),
                    String::from_utf8_lossy(&fetched.body).into_owned(),
                )),
                Ok(fetched) => Err(format!("{url} answers HTTP {}", fetched.status)),
                Err(error) => Err(error.to_string()),
            },
            ReferenceLocation::Path(path) => read_reference_file(path),
        };
        match read {
            Ok((source, html)) => references
                .entry(page.watchlist.clone())
                .or_default()
                .push(Reference::from_html(&source, &html)),
            Err(error) => tracing::warn!(
                watchlist = %page.watchlist,
                %error,
                "Cannot read a reference page; {user} of this watchlist are not compared with it."
            ),
        }
    }
    references
}

fn read_reference_file(path: &std::path::Path) -> Result<(String, String), String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_REFERENCE_BYTES {
        return Err(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_REFERENCE_BYTES >> 20
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((
        path.display().to_string(),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_known_values() {
        // Reference values of MurmurHash3_x86_32 (Austin Appleby's SMHasher test vectors).
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }

    #[test]
    fn favicon_hash_wraps_base64_lines() {
        // 60 bytes give 80 base64 characters: two lines, so the hash covers 82 bytes.
        let bytes = [7u8; 60];
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let text = format!("{}\n{}\n", &encoded[..76], &encoded[76..]);
        assert_eq!(favicon_mmh3(&bytes), murmur3_32(text.as_bytes(), 0) as i32);
    }
}
