//! HTML extraction on any body: the web evidence page analysis and the scam_repository
//! selectors (list page and item page). A result, never a panic or a hang.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vigie::config::{FetchSettings, ScamRepositoryConfig};
use vigie::evidence::page::analyse;
use vigie::sources::http::{Page, Validators};
use vigie::sources::scam_repository::extract;

static SITE: LazyLock<ScamRepositoryConfig> = LazyLock::new(|| ScamRepositoryConfig {
    name: "fuzz".into(),
    url: "https://reports.example/list".into(),
    interval_secs: 3600,
    delay_ms: 2000,
    robots_txt: true,
    max_pages: 3,
    max_items: 50,
    item_links: "ul.emails li a, td > a[href]".into(),
    next_page: Some("a.next, link[rel=next]".into()),
    fields: BTreeMap::from([
        ("sender".to_string(), "p.from".to_string()),
        ("reply_to".to_string(), "p.reply-to".to_string()),
        ("subject".to_string(), "p.subject, h1".to_string()),
        ("date".to_string(), "p.date".to_string()),
        ("body".to_string(), "pre.body, div.body p".to_string()),
    ]),
    fetch: FetchSettings {
        timeout_secs: 30,
        max_bytes: 5 * 1024 * 1024,
        max_redirects: 5,
        user_agent: "vigie-fuzz".into(),
        allow_private_addresses: false,
    },
});

static URL: LazyLock<url::Url> =
    LazyLock::new(|| url::Url::parse("https://login.acmebank-verify.example/a/b").unwrap());

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let page = analyse(&html, &URL);
    assert!(page.forms.iter().all(|f| !f.method.is_empty()) || page.forms.is_empty());

    let fetched = Page {
        url: SITE.url.clone(),
        content_type: Some("text/html".into()),
        body: data.to_vec(),
        validators: Validators::default(),
    };
    let found = extract(&SITE, &fetched);
    for link in found.item_links.iter().chain(found.next_page.iter()) {
        assert!(
            link.starts_with("http://") || link.starts_with("https://"),
            "{link}"
        );
    }
});
