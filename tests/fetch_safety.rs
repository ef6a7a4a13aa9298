//! The safe fetcher against the ways a hostile domain reaches an internal address: a name
//! that resolves to one, an IP literal, a redirect, and a DNS answer that changes between two
//! resolutions (rebinding). Also its limits: body size, redirects, time, cookies, User-Agent.
//!
//! Every server here listens on 127.0.0.1 or 127.0.0.2. The non-loopback addresses of the
//! DNS answers are refused before any connection, which is what the tests check.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::dns::TestDns;
use support::web::{Page, WebServer, pair_on};
use vigie::config::{DnsConfig, FetchConfig};
use vigie::net::fetch::{FetchError, Fetcher};

/// Names of the `lab.test.` zone, one for each class of address the fetcher refuses.
const CLASSES: &[(&str, &str)] = &[
    ("loopback", "A 127.0.0.1"),
    ("loopback-other", "A 127.9.9.9"),
    ("private-10", "A 10.0.0.5"),
    ("private-172", "A 172.16.0.1"),
    ("private-192", "A 192.168.1.1"),
    ("link-local", "A 169.254.169.254"),
    ("cgnat", "A 100.64.0.1"),
    ("multicast", "A 224.0.0.251"),
    ("broadcast", "A 255.255.255.255"),
    ("unspecified", "A 0.0.0.0"),
    ("documentation", "A 192.0.2.10"),
    ("documentation-2", "A 198.51.100.10"),
    ("documentation-3", "A 203.0.113.10"),
    ("reserved", "A 240.0.0.1"),
    ("benchmarking", "A 198.18.0.1"),
    ("loopback6", "AAAA ::1"),
    ("unique-local6", "AAAA fd00::5"),
    ("link-local6", "AAAA fe80::1"),
    ("multicast6", "AAAA ff02::1"),
    ("documentation6", "AAAA 2001:db8::1"),
    ("mapped-loopback", "AAAA ::ffff:127.0.0.1"),
    ("mapped-private", "AAAA ::ffff:10.0.0.5"),
    ("nat64-private", "AAAA 64:ff9b::a00:5"),
    ("sixtofour-private", "AAAA 2002:a00:5::1"),
];

fn zone(extra: &str) -> String {
    let mut text = String::from(
        "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n",
    );
    for (name, record) in CLASSES {
        text.push_str(&format!("{name} 3600 IN {record}\n"));
    }
    text.push_str("allowed 3600 IN A 127.0.0.2\n");
    text.push_str(extra);
    text
}

fn dns_config(dns: &TestDns) -> DnsConfig {
    DnsConfig {
        nameservers: vec![dns.addr],
        timeout_ms: 1000,
        attempts: 2,
        concurrency: 10,
    }
}

fn fetch_config() -> FetchConfig {
    FetchConfig {
        timeout_secs: 5,
        connect_timeout_secs: 2,
        ..FetchConfig::default()
    }
}

fn refused_class(result: Result<vigie::net::fetch::Fetched, FetchError>) -> String {
    match result {
        Err(FetchError::Refused { class, .. }) => class.to_string(),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(fetched) => panic!("expected a refusal, got HTTP {}", fetched.status),
    }
}

