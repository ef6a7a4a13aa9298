//! RDAP against a local server that answers with the shapes real registries use: a domain
//! answer with a registrar and a nested abuse contact (a gTLD registry's shape), an address
//! answer with a nested abuse contact and origin AS numbers (ARIN's shape), one with a
//! top-level abuse contact and a country (RIPE's shape). The bootstrap files are downloaded
//! from the same server and cached; the shipped copies stand in when nothing is downloaded.

mod support;

use std::time::Duration;

use support::dns::TestDns;
use support::web::{Page, WebServer};
use vigie::config::{DnsConfig, FetchConfig};
use vigie::evidence::rdap::{Bootstrap, RdapClient, RdapError};
use vigie::net::fetch::Fetcher;

const DOMAIN: &str = include_str!("fixtures/rdap/domain.json");
const IP_ARIN: &str = include_str!("fixtures/rdap/ip-arin.json");
const IP_RIPE: &str = include_str!("fixtures/rdap/ip-ripe.json");

const ZONE: &str = "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n\
    @ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\nrdap 3600 IN A 127.0.0.1\n";

struct World {
    _dns: TestDns,
    server: WebServer,
    fetcher: Fetcher,
    base: String,
}

async fn world() -> World {
    let dns = TestDns::builder().zone("lab.test.", ZONE).start().await;
    let server = WebServer::start().await;
    let base = server.url_for("rdap.lab.test", "");
    server.set(
        "/iana/dns.json",
        Page::json(format!(
            r#"{{"description":"RDAP bootstrap file for Domain Name System registrations",
            "publication":"2026-12-01T00:00:00Z","version":"1.0",
            "services":[[["test","example"],["{base}/registry/"]]]}}"#
        )),
    );
    server.set(
        "/iana/ipv4.json",
        Page::json(format!(
            r#"{{"description":"RDAP bootstrap file for IPv4 address allocations",
            "publication":"2026-12-01T00:00:00Z","version":"1.0",
            "services":[[["127.0.0.0/8"],["{base}/rir/"]]]}}"#
        )),
    );
    server.set("/registry/domain/examp1e.test", Page::json(DOMAIN));
    server.set(
        "/registry/domain/broken.test",
        Page::html("<html>maintenance</html>"),
    );
    server.set("/rir/ip/127.0.0.1", Page::json(IP_ARIN));
    server.set("/rir/ip/127.0.0.2", Page::json(IP_RIPE));
    // The fallback server redirects to the registry that holds the address, as ARIN does.
    server.set(
        "/fallback/ip/::1",
        Page::redirect(301, &format!("{base}/rir/ip/127.0.0.1")),
    );
    let fetch = FetchConfig {
        allow_private_addresses: true,
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
        fetcher: Fetcher::new(&fetch, &dns_config).unwrap(),
        base,
        server,
        _dns: dns,
    }
}

