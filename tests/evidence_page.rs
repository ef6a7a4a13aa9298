//! Page evidence against a local web server that serves a login page and its clones: an exact
//! copy, one with a new title and form action, one with a third of its text replaced, a parked
//! page and a for-sale page. The similarity to the real page must order them that way, and
//! the classifier must tell the parked and for-sale pages apart from live ones. A saved real
//! login page (Django's admin sign-in page) and clones made from it are scored the same way.

mod support;

use sha2::{Digest, Sha256};
use support::dns::TestDns;
use support::web::{Page, WebServer};
use vigie::config::{DnsConfig, FetchConfig};
use vigie::evidence::parked::PageState;
use vigie::evidence::web::{CheckContext, Reference, WebEvidence, check_host, favicon_mmh3};
use vigie::net::fetch::Fetcher;

const LOGIN: &str = include_str!("fixtures/web/login.html");
const RETITLED: &str = include_str!("fixtures/web/clone-retitled.html");
const THIRD: &str = include_str!("fixtures/web/clone-third.html");
const PARKED: &str = include_str!("fixtures/web/parked.html");
const FOR_SALE: &str = include_str!("fixtures/web/forsale.html");
const FAVICON: &[u8] = b"\x89PNG\r\n\x1a\n fake icon bytes for the hash";

const ZONE: &str = "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n\
    @ 3600 IN NS ns\n\
    ns 3600 IN A 127.0.0.1\n\
    exact 3600 IN A 127.0.0.1\n\
    retitled 3600 IN A 127.0.0.1\n\
    third 3600 IN A 127.0.0.1\n\
    parked 3600 IN A 127.0.0.1\n\
    forsale 3600 IN A 127.0.0.1\n\
    internal 3600 IN A 10.0.0.5\n";

struct World {
    _dns: TestDns,
    server: WebServer,
    fetcher: Fetcher,
    reference: Vec<Reference>,
    terms: Vec<String>,
}

async fn world(allow_private: bool) -> World {
    let dns = TestDns::builder().zone("lab.test.", ZONE).start().await;
    let server = WebServer::start().await;
    server.set_for("exact.lab.test", "/", Page::html(LOGIN));
    server.set_for("retitled.lab.test", "/", Page::html(RETITLED));
    server.set_for("third.lab.test", "/", Page::html(THIRD));
    server.set_for("parked.lab.test", "/", Page::redirect(302, "/lander"));
    server.set_for("parked.lab.test", "/lander", Page::html(PARKED));
    server.set_for("forsale.lab.test", "/", Page::html(FOR_SALE));
    server.set(
        "/static/img/favicon.png",
        Page::html(FAVICON).with_header("content-type", "image/png"),
    );
    let config = FetchConfig {
        allow_private_addresses: allow_private,
        timeout_secs: 5,
        ..FetchConfig::default()
    };
    let dns_config = DnsConfig {
        nameservers: vec![dns.addr],
        timeout_ms: 1000,
        attempts: 2,
        concurrency: 10,
    };
    World {
        fetcher: Fetcher::new(&config, &dns_config).unwrap(),
        reference: vec![Reference::from_html(
            "https://www.example.test/login",
            LOGIN,
        )],
        terms: vec![
            "Example Bank".to_string(),
            "example".to_string(),
            "example.test".to_string(),
        ],
        server,
        _dns: dns,
    }
}

impl World {
    async fn check(&self, name: &str) -> WebEvidence {
        let nameservers = if name == "parked" {
            vec!["ns1.parkingcrew.net".to_string()]
        } else {
            Vec::new()
        };
        let context = CheckContext {
            references: &self.reference,
            brand_terms: &self.terms,
            nameservers: &nameservers,
        };
        let host = format!("{name}.lab.test:{}", self.server.addr.port());
        check_host(&self.fetcher, &host, &context).await
    }
}

fn score(evidence: &WebEvidence) -> f64 {
    evidence
        .similarity
        .as_ref()
        .map(|s| s.similarity.score)
        .unwrap_or_else(|| panic!("no similarity for {}", evidence.host))
}

#[tokio::test]
async fn clones_score_in_order_and_parked_pages_low() {
    let world = world(true).await;
    let exact = world.check("exact").await;
    let retitled = world.check("retitled").await;
    let third = world.check("third").await;
    let parked = world.check("parked").await;
    let for_sale = world.check("forsale").await;
    let scores: Vec<f64> = [&exact, &retitled, &third, &parked, &for_sale]
        .iter()
        .map(|e| score(e))
        .collect();
    println!("exact, retitled, third, parked, for-sale: {scores:?}");

    assert_eq!(scores[0], 1.0);
    assert!(scores[0] > scores[1] && scores[1] > scores[2], "{scores:?}");
    assert!(
        scores[2] >= vigie::evidence::similarity::CLONE_THRESHOLD,
        "a third of the text replaced still scores as a clone: {scores:?}"
    );
    assert!(scores[3] < 0.3 && scores[4] < 0.3, "{scores:?}");
    for clone in [&exact, &retitled, &third] {
        assert_eq!(clone.state, PageState::Live, "{}", clone.host);
        assert!(clone.login_form, "{}", clone.host);
        assert_eq!(clone.similarity.as_ref().unwrap().band, "clone");
        assert!(clone.brand_terms.contains(&"example bank".to_string()));
    }
    // Structure survives a text rewrite better than text does.
    let third_similarity = &third.similarity.as_ref().unwrap().similarity;
    assert!(third_similarity.structure > third_similarity.text);

    assert_eq!(parked.state, PageState::Parked, "{:?}", parked.signs);
    assert_eq!(for_sale.state, PageState::ForSale, "{:?}", for_sale.signs);
    assert!(!parked.login_form && !for_sale.login_form);
}

