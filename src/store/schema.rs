//! Schema migrations, tracked with SQLite's `PRAGMA user_version`.
//!
//! Each step upgrades the schema by one version and runs in its own transaction together with
//! the new `user_version`, so a crash mid-upgrade leaves the store at the last whole version.
//! Steps are only ever appended: a released step is never edited.

use rusqlite::Connection;

use super::StoreError;

/// Migration steps: step `i` upgrades a store from version `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: findings, their history, the outbox and the source cursors.
    "CREATE TABLE findings (
        id          INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        source      TEXT NOT NULL,
        watchlist   TEXT NOT NULL,
        subject     TEXT NOT NULL,
        imitates    TEXT NOT NULL,
        techniques  TEXT NOT NULL,
        reasons     TEXT NOT NULL,
        severity    TEXT NOT NULL,
        score       INTEGER NOT NULL,
        indicators  TEXT NOT NULL,
        facts       TEXT NOT NULL,
        evidence    TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        revision    INTEGER NOT NULL,
        sightings   INTEGER NOT NULL
    );
    CREATE TABLE finding_history (
        id         INTEGER PRIMARY KEY,
        finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        at         INTEGER NOT NULL,
        event      TEXT NOT NULL,
        revision   INTEGER NOT NULL,
        severity   TEXT NOT NULL,
        changes    TEXT NOT NULL
    );
    CREATE INDEX finding_history_by_finding ON finding_history(finding_id, id);
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        finding_id      INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        sink            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        payload         TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        delivered_at    INTEGER,
        UNIQUE (idempotency_key, sink)
    );
    CREATE TABLE cursors (
        source     TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (source, key)
    );",
    // 2: triage status of a finding, and an index for the dispatcher's due-alert query.
    "ALTER TABLE findings ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
    CREATE INDEX outbox_pending ON outbox(next_attempt_at, id) WHERE delivered_at IS NULL;",
    // 3: every value each fact of a finding has ever had, so that a value that comes back
    // (round-robin DNS, a record removed and restored) does not alert again.
    "ALTER TABLE findings ADD COLUMN known_facts TEXT NOT NULL DEFAULT '{}';
    UPDATE findings SET known_facts = facts;",
    // 4: items a source could not read (a malformed certificate, say), kept for inspection.
    "CREATE TABLE quarantine (
        id      INTEGER PRIMARY KEY,
        source  TEXT NOT NULL,
        origin  TEXT NOT NULL,
        item    TEXT NOT NULL,
        reason  TEXT NOT NULL,
        raw     BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        UNIQUE (source, origin, item)
    );",
    // 5: earlier versions of each evidence entry of a finding, and the change watch's
    // schedule: when each finding's web host is checked next and what it served last.
    "CREATE TABLE evidence_history (
        id         INTEGER PRIMARY KEY,
        finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        key        TEXT NOT NULL,
        at         INTEGER NOT NULL,
        value      TEXT NOT NULL
    );
    CREATE INDEX evidence_history_by_finding ON evidence_history(finding_id, key, id);
    CREATE TABLE web_checks (
        finding_id  INTEGER PRIMARY KEY REFERENCES findings(id) ON DELETE CASCADE,
        host        TEXT NOT NULL,
        next_at     INTEGER NOT NULL,
        last_at     INTEGER,
        state       TEXT,
        failures    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
    );
    CREATE INDEX web_checks_due ON web_checks(next_at);",
    // 6: cases and their timeline, the allow list kept by triage, takedown notices and the
    // recovery checks that follow a takedown.
    "CREATE TABLE cases (
        id          INTEGER PRIMARY KEY,
        title       TEXT NOT NULL,
        summary     TEXT NOT NULL DEFAULT '',
        vector      TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'open',
        started_at  INTEGER,
        opened_at   INTEGER NOT NULL,
        closed_at   INTEGER
    );
    CREATE TABLE case_findings (
        case_id    INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        added_at   INTEGER NOT NULL,
        PRIMARY KEY (case_id, finding_id)
    );
    CREATE INDEX case_findings_by_finding ON case_findings(finding_id);
    CREATE TABLE case_events (
        id      INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        at      INTEGER NOT NULL,
        author  TEXT NOT NULL,
        kind    TEXT NOT NULL,
        text    TEXT NOT NULL,
        data    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX case_events_by_case ON case_events(case_id, at, id);
    CREATE TABLE allow_list (
        id         INTEGER PRIMARY KEY,
        watchlist  TEXT NOT NULL,
        name       TEXT NOT NULL,
        finding_id INTEGER REFERENCES findings(id) ON DELETE SET NULL,
        reason     TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        added_by   TEXT NOT NULL,
        UNIQUE (watchlist, name)
    );
    CREATE TABLE takedowns (
        id             INTEGER PRIMARY KEY,
        case_id        INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        finding_id     INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        target         TEXT NOT NULL,
        contact        TEXT NOT NULL,
        role           TEXT NOT NULL,
        recipient      TEXT NOT NULL,
        language       TEXT NOT NULL,
        country        TEXT NOT NULL DEFAULT '',
        message_id     TEXT NOT NULL UNIQUE,
        subject        TEXT NOT NULL,
        sent_at        INTEGER NOT NULL,
        last_sent_at   INTEGER NOT NULL,
        deadline_at    INTEGER NOT NULL,
        followups      INTEGER NOT NULL DEFAULT 0,
        reminded_round INTEGER NOT NULL DEFAULT -1,
        answered_at    INTEGER,
        down_at        INTEGER,
        status         TEXT NOT NULL DEFAULT 'sent'
    );
    CREATE INDEX takedowns_by_case ON takedowns(case_id, id);
    CREATE TABLE recovery_checks (
        takedown_id INTEGER PRIMARY KEY REFERENCES takedowns(id) ON DELETE CASCADE,
        checked_at  INTEGER NOT NULL,
        site_up     INTEGER NOT NULL,
        site_detail TEXT NOT NULL,
        mx_up       INTEGER NOT NULL,
        mx_detail   TEXT NOT NULL
    );",
    // 7: items that feed, scam-repository and social sources have processed, by id, link and
    // content hash, so that an item alerts once even when its feed changes its ids.
    "CREATE TABLE seen_items (
        source  TEXT NOT NULL,
        key     TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (source, key)
    );
    CREATE INDEX seen_items_by_age ON seen_items(source, seen_at);",
    // 8: mail campaigns, the mails kept as evidence (raw, gzip-compressed) and the reports of
    // the web form.
    "CREATE TABLE campaigns (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        watchlist   TEXT NOT NULL,
        label       TEXT NOT NULL,
        imitates    TEXT NOT NULL,
        score       INTEGER NOT NULL,
        severity    TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        mail_count  INTEGER NOT NULL,
        merged_into INTEGER REFERENCES campaigns(id)
    );
    CREATE TABLE campaign_keys (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        watchlist   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        value       TEXT NOT NULL,
        strong      INTEGER NOT NULL,
        mails       INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, kind, value)
    );
    CREATE INDEX campaign_keys_by_value ON campaign_keys(watchlist, kind, value);
    CREATE TABLE mails (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT NOT NULL UNIQUE,
        source      TEXT NOT NULL,
        origin      TEXT NOT NULL,
        folder      TEXT,
        uidvalidity INTEGER,
        uid         INTEGER,
        received_at INTEGER NOT NULL,
        message_id  TEXT,
        subject     TEXT,
        sender      TEXT,
        origin_ip   TEXT,
        size        INTEGER NOT NULL,
        raw_gzip    BLOB NOT NULL,
        analysis    TEXT NOT NULL,
        campaign_id INTEGER REFERENCES campaigns(id)
    );
    CREATE INDEX mails_by_campaign ON mails(campaign_id, id);
    CREATE TABLE mail_attachments (
        mail_id      INTEGER NOT NULL REFERENCES mails(id) ON DELETE CASCADE,
        name         TEXT,
        content_type TEXT,
        size         INTEGER NOT NULL,
        sha256       TEXT NOT NULL
    );
    CREATE INDEX mail_attachments_by_hash ON mail_attachments(sha256);
    CREATE TABLE intake_reports (
        id          TEXT PRIMARY KEY,
        mail_id     INTEGER NOT NULL REFERENCES mails(id),
        reporter    TEXT,
        comment     TEXT,
        client_ip   TEXT NOT NULL,
        received_at INTEGER NOT NULL
    );",
];

/// Schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Upgrades the store to [`SCHEMA_VERSION`], refusing a store written by a newer vigie.
pub fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }

    for (index, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        // IMMEDIATE and a second read of the version: another process opening the same new
        // file may have applied this step while this one waited for the write lock.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: u32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if current >= version {
            continue;
        }
        tx.execute_batch(step)
            .and_then(|()| tx.pragma_update(None, "user_version", version))
            .map_err(|source| StoreError::Migration {
                path: path.to_owned(),
                version,
                source,
            })?;
        tx.commit()?;
        tracing::info!(path, version, "Upgraded the store schema.");
    }
    Ok(())
}