#[tokio::test]
async fn bootstrap_is_downloaded_once_and_cached() {
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    let iana = format!("{}/iana/", world.base);
    let day = Duration::from_secs(86_400);

    let bootstrap = Bootstrap::refresh(&world.fetcher, &iana, cache.path(), day)
        .await
        .unwrap();
    assert_eq!(
        bootstrap.publication.as_deref(),
        Some("2026-12-01T00:00:00Z")
    );
    assert!(cache.path().join("dns.json").is_file());
    assert!(cache.path().join("ipv4.json").is_file());
    assert!(
        !cache.path().join("ipv6.json").exists(),
        "404 is not cached"
    );
    assert_eq!(
        bootstrap.domain_server("www.examp1e.test"),
        Some(format!("{}/registry/", world.base).as_str())
    );

    let again = Bootstrap::refresh(&world.fetcher, &iana, cache.path(), day)
        .await
        .unwrap();
    assert_eq!(world.server.hits("/iana/dns.json"), 1, "fresh copy reused");
    assert_eq!(again.dns, bootstrap.dns);

    // A broken download does not replace the good copy, which stays in use.
    world.server.set("/iana/dns.json", Page::json("{not json"));
    let after_broken = Bootstrap::refresh(&world.fetcher, &iana, cache.path(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(world.server.hits("/iana/dns.json"), 2);
    assert_eq!(after_broken.dns, bootstrap.dns);
    let on_disk = Bootstrap::load(cache.path()).unwrap();
    assert_eq!(on_disk.dns, bootstrap.dns);
}

/// With IANA out of reach and nothing cached, the shipped copies are used. Nothing is
/// written to the cache, so the next refresh tries the download again.
#[tokio::test]
async fn shipped_bootstrap_stands_in_when_nothing_is_downloaded() {
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    let missing = format!("{}/nothing-here/", world.base);
    let bootstrap = Bootstrap::refresh(
        &world.fetcher,
        &missing,
        cache.path(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let shipped = Bootstrap::shipped();
    assert_eq!(bootstrap.dns, shipped.dns);
    assert_eq!(bootstrap.publication, shipped.publication);
    assert!(
        bootstrap
            .domain_server("examp1e-login.com")
            .is_some_and(|server| server.starts_with("https://rdap.verisign.com/")),
        "{:?}",
        bootstrap.domain_server("examp1e-login.com")
    );
    assert!(
        bootstrap
            .ip_server("8.8.8.8".parse().unwrap())
            .is_some_and(|server| server.contains("arin.net"))
    );
    assert_eq!(world.server.hits("/nothing-here/dns.json"), 1);
    assert!(!cache.path().join("dns.json").exists());

    // A bootstrap_dir without the files reads the shipped ones as well.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(Bootstrap::load(empty.path()).unwrap().dns, shipped.dns);
}

async fn client(world: &World) -> RdapClient {
    let cache = tempfile::tempdir().unwrap();
    let bootstrap = Bootstrap::refresh(
        &world.fetcher,
        &format!("{}/iana/", world.base),
        cache.path(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    RdapClient::new(
        world.fetcher.clone(),
        bootstrap,
        format!("{}/fallback/", world.base),
    )
}

#[tokio::test]
async fn domain_registration_data() {
    let world = world().await;
    let rdap = client(&world).await;
    let domain = rdap.domain("examp1e.test").await.unwrap();
    assert_eq!(
        domain.registrar.as_deref(),
        Some("Quick Names Registrar, LLC")
    );
    assert_eq!(domain.registrar_iana_id.as_deref(), Some("1068"));
    assert_eq!(domain.created.as_deref(), Some("2026-11-28T14:03:11Z"));
    assert_eq!(domain.expires.as_deref(), Some("2027-11-28T14:03:11Z"));
    assert_eq!(domain.updated.as_deref(), Some("2026-11-28T14:05:40Z"));
    assert_eq!(domain.status.len(), 3);
    assert_eq!(
        domain.nameservers,
        vec!["ns1.parkingcrew.net", "ns2.parkingcrew.net"]
    );
    assert_eq!(domain.abuse_email.as_deref(), Some("abuse@quicknames.test"));
    assert_eq!(domain.abuse_phone.as_deref(), Some("+1.5555550142"));
    assert_eq!(
        domain.registrant.as_deref(),
        Some("Privacy service provided by Withheld for Privacy ehf")
    );
    let headers = world
        .server
        .last_headers("/registry/domain/examp1e.test")
        .unwrap();
    let accept = headers["accept"].to_str().unwrap();
    assert!(accept.starts_with("application/rdap+json"), "{accept}");
}

#[tokio::test]
async fn network_of_an_address() {
    let world = world().await;
    let rdap = client(&world).await;

    let arin = rdap.ip("127.0.0.1".parse().unwrap()).await.unwrap();
    assert_eq!(arin.handle.as_deref(), Some("NET-127-0-0-0-1"));
    assert_eq!(arin.name.as_deref(), Some("FASTHOST-CLOUD-01"));
    assert_eq!(arin.range.as_deref(), Some("127.0.0.0 - 127.0.0.255"));
    assert_eq!(arin.cidrs, vec!["127.0.0.0/24"]);
    assert_eq!(arin.asns, vec![64500]);
    assert_eq!(arin.holder.as_deref(), Some("FastHost Cloud Inc."));
    assert_eq!(arin.abuse_email.as_deref(), Some("abuse@fasthost.test"));

    let ripe = rdap.ip("127.0.0.2".parse().unwrap()).await.unwrap();
    assert_eq!(ripe.country.as_deref(), Some("NL"));
    assert_eq!(ripe.holder.as_deref(), Some("Bullet Hosting B.V."));
    assert_eq!(ripe.abuse_email.as_deref(), Some("abuse@bullethost.test"));
    assert!(ripe.asns.is_empty());

    // ::1 is in no bootstrap file: the fallback server redirects to the right registry.
    let redirected = rdap.ip("::1".parse().unwrap()).await.unwrap();
    assert_eq!(redirected.name.as_deref(), Some("FASTHOST-CLOUD-01"));
}

#[tokio::test]
async fn bad_answers_name_the_query_and_the_server() {
    let world = world().await;
    let rdap = client(&world).await;

    let unknown_tld = rdap.domain("examp1e.zz").await.unwrap_err();
    assert!(matches!(unknown_tld, RdapError::NoServer(_)));
    assert!(unknown_tld.to_string().contains("examp1e.zz"));

    let html = rdap.domain("broken.test").await.unwrap_err();
    let message = html.to_string();
    assert!(
        message.contains("broken.test") && message.contains("/registry/domain/broken.test"),
        "{message}"
    );
    assert!(matches!(html, RdapError::Invalid { .. }));

    let missing = rdap.domain("nothing.test").await.unwrap_err();
    assert!(
        matches!(missing, RdapError::Status { status: 404, .. }),
        "{missing}"
    );
}
