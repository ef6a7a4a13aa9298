//! The daemon end to end, on real parts: `vigie run` as a process, an authoritative zone
//! served by hickory-server, Postfix delivering into Dovecot, and a webhook receiver that
//! checks signatures.

mod support;

use std::time::Duration;

use support::daemon::{DaemonConfig, Endpoints, NotifySocket, wait_until};
use support::dns::TestDns;
use support::mail::MailServers;
use support::webhook::WebhookReceiver;

const SECRET: &str = "webhook-test-secret";

/// Lookalikes of example.test that the test zone registers, besides the legitimate domain.
const REGISTERED: &[&str] = &["examp1e.test", "exarnple.test", "example-mail.test"];

/// Starts the test world's DNS with a root zone, so that every name outside the test zones
/// is NXDOMAIN instead of REFUSED.
async fn dns() -> TestDns {
    let mut builder = TestDns::builder().zone(
        ".",
        "@ 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300\n@ 3600 IN NS ns.test.\n",
    );
    for (origin, text) in support::dns::STANDARD_ZONES {
        builder = builder.zone(origin, text);
    }
    // A wildcard zone under which the subdomain fuzzer puts `exa.mple.test`.
    builder = builder.zone(
        "mple.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\n@ 3600 IN A 203.0.113.9\n* 3600 IN A 203.0.113.9\nns1 3600 IN A 203.0.113.53\n",
    );
    // A lookalike (transposition) of `other.test`, which a reload adds to the watchlist.
    builder = builder.zone(
        "otehr.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ 3600 IN NS ns1\n@ 3600 IN A 198.51.100.40\nns1 3600 IN A 198.51.100.53\n",
    );
    builder.start().await
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_lookalikes_alert_by_mail_and_webhook() {
    let dns = dns().await;
    let mail = MailServers::started();
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: mail.smtp_port,
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    let _daemon = config.start(None, None);

    let received = webhook
        .wait_for_count(REGISTERED.len(), Duration::from_secs(60))
        .await;
    assert!(
        received >= REGISTERED.len(),
        "webhook got {received} alerts; log:\n{}",
        config.log()
    );
    for domain in REGISTERED {
        let alert = webhook
            .alert_for(domain)
            .unwrap_or_else(|| panic!("no webhook alert for {domain}"));
        assert_eq!(alert["imitates"], "example.test");
        assert_eq!(alert["event"], "new");
        assert!(
            alert["techniques"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
        );

        let key = alert["idempotency_key"]
            .as_str()
            .expect("idempotency_key")
            .to_string();
        let message = mail.wait_for_message(&key, Duration::from_secs(60)).await;
        let defanged = domain.replace('.', "[.]");
        assert!(
            message.contains(&defanged),
            "mail for {domain} does not show {defanged}:\n{message}"
        );
        assert!(
            message.contains("Imitates: example.test"),
            "mail for {domain} does not name example.test:\n{message}"
        );
    }
    assert_eq!(webhook.bad_signatures(), 0, "a request had a bad signature");

    let subjects = config.finding_subjects();
    assert!(
        !subjects.contains(&"example.test".to_string()),
        "the legitimate domain was reported"
    );
    assert!(
        !subjects.contains(&"exa.mple.test".to_string()),
        "a name under a wildcard zone was reported: {subjects:?}"
    );
    for domain in REGISTERED {
        assert!(
            subjects.contains(&domain.to_string()),
            "{domain} missing from the findings: {subjects:?}"
        );
    }
    assert!(
        !subjects.contains(&"broken.test".to_string()),
        "a SERVFAIL name was reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_killed_before_delivery_delivers_once() {
    let dns = dns().await;
    let config = DaemonConfig::new();
    let down = Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: format!("http://127.0.0.1:{}/hook", closed_port()),
        webhook_secret: SECRET.to_string(),
    };
    config.write(&down);

    // First run: the sinks are down, so the alerts stay in the outbox. Kill -9 once they are
    // committed.
    let daemon = config.start(None, None);
    let swept = wait_until(Duration::from_secs(60), || {
        config.log().contains("Lookalike sweep finished")
    });
    assert!(swept, "the sweep did not finish; log:\n{}", config.log());
    let findings = config.finding_subjects();
    for domain in REGISTERED {
        assert!(
            findings.contains(&domain.to_string()),
            "{domain} missing from the findings: {findings:?}"
        );
    }
    let expected_rows = (findings.len() * 2) as i64;
    assert_eq!(
        config.outbox_counts().0,
        expected_rows,
        "not one alert per finding and sink"
    );
    assert_eq!(
        config.outbox_counts().1,
        0,
        "an alert was delivered while the sinks were down"
    );
    daemon.kill_hard();

    // Second run: the sinks are up.
    let mail = MailServers::started();
    let webhook = WebhookReceiver::start(SECRET).await;
    config.write(&Endpoints {
        smtp_port: mail.smtp_port,
        webhook_url: webhook.url(),
        ..down
    });
    let _daemon = config.start(None, None);
    let delivered = wait_until(Duration::from_secs(60), || {
        let (all, delivered) = config.outbox_counts();
        all > 0 && all == delivered
    });
    assert!(
        delivered,
        "outbox not emptied: {:?}; log:\n{}",
        config.outbox_counts(),
        config.log()
    );

    // Each alert arrives once: no second row, no second delivery.
    assert_eq!(
        config.outbox_counts().0,
        expected_rows,
        "the restart raised alerts again"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        webhook.count(),
        findings.len(),
        "webhook deliveries: {:?}",
        webhook.keys()
    );
    for key in webhook.keys() {
        mail.wait_for_message(&key, Duration::from_secs(30)).await;
        assert_eq!(
            mail.count_messages(&key).await,
            1,
            "alert mail {key} not delivered exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_broken_config_keeps_running() {
    let dns = dns().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    let endpoints = Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    };
    config.write(&endpoints);
    let notify = NotifySocket::bind(config.dir.path());
    let mut daemon = config.start(Some(&notify.path), Some(300_000));

    let ready = notify.wait_for("READY=1", Duration::from_secs(20));
    assert!(
        ready.is_ok(),
        "no READY=1: {ready:?}; log:\n{}",
        config.log()
    );
    let watchdog = notify.wait_for("WATCHDOG=1", Duration::from_secs(5));
    assert!(watchdog.is_ok(), "no WATCHDOG=1: {watchdog:?}");

    // A broken configuration: the reload fails and the daemon keeps the running one.
    let good = std::fs::read_to_string(config.path()).expect("read vigie.toml");
    std::fs::write(
        config.path(),
        good.replace("[dns]", "[dns]\nnameserverz = []"),
    )
    .expect("write");
    daemon.signal(libc::SIGHUP);
    let reloading = notify.wait_for("RELOADING=1", Duration::from_secs(10));
    assert!(reloading.is_ok(), "no RELOADING=1: {reloading:?}");
    let back = notify.wait_for("READY=1", Duration::from_secs(10));
    assert!(back.is_ok(), "no READY=1 after the failed reload: {back:?}");
    assert!(daemon.is_running(), "the daemon stopped on a bad reload");
    assert!(
        wait_until(Duration::from_secs(5), || config
            .log()
            .contains("Reload failed")),
        "the failed reload was not logged:\n{}",
        config.log()
    );
    assert!(
        config.log().contains("nameserverz"),
        "the log does not name the bad key:\n{}",
        config.log()
    );

    // The running configuration still delivers.
    let received = webhook
        .wait_for_count(REGISTERED.len(), Duration::from_secs(60))
        .await;
    assert!(
        received >= REGISTERED.len(),
        "webhook got {received}; log:\n{}",
        config.log()
    );

    // A good configuration that adds a domain to the watchlist: it reloads, and the new
    // domain is swept at once, not at the end of the running interval.
    std::fs::write(config.path(), good).expect("write");
    let watchlist = config.dir.path().join("watchlists").join("example.toml");
    let list = std::fs::read_to_string(&watchlist).expect("read the watchlist");
    std::fs::write(
        &watchlist,
        list.replace("[alerts]", "[[domains]]\nname = \"other.test\"\n\n[alerts]"),
    )
    .expect("write the watchlist");
    daemon.signal(libc::SIGHUP);
    // A reload first waits for the delivery in flight, which takes longer on a loaded machine.
    assert!(
        wait_until(Duration::from_secs(30), || config
            .log()
            .contains("Reloaded the configuration")),
        "the good reload was not logged:\n{}",
        config.log()
    );
    let reached = wait_until(Duration::from_secs(30), || {
        webhook.alert_for("otehr.test").is_some()
    });
    assert!(
        reached,
        "no alert for the new domain's lookalike after the reload; log:\n{}",
        config.log()
    );
    daemon.signal(libc::SIGTERM);
    let stopping = notify.wait_for("STOPPING=1", Duration::from_secs(10));
    assert!(stopping.is_ok(), "no STOPPING=1: {stopping:?}");
    let status = daemon.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "daemon did not exit cleanly: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_reload_with_hung_sink() {
    // A webhook receiver that reads each request and never answers, so the dispatcher has a
    // send in flight for the whole webhook timeout when SIGHUP arrives.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hung_port = hung.local_addr().expect("address").port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    let receiver = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            open.push(stream);
        }
    });

    let dns = dns().await;
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: format!("http://127.0.0.1:{hung_port}/hook"),
        webhook_secret: SECRET.to_string(),
    });
    let text = std::fs::read_to_string(config.path()).expect("read vigie.toml");
    let text = text
        .replace("shutdown_grace_secs = 5", "shutdown_grace_secs = 1")
        .replace("timeout_secs = 5", "timeout_secs = 120");
    std::fs::write(config.path(), text).expect("write vigie.toml");
    let notify = NotifySocket::bind(config.dir.path());
    let mut daemon = config.start(Some(&notify.path), None);

    let ready = notify.wait_for("READY=1", Duration::from_secs(20));
    assert!(
        ready.is_ok(),
        "no READY=1: {ready:?}; log:\n{}",
        config.log()
    );
    assert!(
        wait_until(Duration::from_secs(60), || connections
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0),
        "the webhook got no request; log:\n{}",
        config.log()
    );

    daemon.signal(libc::SIGHUP);
    let reloading = notify.wait_for("RELOADING=1", Duration::from_secs(10));
    assert!(reloading.is_ok(), "no RELOADING=1: {reloading:?}");
    daemon.signal(libc::SIGTERM);

    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some(),
        "vigie did not stop within 10 s of SIGTERM during a reload; log:\n{}",
        config.log()
    );
    receiver.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_generating_candidates() {
    // Fifty legitimate domains take the lookalike source several seconds of CPU to permute
    // (more in a debug build); SIGTERM in that time must still stop vigie within the grace.
    let dns = dns().await;
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: format!("http://127.0.0.1:{}/hook", closed_port()),
        webhook_secret: SECRET.to_string(),
    });
    let text = std::fs::read_to_string(config.path()).expect("read vigie.toml");
    std::fs::write(
        config.path(),
        text.replace("shutdown_grace_secs = 5", "shutdown_grace_secs = 1"),
    )
    .expect("write vigie.toml");
    let mut watchlist = String::from("[brand]\nname = \"Fifty\"\nkeywords = [\"fifty\"]\n");
    for index in 0..50 {
        watchlist.push_str(&format!(
            "\n[[domains]]\nname = \"brand{index:02}corp-online.test\"\nstatus = \"active\"\n"
        ));
    }
    std::fs::write(
        config.dir.path().join("watchlists").join("example.toml"),
        watchlist,
    )
    .expect("write the watchlist");
    let notify = NotifySocket::bind(config.dir.path());
    let mut daemon = config.start(Some(&notify.path), None);

    let ready = notify.wait_for("READY=1", Duration::from_secs(20));
    assert!(
        ready.is_ok(),
        "no READY=1: {ready:?}; log:\n{}",
        config.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal(libc::SIGTERM);

    let status = daemon.wait_exit(Duration::from_secs(4));
    assert!(
        status.is_some(),
        "vigie did not stop within 4 s of SIGTERM (grace 1 s); log:\n{}",
        config.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_right_after_ready() {
    // systemd may send a reload as soon as it reads READY=1; SIGHUP's default action ends
    // the process, so vigie must handle it before it reports ready.
    let dns = dns().await;
    for round in 0..5 {
        let config = DaemonConfig::new();
        config.write(&Endpoints {
            dns: dns.addr,
            smtp_port: closed_port(),
            webhook_url: format!("http://127.0.0.1:{}/hook", closed_port()),
            webhook_secret: SECRET.to_string(),
        });
        let notify = NotifySocket::bind(config.dir.path());
        let mut daemon = config.start(Some(&notify.path), None);

        let ready = notify.wait_for("READY=1", Duration::from_secs(20));
        assert!(
            ready.is_ok(),
            "no READY=1: {ready:?}; log:\n{}",
            config.log()
        );
        daemon.signal(libc::SIGHUP);

        let reloading = notify.wait_for("RELOADING=1", Duration::from_secs(10));
        assert!(
            daemon.is_running(),
            "round {round}: SIGHUP right after READY=1 ended vigie; log:\n{}",
            config.log()
        );
        assert!(
            reloading.is_ok(),
            "round {round}: no RELOADING=1: {reloading:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_storm_sends_each_alert_once() {
    // Every SIGHUP restarts the dispatcher; a storm of them while alerts go out must neither
    // lose an alert nor send one twice.
    let dns = dns().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    let notify = NotifySocket::bind(config.dir.path());
    let mut daemon = config.start(Some(&notify.path), None);
    let ready = notify.wait_for("READY=1", Duration::from_secs(20));
    assert!(
        ready.is_ok(),
        "no READY=1: {ready:?}; log:\n{}",
        config.log()
    );

    for _ in 0..40 {
        daemon.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(25));
    }
    let received = webhook
        .wait_for_count(REGISTERED.len(), Duration::from_secs(60))
        .await;
    // Leave time for a duplicate to arrive before counting.
    std::thread::sleep(Duration::from_secs(2));

    assert!(daemon.is_running(), "vigie stopped; log:\n{}", config.log());
    assert!(received >= REGISTERED.len(), "webhook got {received}");
    let keys = webhook.keys();
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), distinct.len(), "duplicate deliveries: {keys:?}");
    assert_eq!(
        config.outbox_counts().1 as usize,
        keys.len(),
        "delivered rows and received alerts differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_added_on_reload_is_swept() {
    // The watchlist first protects a domain with no registered lookalike; its next sweep is
    // an hour away. A domain added to it and reloaded must be swept now, not in an hour.
    let dns = dns().await;
    let webhook = WebhookReceiver::start(SECRET).await;
    let config = DaemonConfig::new();
    config.write(&Endpoints {
        dns: dns.addr,
        smtp_port: closed_port(),
        webhook_url: webhook.url(),
        webhook_secret: SECRET.to_string(),
    });
    let watchlist_path = config.dir.path().join("watchlists").join("example.toml");
    let full = std::fs::read_to_string(&watchlist_path).expect("read the watchlist");
    std::fs::write(
        &watchlist_path,
        full.replace("name = \"example.test\"", "name = \"quiet-brand.test\""),
    )
    .expect("write the watchlist");
    let notify = NotifySocket::bind(config.dir.path());
    let daemon = config.start(Some(&notify.path), None);
    let ready = notify.wait_for("READY=1", Duration::from_secs(20));
    assert!(
        ready.is_ok(),
        "no READY=1: {ready:?}; log:\n{}",
        config.log()
    );
    assert!(
        wait_until(Duration::from_secs(30), || config
            .log()
            .contains("Lookalike sweep finished")),
        "the first sweep did not finish; log:\n{}",
        config.log()
    );

    std::fs::write(
        &watchlist_path,
        full.replace(
            "[[domains]]\nname = \"example.test\"",
            "[[domains]]\nname = \"quiet-brand.test\"\n\n[[domains]]\nname = \"example.test\"",
        ),
    )
    .expect("write the watchlist");
    daemon.signal(libc::SIGHUP);

    let received = webhook
        .wait_for_count(REGISTERED.len(), Duration::from_secs(30))
        .await;
    assert!(
        received >= REGISTERED.len(),
        "webhook got {received} alerts after the reload; log:\n{}",
        config.log()
    );
}
