//! The matcher on any host name, URL or text line, against a fixed watchlist.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    Matcher::compile(&[BrandSpec {
        id: "acme".into(),
        brand: "Acme Bank".into(),
        keywords: vec![KeywordSpec::new("acmebank"), KeywordSpec {
            text: "acme".into(),
            word_boundary: true,
        }],
        legitimate: vec!["acmebank.com".into(), "acme.co.uk".into()],
        allow: vec!["acme-partner.example".into()],
    }])
    .expect("the fuzz watchlist compiles")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(found)) = MATCHER.check_input(text) {
        assert!(found.score <= 100);
        let _ = found.to_finding("fuzz", time::OffsetDateTime::UNIX_EPOCH);
    }
});
