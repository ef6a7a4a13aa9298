//! Fingerprints of a mail's text, for grouping the copies of one campaign.
//!
//! `body_digest` is a hash of the normalised text, so that copies sent to different people
//! collide exactly. Normalising lower-cases the text and splits it into words, then drops
//! what changes from one copy to the next: digits, the query string and fragment of URLs
//! (tracking tokens), the local part of mail addresses, the words of the recipients' names
//! and addresses (from `To` and `Cc`), and long tokens without spaces (encoded ids). The
//! remaining words, joined by one space, are hashed with SHA-256; the digest is the first 16
//! bytes in hex.
//!
//! `body_simhash` is a 64-bit SimHash over the same words, for copies that differ by more
//! than those tokens: two bodies are near-identical when few bits differ (a Hamming distance
//! of 3 or less out of 64 is the usual threshold).

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// Tokens longer than this without a URL scheme are taken for encoded ids and dropped.
const MAX_WORD_LEN: usize = 32;

/// Returns the normalised words of `text`, without the words in `recipient_words`.
pub fn normalised_words(text: &str, recipient_words: &HashSet<String>) -> Vec<String> {
    let mut words = Vec::new();
    for token in text.split_whitespace() {
        let lower = token.to_lowercase();
        let word = if lower.contains("://") || lower.starts_with("www.") {
            let end = lower.find(['?', '#']).unwrap_or(lower.len());
            lower[..end].to_string()
        } else if let Some((_, domain)) = lower.split_once('@') {
            format!("@{domain}")
        } else if lower.len() > MAX_WORD_LEN {
            continue;
        } else {
            lower
        };
        let word: String = word.chars().filter(|c| !c.is_numeric()).collect();
        let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '/');
        if word.is_empty() || recipient_words.contains(word) {
            continue;
        }
        words.push(word.to_string());
    }
    words
}

/// Returns the hex SHA-256 (first 16 bytes) of the normalised words joined by spaces.
pub fn body_digest(words: &[String]) -> String {
    let mut hasher = Sha256::new();
    for (index, word) in words.iter().enumerate() {
        if index > 0 {
            hasher.update(b" ");
        }
        hasher.update(word.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Returns the 64-bit SimHash of the words, in 16 hex digits.
pub fn body_simhash(words: &[String]) -> String {
    let mut weights = [0i32; 64];
    for word in words {
        let hash = fnv1a(word.as_bytes());
        for (bit, weight) in weights.iter_mut().enumerate() {
            if hash >> bit & 1 == 1 {
                *weight += 1;
            } else {
                *weight -= 1;
            }
        }
    }
    let mut simhash = 0u64;
    for (bit, weight) in weights.iter().enumerate() {
        if *weight > 0 {
            simhash |= 1 << bit;
        }
    }
    format!("{simhash:016x}")
}

/// Returns how many bits differ between two SimHashes in hex; `None` if one is not 16 hex
/// digits.
pub fn simhash_distance(a: &str, b: &str) -> Option<u32> {
    let a = u64::from_str_radix(a, 16).ok()?;
    let b = u64::from_str_radix(b, 16).ok()?;
    Some((a ^ b).count_ones())
}

/// 64-bit FNV-1a: a fixed hash, so that SimHashes compare across runs and machines.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, recipients: &[&str]) -> Vec<String> {
        let recipients = recipients.iter().map(|r| r.to_string()).collect();
        normalised_words(text, &recipients)
    }

    #[test]
    fn copies_for_two_recipients_collide() {
        let alice = words(
            "Dear Alice, your parcel 48213 is held. Pay 2.99 EUR at https://track.example/p?id=a81f&u=alice within 24 hours. Ref: alice@corp.example",
            &["alice"],
        );
        let bob = words(
            "Dear Bob,  your parcel 99120 is held. Pay 3.49 EUR at https://track.example/p?id=77c2&u=bob within 48 hours. Ref: bob@corp.example",
            &["bob"],
        );
        assert_eq!(body_digest(&alice), body_digest(&bob));
        assert_eq!(body_simhash(&alice), body_simhash(&bob));
    }

    #[test]
    fn different_texts_do_not_collide() {
        let parcel = words("Your parcel is held, pay the customs fee at the link", &[]);
        let invoice = words("Please find the attached invoice for your last order", &[]);
        assert_ne!(body_digest(&parcel), body_digest(&invoice));
        let distance = simhash_distance(&body_simhash(&parcel), &body_simhash(&invoice)).unwrap();
        assert!(distance > 3, "distance {distance}");
    }

    #[test]
    fn one_changed_word_keeps_simhash_close() {
        let text = "Your account has been suspended because of unusual activity. Confirm your identity on our secure page to restore access to your online banking and avoid the closure of your account within two days";
        let changed = text.replace("two days", "three days");
        let a = body_simhash(&words(text, &[]));
        let b = body_simhash(&words(&changed, &[]));
        assert!(simhash_distance(&a, &b).unwrap() <= 6);
        assert_ne!(
            body_digest(&words(text, &[])),
            body_digest(&words(&changed, &[]))
        );
    }
}
