//! End to end through the `vigie` binary: real scam mails (SpamAssassin advance-fee spam)
//! appended to a folder of a real Dovecot on 127.0.0.1 are read over IMAP, grouped into
//! campaigns, and the campaign alerts reach the SOC mailbox of the same Dovecot through
//! Postfix. A daemon restart sends no alert again, and a Dovecot restart is followed by a
//! reconnection that reads only the mail that arrived since. A report posted to the daemon's
//! report-form endpoint becomes one more campaign alert.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::daemon::{DaemonConfig, wait_until};
use support::mail::MailServers;

const PASSWORD_VARIABLE: &str = "VIGIE_TEST_IMAP_PASSWORD";
const TOKEN_VARIABLE: &str = "VIGIE_TEST_INTAKE_TOKEN";
const TOKEN: &str = "end-to-end-form-token";

/// Read before any restart: four pairs of copies of one letter and a single letter, so five
/// campaigns.
const FIRST: &[&str] = &[
    "spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml",
    "spamassassin/spam-1__00077.c85b7442247d61308f15d86aa125ec28.eml",
    "spamassassin/spam-1__00228.cf58326ab05a757c7e759acc8d6b360d.eml",
    "spamassassin/spam-1__00234.6b386bd178f4ae52c67b6c6d15ece489.eml",
    "spamassassin/spam-1__00278.b62c5fc23a2f87760696cb9fa51f073c.eml",
    "spamassassin/spam-1__00279.1d58a13e343c1e53aca2ed2121a3f815.eml",
    "spamassassin/spam-2__00640.564b03520087bb4595384ae024ceb929.eml",
    "spamassassin/spam-2__00641.b3c1c440f7940c86ab5d1e4f9fa3518b.eml",
];

/// Appended after Dovecot restarts: a second copy of the first letter (no new campaign) and a
/// new letter (one new campaign).
const AFTER_RESTART: &[&str] = &[
    "spamassassin/spam-1__00026.da18dbed27ae933172f7a70f860c6ad0.eml",
    "spamassassin/spam-2__00357.049b1dd678979ce56f10dfa9632127a3.eml",
];

fn write_config(dir: &Path, servers: &MailServers, intake_port: u16) {
    let config = format!(
        r#"[daemon]
state_dir = "state"
watchlists_dir = "watchlists"
log_format = "json"
shutdown_grace_secs = 5

# The only watchlist domain is not swept, and a resolver on a closed loopback port keeps
# every query on this machine.
[dns]
nameservers = ["127.0.0.1:9"]
timeout_ms = 200
attempts = 1

[dispatcher]
retry_initial_secs = 1
retry_max_secs = 2

[sinks.soc-mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp}
security = "plain"
from = "vigie@example.test"
to = ["{mailbox}"]
timeout_secs = 10

[inbox.reported]
type = "imap"
host = "127.0.0.1"
port = {imap}
security = "plain"
username = "{mailbox}"
password_env = "{PASSWORD_VARIABLE}"
folders = ["Reported"]
idle = true
poll_secs = 3600
watchlist = "example"
unmatched_severity = "medium"
timeout_secs = 10
reconnect_max_secs = 2

[intake]
listen = "127.0.0.1:{intake_port}"
token_env = "{TOKEN_VARIABLE}"
watchlist = "example"
"#,
        smtp = servers.smtp_port,
        imap = servers.imap_port,
        mailbox = support::mail::MAILBOX,
    );
    std::fs::write(dir.join("vigie.toml"), config).unwrap();
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(
        dir.join("watchlists/example.toml"),
        r#"[brand]
name = "Example Test"
keywords = ["example"]

[[domains]]
name = "example.test"
status = "active"
watch = false

[alerts]
sinks = ["soc-mail"]
min_severity = "low"
"#,
    )
    .unwrap();
}

/// Counts in the store: (mails, campaign findings, alerts written as revisions).
fn store_counts(config: &DaemonConfig) -> (i64, i64, i64) {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        config.store_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return (0, 0, 0);
    };
    let mails = conn
        .query_row("SELECT count(*) FROM mails", [], |row| row.get(0))
        .unwrap_or(0);
    let (findings, revisions) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(revision), 0) FROM findings WHERE kind = 'mail-campaign'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap_or((0, 0));
    (mails, findings, revisions)
}

/// Waits until the store holds `mails` mails in `campaigns` campaign findings, and returns the
/// revisions of those findings: one alert is due for each. A campaign alerts on its first
/// mail, and again only when a later mail brings a new URL domain, reply-to address, origin
/// class or a severity above every earlier one.
fn settle(config: &DaemonConfig, mails: i64, campaigns: i64) -> usize {
    assert!(
        wait_until(Duration::from_secs(90), || {
            let (stored, findings, _) = store_counts(config);
            stored == mails && findings == campaigns
        }),
        "store {:?}, expected {mails} mails in {campaigns} campaigns\nlog:\n{}",
        store_counts(config),
        config.log()
    );
    let revisions = store_counts(config).2;
    assert!(revisions >= campaigns, "{revisions} revisions");
    usize::try_from(revisions).unwrap()
}

