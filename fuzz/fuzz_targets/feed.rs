//! Feed parsing on any body (RSS 0.9x/1.0/2.0, Atom, JSON Feed): items or an error, never a
//! panic or a hang.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vigie::config::{FeedConfig, FetchSettings};
use vigie::sources::feed::{html_text, parse_items};

static FEED: LazyLock<FeedConfig> = LazyLock::new(|| FeedConfig {
    name: "fuzz".into(),
    url: "https://feed.example/rss".into(),
    interval_secs: 900,
    max_items: 500,
    fetch: FetchSettings {
        timeout_secs: 30,
        max_bytes: 5 * 1024 * 1024,
        max_redirects: 5,
        user_agent: "vigie-fuzz".into(),
        allow_private_addresses: false,
    },
});

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = parse_items(&FEED, &FEED.url, data) {
        assert!(items.len() <= FEED.max_items);
        for (item, keys) in &items {
            assert_eq!(item.source, "feed:fuzz");
            assert!(!keys.is_empty());
        }
    }
    // The HTML of an entry's summary or content goes through html_text.
    let mut links = Vec::new();
    let _ = html_text(&String::from_utf8_lossy(data), &mut links);
});
