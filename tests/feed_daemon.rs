//! The `vigie run` daemon with a `[feed.NAME]` table: a feed served on 127.0.0.1 reaches the
//! webhook as alerts that name the feed, the item and the text found.

mod support;

use std::time::Duration;

use support::daemon::{DaemonConfig, Endpoints};
use support::dns::TestDns;
use support::feed_web::{Reply, WebServer};
use support::webhook::WebhookReceiver;

const SECRET: &str = "feed-daemon-secret";

const FEED: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Reports</title><link>https://reports.test/</link>
<description>Test feed</description>
<item>
<title>Fake Example Test support line</title>
<link>https://reports.test/items/42</link>
<guid>item-42</guid>
<description>A page at https://example-help.test/login asks Example Test customers for their password.</description>
</item>
</channel></rss>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_item_reaches_the_webhook() {
    let dns = TestDns::standard().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let server = WebServer::start().await;
    server.set("/feed.xml", Reply::ok("application/rss+xml", FEED));
    let closed_smtp = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_smtp,
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    let mut text = std::fs::read_to_string(config.path()).unwrap();
    text.push_str(&format!(
        "\n[feed.reports]\nurl = \"{}\"\ninterval_secs = 60\nallow_private_addresses = true\n",
        server.url("/feed.xml")
    ));
    std::fs::write(config.path(), text).unwrap();
    let _daemon = config.start(None, None);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let arrived = loop {
        let both = webhook.alert_for("example-help.test").is_some()
            && webhook.alert_for("https://reports.test/items/42").is_some();
        if both || tokio::time::Instant::now() > deadline {
            break both;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        arrived,
        "alerts: {:?}\nlog:\n{}",
        webhook.subjects(),
        config.log()
    );

    let domain = webhook.alert_for("example-help.test").unwrap();
    assert_eq!(domain["source"], "feed:reports");
    assert_eq!(domain["kind"], "lookalike-domain");
    let reasons = domain["reasons"].to_string();
    assert!(
        reasons.contains("named in feed:reports item 'Fake Example Test support line'"),
        "{reasons}"
    );
    let mention = webhook.alert_for("https://reports.test/items/42").unwrap();
    assert_eq!(mention["kind"], "brand-mention");
    assert!(
        mention["reasons"].to_string().contains("password"),
        "{}",
        mention["reasons"]
    );
    assert!(
        mention["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "url" && i["defanged"] == "hxxps://reports[.]test/items/42")
    );
    assert_eq!(server.seen_on("/feed.xml").len(), 1, "one read a minute");
}
