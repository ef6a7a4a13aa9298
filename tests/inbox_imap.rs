//! The inbox source against a real Dovecot on 127.0.0.1: IDLE and polling, the UID cursor,
//! marking and moving processed mail, oversized mail, and resuming after Dovecot restarts.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigie::sources::SourceContext;
use vigie::store::Store;

use support::mail::MailServers;

const PASSWORD_VARIABLE: &str = "VIGIE_TEST_IMAP_PASSWORD";

/// The folder is deleted and created again while the source reads it, so Dovecot gives it
/// a new UIDVALIDITY and numbers its mails from 1 again. The source reads the folder again
/// from its start under the new UIDVALIDITY. The two mails it already stored are recognised
/// by their SHA-256: no second mail row and no second alert. A mail appended after that is
/// read at the next UID of the new numbering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_uidvalidity_rereads_folder() {
    let servers = MailServers::started();
    servers.append("Phishing", &fixture(0)).await;
    servers.append("Phishing", &fixture(1)).await;
    let source = start(
        &servers,
        "idle = false\npoll_secs = 1\nfolders = [\"Phishing\"]",
    );
    source.wait_for_mails(2, Duration::from_secs(20)).await;
    let (old_validity, old_last) =
        parse_cursor(&source.wait_for_inbox_cursor("abuse", "Phishing", 2).await);
    assert_eq!(old_last, 2);
    let alerts = source.alerts();
    assert!(alerts >= 1, "the first two mails raised no alert");
    let sightings = source.sightings();
    assert_eq!(sightings, 2, "one sighting per mail read");

    let mut session = servers.imap_session().await;
    session.delete("Phishing").await.expect("IMAP DELETE");
    let _ = session.logout().await;
    // The same two mails again, in a folder of the same name numbered anew.
    servers
        .append_all("Phishing", &[fixture(0), fixture(1)])
        .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let new_validity = loop {
        let cursor = source.inbox_cursor("abuse", "Phishing");
        if let Some((validity, last)) = cursor.as_deref().map(parse_cursor)
            && validity != old_validity
            && last == 2
        {
            break validity;
        }
        assert!(
            Instant::now() < deadline,
            "cursor is {cursor:?}, not at UID 2 of a UIDVALIDITY other than {old_validity}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let stored = source.store.mails().unwrap();
    assert_eq!(stored.len(), 2, "a mail read again was stored again");
    for mail in &stored {
        assert_eq!(
            mail.uidvalidity,
            Some(old_validity),
            "mail {} keeps the UIDVALIDITY it was first read under",
            mail.id
        );
    }
    assert_eq!(source.alerts(), alerts, "a mail read again alerted again");
    // Each duplicate submits its campaign finding again, which counts one more sighting.
    assert_eq!(source.sightings(), sightings + 2);

    servers.append("Phishing", &fixture(2)).await;
    source.wait_for_mails(3, Duration::from_secs(20)).await;
    let cursor = source.wait_for_inbox_cursor("abuse", "Phishing", 3).await;
    assert_eq!(parse_cursor(&cursor), (new_validity, 3));
    let newest = source.store.mails().unwrap().remove(2);
    assert_eq!(newest.uidvalidity, Some(new_validity));
    assert_eq!(newest.uid, Some(3));
    source.stop().await;
}

/// Two inboxes on two Dovecot servers, each with its own folder list, read at once. A mail
/// reported to both mailboxes is stored once, under the inbox that read it first, and each
/// inbox keeps its own cursor per folder even where the folder names are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_inboxes_each_with_folders() {
    let abuse = MailServers::started();
    let trap = MailServers::started();
    abuse.append("INBOX", &fixture(0)).await;
    abuse.append("Phishing", &fixture(1)).await;
    abuse.append("Phishing", &fixture(4)).await;
    trap.append("INBOX", &fixture(2)).await;
    trap.append("Spam", &fixture(3)).await;
    // The same mail, reported to both mailboxes.
    trap.append("Spam", &fixture(4)).await;

    let keys = "idle = true\npoll_secs = 3600";
    let inboxes = format!(
        "{}\n{}",
        inbox_table(
            "abuse",
            &abuse,
            &format!("{keys}\nfolders = [\"INBOX\", \"Phishing\"]")
        ),
        inbox_table(
            "trap",
            &trap,
            &format!("{keys}\nfolders = [\"INBOX\", \"Spam\"]")
        ),
    );
    let source = launch(tempfile::tempdir().unwrap(), &inboxes);
    source.wait_for_mails(5, Duration::from_secs(30)).await;
    source.wait_for_inbox_cursor("abuse", "INBOX", 1).await;
    source.wait_for_inbox_cursor("abuse", "Phishing", 2).await;
    source.wait_for_inbox_cursor("trap", "INBOX", 1).await;
    source.wait_for_inbox_cursor("trap", "Spam", 2).await;
    assert_eq!(
        source.inbox_cursor("abuse", "Spam"),
        None,
        "abuse read a folder of trap's list"
    );
    assert_eq!(
        source.inbox_cursor("trap", "Phishing"),
        None,
        "trap read a folder of abuse's list"
    );

    // Five distinct mails in six messages: one row each.
    let stored = source.store.mails().unwrap();
    assert_eq!(stored.len(), 5);
    let mut hashes: Vec<&str> = stored.iter().map(|mail| mail.sha256.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), 5, "a mail stored twice");
    let mut origins: Vec<(&str, u32)> = stored
        .iter()
        .map(|mail| (mail.origin.as_str(), mail.uid.unwrap()))
        .collect();
    origins.sort_unstable();
    let shared_sha256 = appended_sha256(4);
    let shared = stored
        .iter()
        .find(|mail| mail.sha256 == shared_sha256)
        .expect("the mail reported to both mailboxes is stored");
    assert!(
        shared.origin == "abuse/Phishing" || shared.origin == "trap/Spam",
        "the shared mail comes from {}",
        shared.origin
    );
    let mut expected = vec![
        ("abuse/INBOX", 1),
        ("abuse/Phishing", 1),
        ("trap/INBOX", 1),
        ("trap/Spam", 1),
    ];
    expected.push((shared.origin.as_str(), 2));
    expected.sort_unstable();
    assert_eq!(origins, expected);

    let figures = source.health.snapshot();
    for name in [
        "inbox:abuse/INBOX",
        "inbox:abuse/Phishing",
        "inbox:trap/INBOX",
        "inbox:trap/Spam",
    ] {
        let folder = figures
            .get(name)
            .unwrap_or_else(|| panic!("no health entry {name}: {figures:?}"));
        assert_eq!(folder.errors, 0, "{name}: {folder:?}");
    }
    source.stop().await;
}