fn start(config: &DaemonConfig) -> support::daemon::Daemon {
    // SAFETY: set before the daemon process starts; the test's own threads read no variable.
    unsafe {
        std::env::set_var(PASSWORD_VARIABLE, support::mail::PASSWORD);
        std::env::set_var(TOKEN_VARIABLE, TOKEN);
    }
    config.start(None, None)
}

/// Waits until the SOC mailbox holds `count` alerts; panics with the daemon log after `limit`.
async fn wait_for_alerts(
    servers: &MailServers,
    config: &DaemonConfig,
    count: usize,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    loop {
        let alerts = servers.count_messages("").await;
        if alerts >= count {
            assert_eq!(alerts, count, "more alerts than finding revisions");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{alerts} of {count} alerts in the SOC mailbox after {limit:?}; store {:?}\nlog:\n{}",
            store_counts(config),
            config.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scam_mails_become_campaign_alerts() {
    let mut servers = MailServers::started();
    for name in FIRST {
        servers
            .append("Reported", &support::inbox::fixture(name))
            .await;
    }
    let config = DaemonConfig::new();
    let [intake_port] = support::mail::free_ports();
    write_config(config.dir.path(), &servers, intake_port);

    // Eight mails, five campaigns, one alert each and one for each severity rise.
    let mut daemon = start(&config);
    let first = settle(&config, 8, 5);
    wait_for_alerts(&servers, &config, first, Duration::from_secs(90)).await;
    let seko = servers
        .wait_for_message(
            &alert_key(&config, "seko_mam@spinfinder.com"),
            Duration::from_secs(5),
        )
        .await;
    assert!(seko.contains("seko_mam[@]spinfinder[.]com"), "{seko}");
    assert!(seko.contains("mail-campaign"), "{seko}");
    assert!(seko.contains("1 mail(s) from one machine"), "{seko}");

    // A restart reads nothing again and sends nothing again.
    daemon.signal(libc::SIGTERM);
    assert!(
        daemon.wait_exit(Duration::from_secs(15)).is_some(),
        "daemon did not stop"
    );
    let mut daemon = start(&config);
    assert!(
        wait_until(Duration::from_secs(20), || config
            .log()
            .matches("Connected to the IMAP server.")
            .count()
            >= 2),
        "the restarted daemon did not connect:\n{}",
        config.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        servers.count_messages("").await,
        first,
        "a restart sent alerts again"
    );
    assert_eq!(settle(&config, 8, 5), first);

    // Dovecot restarts under the daemon: it reconnects and reads only the new mail.
    servers.stop_dovecot();
    tokio::time::sleep(Duration::from_secs(1)).await;
    servers.start_dovecot();
    for name in AFTER_RESTART {
        servers
            .append("Reported", &support::inbox::fixture(name))
            .await;
    }
    let second = settle(&config, 10, 6);
    assert!(second > first, "the new campaign did not alert");
    wait_for_alerts(&servers, &config, second, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(settle(&config, 10, 6), second);
    assert_eq!(servers.count_messages("").await, second);
    assert!(
        config
            .log()
            .contains("IMAP folder read failed, reconnecting later."),
        "no reconnection in the log:\n{}",
        config.log()
    );

    // A report of the web form goes the same way: a new reply-to address, a new campaign.
    vigie::init_tls();
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{intake_port}/report"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "reporter": "jane@customer.example",
            "headers": "Received: from relay.scam.example ([198.51.100.23])\nFrom: \"Claims Office\" <claims@scam.example>\nReply-To: payout-desk@scam.example\nSubject: Your winnings",
        }))
        .send()
        .await
        .expect("POST /report to the daemon");
    assert_eq!(response.status(), 201);
    let third = settle(&config, 11, 7);
    assert!(third > second, "the form report did not alert");
    wait_for_alerts(&servers, &config, third, Duration::from_secs(30)).await;

    assert!(daemon.is_running());
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit(Duration::from_secs(15));
}

/// Idempotency key of the first alert of the campaign labelled `label`.
fn alert_key(config: &DaemonConfig, label: &str) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        config.store_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let fingerprint: String = conn
        .query_row(
            "SELECT fingerprint FROM findings WHERE subject = ?1",
            [label],
            |row| row.get(0),
        )
        .unwrap_or_else(|error| panic!("no finding labelled {label}: {error}"));
    format!("{fingerprint}-r1")
}
