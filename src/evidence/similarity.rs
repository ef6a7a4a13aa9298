//! Similarity of a page to the company's real page, with structure and visible text measured
//! apart.
//!
//! A phishing kit copies the real page's markup and then edits words: the title, the form's
//! action, a paragraph or a third of the text. Structure is the Jaccard index of the two
//! pages' element shingles (runs of three elements with their type and classes), which such
//! edits barely move. Text is the cosine of the two pages' word counts, which falls only in
//! proportion to the words replaced. A parked or for-sale page shares neither. The score
//! weighs structure more, because a kit keeps the markup more faithfully than the words.

use serde::{Deserialize, Serialize};

use super::page::Features;

/// Weight of structure in the score; text has the rest.
const STRUCTURE_WEIGHT: f64 = 0.6;

/// Score from which a page counts as a copy of the real page.
pub const CLONE_THRESHOLD: f64 = 0.75;

/// Score from which a page counts as resembling the real page.
pub const RESEMBLES_THRESHOLD: f64 = 0.45;

/// How close a page is to a reference page, each value from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    pub structure: f64,
    pub text: f64,
    pub score: f64,
}

impl Similarity {
    /// Names the band of the score: `clone`, `resembles` or `different`. The change watch
    /// keeps the band as a fact, so a page that moves into a higher band alerts.
    pub fn band(&self) -> &'static str {
        if self.score >= CLONE_THRESHOLD {
            "clone"
        } else if self.score >= RESEMBLES_THRESHOLD {
            "resembles"
        } else {
            "different"
        }
    }
}

/// Compares a page with a reference page.
pub fn compare(page: &Features, reference: &Features) -> Similarity {
    let structure = jaccard(page, reference);
    let text = cosine(page, reference);
    let score = STRUCTURE_WEIGHT * structure + (1.0 - STRUCTURE_WEIGHT) * text;
    Similarity {
        structure: round(structure),
        text: round(text),
        score: round(score),
    }
}

fn jaccard(a: &Features, b: &Features) -> f64 {
    let union = a.structure.union(&b.structure).count();
    if union == 0 {
        return 0.0;
    }
    a.structure.intersection(&b.structure).count() as f64 / union as f64
}

fn cosine(a: &Features, b: &Features) -> f64 {
    let dot: f64 = a
        .words
        .iter()
        .filter_map(|(word, count)| b.words.get(word).map(|other| f64::from(count * other)))
        .sum();
    let norm = |features: &Features| {
        features
            .words
            .values()
            .map(|c| f64::from(*c).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 {
        return 0.0;
    }
    (dot / denominator).min(1.0)
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::page::analyse;

    fn features(html: &str) -> Features {
        analyse(html, &reqwest::Url::parse("https://a.test/").unwrap()).features
    }

    #[test]
    fn identical_pages_score_one_and_empty_pages_zero() {
        let html = "<body><div class=a><p>hello world</p><p>sign in</p></div></body>";
        let same = compare(&features(html), &features(html));
        assert_eq!(same.score, 1.0);
        let empty = compare(&features("<body></body>"), &features(html));
        assert_eq!(empty.text, 0.0);
        assert!(empty.score < 0.5, "{empty:?}");
    }

    #[test]
    fn bands_follow_thresholds() {
        let band = |score| {
            Similarity {
                structure: 0.0,
                text: 0.0,
                score,
            }
            .band()
        };
        assert_eq!(band(0.9), "clone");
        assert_eq!(band(0.5), "resembles");
        assert_eq!(band(0.1), "different");
    }
}
