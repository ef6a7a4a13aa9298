//! Mail analysis on any bytes: a report or an error, never a panic or a hang.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vigie::detect::{BrandSpec, KeywordSpec, Matcher};
use vigie::mail::{MailSettings, analyze};

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    Matcher::compile(&[BrandSpec {
        id: "acme".into(),
        brand: "Acme Bank".into(),
        keywords: vec![KeywordSpec::new("acmebank")],
        legitimate: vec!["acmebank.com".into()],
        allow: Vec::new(),
    }])
    .expect("the fuzz watchlist compiles")
});

fuzz_target!(|data: &[u8]| {
    let settings = MailSettings::default();
    let _ = analyze(data, &MATCHER, &settings);
});