/// Returns the SHA-256 (hex) of fixture `index` as appended over IMAP, which is how the
/// store keys the mail.
fn appended_sha256(index: usize) -> String {
    use sha2::Digest;
    let raw = support::mail::to_crlf(support::mail::strip_mbox_line(&fixture(index)));
    hex::encode(sha2::Sha256::digest(&raw))
}

/// The Nazario phishing corpus of 2005-11-14 inside the shared data folder: 438 mails.
const NAZARIO_MBOX: &str = "emails/nazario/20051114.mbox";

/// Fixture mails, SpamAssassin spam.
const MAILS: &[&str] = &[
    "spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml",
    "spamassassin/spam-1__00228.cf58326ab05a757c7e759acc8d6b360d.eml",
    "spamassassin/spam-1__00278.b62c5fc23a2f87760696cb9fa51f073c.eml",
    "spamassassin/spam-2__00640.564b03520087bb4595384ae024ceb929.eml",
    "spamassassin/spam-1__00077.c85b7442247d61308f15d86aa125ec28.eml",
];

struct Source {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    health: vigie::health::Health,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Writes a configuration with one IMAP inbox on `servers` and starts the inbox source.
fn start(servers: &MailServers, inbox_keys: &str) -> Source {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, servers, inbox_keys)
}

fn start_in(dir: tempfile::TempDir, servers: &MailServers, inbox_keys: &str) -> Source {
    launch(dir, &inbox_table("abuse", servers, inbox_keys))
}

/// Returns an `[inbox.NAME]` table that reads the test mailbox of `servers` over plain IMAP,
/// followed by `inbox_keys`.
fn inbox_table(name: &str, servers: &MailServers, inbox_keys: &str) -> String {
    format!(
        r#"[inbox.{name}]
type = "imap"
host = "127.0.0.1"
port = {port}
security = "plain"
username = "{user}"
password_env = "{PASSWORD_VARIABLE}"
watchlist = "example"
timeout_secs = 10
reconnect_max_secs = 2
{inbox_keys}
"#,
        port = servers.imap_port,
        user = support::mail::MAILBOX,
    )
}

/// Writes a configuration with a webhook sink and the `inboxes` tables into `dir`, and
/// starts the inbox source on it.
fn launch(dir: tempfile::TempDir, inboxes: &str) -> Source {
    let extra = format!(
        r#"[sinks.hook]
type = "webhook"
url = "http://127.0.0.1:9/alerts"

{inboxes}"#
    );
    let config = support::inbox::load_config(
        dir.path(),
        &extra,
        &[(PASSWORD_VARIABLE, support::mail::PASSWORD)],
    );
    let (pipeline, store, config_tx) = support::inbox::pipeline(dir.path(), config);
    let health = pipeline.health().clone();
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let task = tokio::spawn(async move {
        // The sender must live as long as the source, which ends when it is dropped.
        let _config_tx = config_tx;
        vigie::sources::inbox::run(ctx).await;
    });
    Source {
        dir,
        store,
        health,
        stop,
        task,
    }
}