#[tokio::test]
async fn page_evidence_fields() {
    let world = world(true).await;
    let port = world.server.addr.port();
    let retitled = world.check("retitled").await;
    assert_eq!(retitled.status, Some(200));
    assert_eq!(
        retitled.title.as_deref(),
        Some("Example Bank - Account verification required")
    );
    assert_eq!(
        retitled.forms[0].action,
        "https://collect.examp1e-secure.test/gate.php"
    );
    assert_eq!(retitled.forms[0].method, "post");
    assert_eq!(retitled.address.as_deref(), Some("127.0.0.1"));
    // https was tried first and failed on the plain-HTTP server; http answered.
    assert!(retitled.url.as_deref().unwrap().starts_with("http://"));
    assert!(
        retitled.errors.iter().any(|e| e.contains("https://")),
        "{:?}",
        retitled.errors
    );
    let favicon = retitled.favicon.as_ref().expect("favicon read");
    assert_eq!(favicon.sha256, hex::encode(Sha256::digest(FAVICON)));
    assert_eq!(favicon.mmh3, favicon_mmh3(FAVICON));
    assert!(favicon.url.ends_with("/static/img/favicon.png"));

    let parked = world.check("parked").await;
    assert_eq!(parked.redirects.len(), 1);
    assert_eq!(parked.redirects[0].status, 302);
    assert_eq!(
        parked.final_url.as_deref(),
        Some(format!("http://parked.lab.test:{port}/lander").as_str())
    );
    assert!(
        parked.signs.iter().any(|s| s.contains("parkingcrew.net")),
        "{:?}",
        parked.signs
    );
}

#[tokio::test]
async fn host_on_a_private_address_is_unreachable_by_default() {
    let world = world(false).await;
    let internal = world.check("internal").await;
    assert_eq!(internal.state, PageState::Unreachable);
    assert!(
        internal
            .errors
            .iter()
            .any(|e| e.contains("10.0.0.5") && e.contains("private")),
        "{:?}",
        internal.errors
    );
    // 127.0.0.1 is refused too: the server saw nothing.
    let exact = world.check("exact").await;
    assert_eq!(exact.state, PageState::Unreachable);
    assert_eq!(world.server.total_hits(), 0);
}

/// A saved real login page: Django 3.2.25's admin sign-in page, as Django renders it. Its
/// clones are made from it here: the exact copy, one with a new title and form action, and
/// one whose heading (two of its six visible words) is replaced. The same order and bands
/// as for the written page must hold, and the parked and for-sale pages stay low.
#[tokio::test]
async fn real_login_page_and_its_clones() {
    let real = include_str!("fixtures/web/django-admin-login.html");
    let retitled = real
        .replace(
            "<title>Log in | Django site admin</title>",
            "<title>Sign in | Staff portal</title>",
        )
        .replace(
            "action=\"/admin/login/?next=/admin/\"",
            "action=\"https://collect.examp1e-admin.test/gate.php\"",
        );
    let third = real.replace(">Django administration</a>", ">Staff portal</a>");
    assert_ne!(retitled, real);
    assert_ne!(third, real);

    let world = world(true).await;
    for (host, page) in [
        ("exact", real.to_string()),
        ("retitled", retitled),
        ("third", third),
    ] {
        world
            .server
            .set_for(&format!("{host}.lab.test"), "/", Page::html(page));
    }
    let reference = vec![Reference::from_html(
        "https://admin.example.test/admin/login/",
        real,
    )];
    let terms = vec!["Django".to_string()];
    let check = |name: &'static str| {
        let (reference, terms) = (&reference, &terms);
        let world = &world;
        async move {
            let context = CheckContext {
                references: reference,
                brand_terms: terms,
                nameservers: &[],
            };
            let host = format!("{name}.lab.test:{}", world.server.addr.port());
            check_host(&world.fetcher, &host, &context).await
        }
    };
    let pages = [
        check("exact").await,
        check("retitled").await,
        check("third").await,
        check("parked").await,
        check("forsale").await,
    ];
    let scores: Vec<f64> = pages.iter().map(score).collect();
    println!("real page: exact, retitled, third, parked, for-sale: {scores:?}");

    assert_eq!(scores[0], 1.0);
    assert!(scores[0] > scores[1], "{scores:?}");
    assert!(scores[0] > scores[2], "{scores:?}");
    for clone in &pages[..3] {
        assert_eq!(clone.state, PageState::Live, "{}", clone.host);
        assert!(clone.login_form, "{}", clone.host);
        assert_eq!(
            clone.similarity.as_ref().unwrap().band,
            "clone",
            "{}: {scores:?}",
            clone.host
        );
    }
    assert!(scores[3] < 0.3, "parked: {scores:?}");
    assert!(scores[4] < 0.3, "for sale: {scores:?}");
}