#[tokio::test]
async fn names_resolving_to_every_non_public_class_are_refused() {
    let dns = TestDns::builder()
        .zone("lab.test.", &zone(""))
        .start()
        .await;
    let server = WebServer::start().await;
    server.set("/", Page::html("<title>internal</title>"));
    let port = server.addr.port();
    let fetcher = Fetcher::new(&fetch_config(), &dns_config(&dns)).unwrap();

    for (name, record) in CLASSES {
        let url = format!("http://{name}.lab.test:{port}/");
        let class = refused_class(fetcher.get(&url).await);
        assert!(!class.is_empty(), "{name} ({record})");
        let message = fetcher.get(&url).await.unwrap_err().to_string();
        assert!(
            message.contains(&format!("{name}.lab.test")) && message.contains("allow_private"),
            "{message}"
        );
    }
    assert_eq!(server.total_hits(), 0, "no request reached the server");

    // The same name is fetched once the explicit setting allows private addresses, so the
    // refusals above came from the policy and not from a broken server.
    let open = FetchConfig {
        allow_private_addresses: true,
        ..fetch_config()
    };
    let lab = Fetcher::new(&open, &dns_config(&dns)).unwrap();
    let fetched = lab
        .get(&format!("http://loopback.lab.test:{port}/"))
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test]
async fn ip_literals_of_every_form_are_refused() {
    let dns = TestDns::builder()
        .zone("lab.test.", &zone(""))
        .start()
        .await;
    let server = WebServer::start().await;
    server.set("/", Page::html("internal"));
    let port = server.addr.port();
    let fetcher = Fetcher::new(&fetch_config(), &dns_config(&dns)).unwrap();

    for host in [
        "127.0.0.1".to_string(),
        "[::1]".to_string(),
        "[::ffff:127.0.0.1]".to_string(),
        "[::ffff:7f00:1]".to_string(),
        "0x7f.1".to_string(),
        "2130706433".to_string(),
        "0177.0.0.1".to_string(),
        "127.1".to_string(),
        "0.0.0.0".to_string(),
        "10.0.0.5".to_string(),
        "169.254.169.254".to_string(),
        "[fe80::1]".to_string(),
    ] {
        let url = format!("http://{host}:{port}/");
        refused_class(fetcher.get(&url).await);
    }
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test]
async fn redirects_to_internal_addresses_are_refused() {
    let dns = TestDns::builder()
        .zone("lab.test.", &zone("internal 3600 IN A 127.0.0.1\n"))
        .start()
        .await;
    let (outside, inside) =
        pair_on("127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap()).await;
    let port = outside.addr.port();
    inside.set("/secret", Page::html("internal admin page"));
    outside.set(
        "/to-literal",
        Page::redirect(302, &format!("http://127.0.0.1:{port}/secret")),
    );
    outside.set(
        "/to-name",
        Page::redirect(301, &format!("http://internal.lab.test:{port}/secret")),
    );
    outside.set(
        "/to-mapped",
        Page::redirect(307, &format!("http://[::ffff:127.0.0.1]:{port}/secret")),
    );
    outside.set("/to-file", Page::redirect(302, "file:///etc/passwd"));

    // 127.0.0.2 stands for a public address: the only network this fetcher allows.
    let config = FetchConfig {
        allow_networks: vec!["127.0.0.2/32".parse().unwrap()],
        ..fetch_config()
    };
    let fetcher = Fetcher::new(&config, &dns_config(&dns)).unwrap();
    for (path, class) in [
        ("/to-literal", "loopback"),
        ("/to-name", "loopback"),
        ("/to-mapped", "IPv4-mapped"),
    ] {
        let url = format!("http://allowed.lab.test:{port}{path}");
        assert_eq!(refused_class(fetcher.get(&url).await), class, "{path}");
    }
    let error = fetcher
        .get(&format!("http://allowed.lab.test:{port}/to-file"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not http or https"), "{error}");

    assert_eq!(outside.total_hits(), 4);
    assert_eq!(
        inside.hits("/secret"),
        0,
        "the internal page was never asked"
    );
}

#[tokio::test]
async fn dns_rebinding_never_reaches_the_second_address() {
    let first = zone("rebind 3600 IN A 127.0.0.2\n");
    let second = "@ 3600 IN SOA ns hostmaster 2 7200 900 1209600 300\n@ 3600 IN NS ns\n\
                  rebind 3600 IN A 127.0.0.1\n";
    let dns = TestDns::builder()
        .zone("lab.test.", &first)
        .rebind("rebind.lab.test", "lab.test.", second)
        .start()
        .await;
    let (outside, inside) =
        pair_on("127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap()).await;
    let port = outside.addr.port();
    for server in [&outside, &inside] {
        server.set("/", Page::redirect(302, "/next"));
        server.set("/next", Page::html("page"));
    }
    let config = FetchConfig {
        allow_networks: vec!["127.0.0.2/32".parse().unwrap()],
        ..fetch_config()
    };
    let url = format!("http://rebind.lab.test:{port}/");

    // Each fetcher has its own connection pool, so each one resolves the name again.
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let fetcher = Fetcher::new(&config, &dns_config(&dns)).unwrap();
        outcomes.push(match fetcher.get(&url).await {
            Ok(fetched) => {
                let address = fetched.address.map(|a| a.ip());
                assert_eq!(address, Some("127.0.0.2".parse::<IpAddr>().unwrap()));
                "fetched from the checked address".to_string()
            }
            Err(FetchError::Refused { address, .. }) => {
                assert_eq!(address, "127.0.0.1".parse::<IpAddr>().unwrap());
                "refused".to_string()
            }
            Err(other) => panic!("unexpected error: {other}"),
        });
    }
    assert_eq!(outcomes[0], "fetched from the checked address");
    assert!(outcomes[1..].iter().all(|o| o == "refused"), "{outcomes:?}");
    assert_eq!(inside.total_hits(), 0, "the rebound address got no request");
}

#[tokio::test]
async fn limits_body_redirects_and_time() {
    let dns = TestDns::builder()
        .zone("lab.test.", &zone(""))
        .start()
        .await;
    let server = WebServer::start().await;
    server.set("/big", Page::html(vec![b'a'; 100_000]));
    server.set("/loop", Page::redirect(302, "/loop"));
    for step in 1..=5 {
        server.set(
            &format!("/chain{step}"),
            Page::redirect(302, &format!("/chain{}", step + 1)),
        );
    }
    server.set(
        "/slow",
        Page::html("late").with_delay(Duration::from_secs(10)),
    );
    let config = FetchConfig {
        allow_private_addresses: true,
        max_body_bytes: 4096,
        max_redirects: 3,
        timeout_secs: 1,
        ..fetch_config()
    };
    let fetcher = Fetcher::new(&config, &dns_config(&dns)).unwrap();
    let base = server.url_for("loopback.lab.test", "");

    let big = fetcher.get(&format!("{base}/big")).await.unwrap();
    assert_eq!(big.body.len(), 4096);
    assert!(big.truncated);

    let looped = fetcher.get(&format!("{base}/loop")).await.unwrap_err();
    assert!(
        matches!(looped, FetchError::RedirectLoop { .. }),
        "{looped}"
    );
    assert_eq!(server.hits("/loop"), 1, "a loop stops at the first repeat");

    let long = fetcher.get(&format!("{base}/chain1")).await.unwrap_err();
    assert!(
        matches!(long, FetchError::TooManyRedirects { limit: 3, .. }),
        "{long}"
    );
    let hits: usize = (1..=5)
        .map(|step| server.hits(&format!("/chain{step}")))
        .sum();
    assert_eq!(hits, 4, "first request and three redirects");

    let started = std::time::Instant::now();
    let slow = fetcher.get(&format!("{base}/slow")).await.unwrap_err();
    assert!(slow.to_string().contains("fetch.timeout_secs"), "{slow}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn sends_the_user_agent_and_keeps_no_cookie() {
    let dns = TestDns::builder()
        .zone("lab.test.", &zone(""))
        .start()
        .await;
    let server = WebServer::start().await;
    server.set(
        "/set",
        Page::redirect(302, "/check").with_header("set-cookie", "session=stolen; Path=/"),
    );
    server.set("/check", Page::html("ok"));
    let config = FetchConfig {
        allow_private_addresses: true,
        user_agent: "vigie-test-agent/1".to_string(),
        ..fetch_config()
    };
    let fetcher = Fetcher::new(&config, &dns_config(&dns)).unwrap();
    let base = server.url_for("loopback.lab.test", "");

    let fetched = fetcher.get(&format!("{base}/set")).await.unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.redirects.len(), 1);
    assert_eq!(fetched.redirects[0].status, 302);
    assert!(fetched.final_url.as_str().ends_with("/check"));
    fetcher.get(&format!("{base}/check")).await.unwrap();
    let headers = server.last_headers("/check").unwrap();
    assert_eq!(headers["user-agent"], "vigie-test-agent/1");
    assert!(headers.get("cookie").is_none(), "no cookie sent back");
}

/// Credentials a source sends (an API token) go to the first server and its own redirects,
/// never to another origin that a redirect points at. A JSON POST is not redirected.
#[tokio::test]
async fn credentials_stay_with_the_first_origin() {
    let (first, other) = pair_on("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap()).await;
    first.set("/api", Page::redirect(302, "/api/v2"));
    first.set(
        "/api/v2",
        Page::redirect(302, &other.url_for("127.0.0.2", "/elsewhere")),
    );
    other.set("/elsewhere", Page::json("{}"));
    first.set(
        "/login",
        Page::redirect(307, &other.url_for("127.0.0.2", "/elsewhere")),
    );
    let config = FetchConfig {
        allow_private_addresses: true,
        ..fetch_config()
    };
    let dns = DnsConfig {
        nameservers: vec!["127.0.0.1:9".parse().unwrap()],
        timeout_ms: 100,
        attempts: 1,
        concurrency: 1,
    };
    let fetcher = Fetcher::new(&config, &dns).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", "Bearer token-1".parse().unwrap());
    headers.insert("x-api-hint", "kept".parse().unwrap());

    let request = vigie::net::fetch::Request {
        headers: headers.clone(),
        json: None,
    };
    let fetched = fetcher
        .send(&first.url_for("127.0.0.1", "/api"), request)
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.redirects.len(), 2);
    let same_origin = first.last_headers("/api/v2").unwrap();
    assert_eq!(same_origin["authorization"], "Bearer token-1");
    let elsewhere = other.last_headers("/elsewhere").unwrap();
    assert!(elsewhere.get("authorization").is_none(), "{elsewhere:?}");
    assert_eq!(elsewhere["x-api-hint"], "kept");

    let body = serde_json::json!({"identifier": "watcher"});
    let request = vigie::net::fetch::Request {
        headers,
        json: Some(&body),
    };
    let posted = fetcher
        .send(&first.url_for("127.0.0.1", "/login"), request)
        .await
        .unwrap();
    assert_eq!(posted.status, 307, "the POST answer is returned as it is");
    assert!(posted.redirects.is_empty());
    assert_eq!(
        other.hits("/elsewhere"),
        1,
        "only the GET reached the other origin"
    );
}