impl Source {
    async fn stop(self) -> tempfile::TempDir {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the inbox source stops within 10 s")
            .expect("the inbox source task does not panic");
        self.dir
    }

    /// Waits until the store holds `count` mails; panics after `limit`.
    async fn wait_for_mails(&self, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let stored = self.store.mails().unwrap().len();
            if stored >= count {
                assert_eq!(stored, count, "more mails stored than appended");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{stored} of {count} mails stored after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sum of the sightings of every finding: one per mail that went through the pipeline.
    fn sightings(&self) -> u64 {
        self.store
            .findings()
            .unwrap()
            .iter()
            .map(|finding| finding.sightings)
            .sum()
    }

    /// Waits until the cursor of `folder` reaches `uid`: the mail is then flagged or moved.
    async fn wait_for_cursor(&self, folder: &str, uid: u32) -> String {
        self.wait_for_inbox_cursor("abuse", folder, uid).await
    }

    /// Waits until the cursor of `folder` of inbox `inbox` reaches `uid`, and returns it.
    async fn wait_for_inbox_cursor(&self, inbox: &str, folder: &str, uid: u32) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let cursor = self.inbox_cursor(inbox, folder);
            if let Some(value) = &cursor
                && value.ends_with(&format!(" {uid}"))
            {
                return value.clone();
            }
            assert!(
                Instant::now() < deadline,
                "cursor of {inbox}/{folder} is {cursor:?}, not at UID {uid}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn inbox_cursor(&self, inbox: &str, folder: &str) -> Option<String> {
        self.store
            .cursor("inbox", &format!("{inbox}/{folder}"))
            .unwrap()
    }

    /// Number of alert rows written to the outbox (none is delivered: no sink task runs).
    fn alerts(&self) -> u64 {
        let stats = self.store.outbox_stats().unwrap();
        stats.pending + stats.delivered
    }
}

/// Splits a stored cursor, `UIDVALIDITY LAST_UID`.
fn parse_cursor(value: &str) -> (u32, u32) {
    let (validity, last) = value
        .split_once(' ')
        .unwrap_or_else(|| panic!("cursor {value:?} is not `UIDVALIDITY LAST_UID`"));
    (validity.parse().unwrap(), last.parse().unwrap())
}

fn fixture(index: usize) -> Vec<u8> {
    support::inbox::fixture(MAILS[index])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_reads_new_mail_at_once() {
    let servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    servers.append("INBOX", &fixture(1)).await;

    let source = start(&servers, "idle = true\npoll_secs = 3600\nafter = \"flag\"");
    source.wait_for_mails(2, Duration::from_secs(20)).await;
    // With polling every hour, only IDLE can bring this one in time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    servers.append("INBOX", &fixture(2)).await;
    source.wait_for_mails(3, Duration::from_secs(10)).await;

    source.wait_for_cursor("INBOX", 3).await;
    let flags = servers.flags("INBOX").await;
    assert_eq!(flags.len(), 3);
    for (uid, names) in &flags {
        assert!(
            names.iter().any(|name| name.contains("Flagged")),
            "mail {uid} not flagged: {names:?}"
        );
        assert!(
            !names.iter().any(|name| name.contains("Seen")),
            "mail {uid} marked seen: {names:?}"
        );
    }
    let mail = source.store.mails().unwrap().remove(0);
    assert_eq!(mail.source, "inbox");
    assert_eq!(mail.folder.as_deref(), Some("INBOX"));
    assert_eq!(mail.uid, Some(1));
    assert_eq!(mail.origin, "abuse/INBOX");
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_reads_every_folder() {
    let servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    servers.append("Phishing", &fixture(1)).await;

    let source = start(
        &servers,
        "idle = false\npoll_secs = 1\nfolders = [\"INBOX\", \"Phishing\"]\nafter = \"seen\"",
    );
    source.wait_for_mails(2, Duration::from_secs(20)).await;
    servers.append("Phishing", &fixture(2)).await;
    source.wait_for_mails(3, Duration::from_secs(10)).await;

    source.wait_for_cursor("INBOX", 1).await;
    source.wait_for_cursor("Phishing", 2).await;
    for (uid, names) in servers.flags("Phishing").await {
        assert!(
            names.iter().any(|name| name.contains("Seen")),
            "mail {uid} not marked seen: {names:?}"
        );
    }
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_after_read_empties_inbox() {
    let servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    servers.append("INBOX", &fixture(1)).await;

    let source = start(
        &servers,
        "idle = true\npoll_secs = 3600\nafter = \"move\"\nmove_to = \"Done\"",
    );
    source.wait_for_mails(2, Duration::from_secs(20)).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while servers.count("Done").await < 2 {
        assert!(Instant::now() < deadline, "mails not moved to Done");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(servers.count("INBOX").await, 0);
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_mail_is_skipped_and_passed() {
    let servers = MailServers::started();
    let large = fixture(0);
    assert!(large.len() > 3000);
    servers.append("INBOX", &large).await;
    let mut small = b"From: a@b.example\r\nSubject: small\r\n\r\nshort body\r\n".to_vec();
    small.extend_from_slice(&[b'x'; 10]);
    servers.append("INBOX", &small).await;

    let source = start(
        &servers,
        "idle = true\npoll_secs = 3600\nmax_message_bytes = 1024",
    );
    source.wait_for_mails(1, Duration::from_secs(20)).await;

    let stored = source.store.mails().unwrap();
    assert_eq!(
        stored[0].uid,
        Some(2),
        "the small mail is read, the large one skipped"
    );
    source.wait_for_cursor("INBOX", 2).await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_dovecot_restart() {
    let mut servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    servers.append("INBOX", &fixture(1)).await;
    let source = start(&servers, "idle = true\npoll_secs = 3600");
    source.wait_for_mails(2, Duration::from_secs(20)).await;

    servers.stop_dovecot();
    tokio::time::sleep(Duration::from_secs(1)).await;
    servers.start_dovecot();
    servers.append("INBOX", &fixture(2)).await;
    source.wait_for_mails(3, Duration::from_secs(30)).await;

    source.wait_for_cursor("INBOX", 3).await;
    assert_eq!(
        source.sightings(),
        3,
        "a mail read before the restart was read again"
    );
    let figures = source.health.snapshot();
    let folder = &figures["inbox:abuse/INBOX"];
    assert!(
        folder.errors >= 1,
        "no lost connection recorded: {folder:?}"
    );
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_source_resumes_at_cursor() {
    let servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    servers.append("INBOX", &fixture(1)).await;
    let keys = "idle = true\npoll_secs = 3600";
    let source = start(&servers, keys);
    source.wait_for_mails(2, Duration::from_secs(20)).await;
    let dir = source.stop().await;

    servers.append("INBOX", &fixture(2)).await;
    let source = start_in(dir, &servers, keys);
    source.wait_for_mails(3, Duration::from_secs(20)).await;
    // The cursor moves once the mail's finding is submitted, after the mail is stored.
    source.wait_for_cursor("INBOX", 3).await;

    assert_eq!(
        source.sightings(),
        3,
        "a mail read before the restart was read again"
    );
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_keeps_retrying() {
    let servers = MailServers::started();
    servers.append("INBOX", &fixture(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[inbox.abuse]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
         username = \"{}\"\npassword_env = \"{PASSWORD_VARIABLE}\"\nwatchlist = \"example\"\n\
         timeout_secs = 5\nreconnect_max_secs = 1\n",
        servers.imap_port,
        support::mail::MAILBOX
    );
    let config = support::inbox::load_config(dir.path(), &extra, &[(PASSWORD_VARIABLE, "wrong")]);
    let (pipeline, store, config_tx) = support::inbox::pipeline(dir.path(), config);
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let task = tokio::spawn(vigie::sources::inbox::run(ctx));

    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !task.is_finished(),
        "the source gave up after a failed login"
    );
    assert!(store.mails().unwrap().is_empty());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the source stops")
        .unwrap();
    drop(config_tx);
}

/// The Nazario phishing corpus (CC BY 4.0, not committed) read over IMAP when the shared data
/// folder is found by [`support::inbox::shared_data`]; skipped otherwise. Prints the read rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nazario_corpus_over_imap() {
    let Some(path) = support::inbox::shared_data(NAZARIO_MBOX) else {
        eprintln!("skipped: {NAZARIO_MBOX} not found under ../shared/data or ../../shared/data");
        return;
    };
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|error| panic!("open {}: {error}", path.display()));
    let mut reader =
        vigie::sources::inbox::mbox::MboxReader::new(std::io::BufReader::new(file), 25 << 20);
    let mut mails = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        if let vigie::sources::inbox::mbox::MboxItem::Mail { raw, .. } = item {
            mails.push(raw);
        }
    }
    assert_eq!(mails.len(), 438);
    let servers = MailServers::started();
    servers.append_all("INBOX", &mails).await;

    let started = Instant::now();
    let source = start(&servers, "idle = true\npoll_secs = 3600");
    source.wait_for_mails(438, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();

    eprintln!(
        "read 438 mails over IMAP in {:.2} s ({:.0} mails/s)",
        elapsed.as_secs_f64(),
        438.0 / elapsed.as_secs_f64()
    );
    source.wait_for_cursor("INBOX", 438).await;
    // Every mail joins a campaign (the inbox names a fallback watchlist) and is submitted once.
    assert_eq!(source.sightings(), 438);
    source.stop().await;
}
