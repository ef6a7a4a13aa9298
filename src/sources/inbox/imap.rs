//! IMAP folders: one connection and one task per folder, over TLS (rustls), STARTTLS or plain.
//!
//! A folder's cursor is its UIDVALIDITY and the last UID whose mail went through
//! [`ingest`](super::ingest::ingest), saved in the store only after that mail's campaign
//! finding was committed. A restart or a reconnection reads from the next UID on. A changed
//! UIDVALIDITY (the server renumbered the folder) reads the folder again from its start. The
//! store recognises the mails already kept by their SHA-256, so none is counted twice.
//!
//! Between two reads the task waits with IDLE (RFC 2177) where the server offers it and the
//! inbox has `idle = true`, renewing it every [`IDLE_RENEW`], and otherwise polls every
//! `poll_secs`. A lost connection is opened again after a delay that doubles from one second
//! up to `reconnect_max_secs`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::Session;
use futures::TryStreamExt;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tracing::{debug, info, warn};

use super::analysis::Analyzer;
use super::ingest::{MailSource, ingest};
use super::{InboxError, SOURCE, cursor, set_cursor};
use crate::config::{AfterRead, ImapConfig, ImapSecurity, InboxConfig};
use crate::sources::SourceContext;

/// Time after which an IDLE command is ended and started again, well under the 29 minutes
/// after which RFC 2177 lets a server drop an idle client.
pub const IDLE_RENEW: Duration = Duration::from_secs(600);

/// A connection to the server, plain or inside TLS.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A logged-in session and what the server offers.
pub struct Connection {
    pub session: Session<ImapStream>,
    pub idle: bool,
    pub move_command: bool,
    pub uidplus: bool,
}

/// Reads one folder until shutdown, reconnecting after every failure.
pub async fn run_folder(ctx: SourceContext, inbox: InboxConfig, imap: ImapConfig, folder: String) {
    let health_name = format!("{SOURCE}:{}/{folder}", inbox.name);
    let expected = if imap.idle {
        IDLE_RENEW
    } else {
        Duration::from_secs(inbox.poll_secs)
    };
    ctx.pipeline.health().register(&health_name, expected);
    let mut failures: u32 = 0;
    loop {
        let outcome = serve_folder(&ctx, &inbox, &imap, &folder, &mut failures).await;
        if ctx.shutdown.is_cancelled() {
            return;
        }
        if let Err(error) = outcome {
            ctx.pipeline
                .health()
                .poll_failed(&health_name, &error.to_string());
            failures = failures.saturating_add(1);
            let delay = backoff(failures, imap.reconnect_max_secs);
            warn!(
                inbox = %inbox.name,
                folder = %folder,
                failures,
                retry_in_ms = delay.as_millis() as u64,
                %error,
                "IMAP folder read failed, reconnecting later."
            );
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Returns the wait before reconnection attempt `failures`: 1 s doubled each time, at most
/// `max_secs`, plus up to 10 % of random jitter.
pub fn backoff(failures: u32, max_secs: u64) -> Duration {
    let base = 1u64
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .min(max_secs);
    let jitter = rand::rng().random_range(0..=base * 100);
    Duration::from_millis(base * 1000 + jitter)
}

/// Connects, then reads and waits in turn until shutdown (`Ok`) or a failure (`Err`).
async fn serve_folder(
    ctx: &SourceContext,
    inbox: &InboxConfig,
    imap: &ImapConfig,
    folder: &str,
    failures: &mut u32,
) -> Result<(), InboxError> {
    let limit = Duration::from_secs(imap.timeout_secs);
    let mut connection = connect(imap, &inbox.name).await?;
    if let AfterRead::Move(target) = &imap.after {
        // The server replies NO for a folder that exists, as on most runs.
        let _ = within(limit, "CREATE", connection.session.create(target)).await;
    }
    let use_idle = imap.idle && connection.idle;
    info!(
        inbox = %inbox.name,
        folder,
        idle = use_idle,
        "Connected to the IMAP server."
    );

    let health = ctx.pipeline.health().clone();
    let health_name = format!("{SOURCE}:{}/{folder}", inbox.name);
    let mut analyzer: Option<Analyzer> = None;
    loop {
        let current = current_analyzer(ctx, &mut analyzer)?;
        health.poll_started(&health_name);
        let counts = read_new(ctx, inbox, imap, folder, &mut connection, &current).await?;
        health.poll_succeeded(&health_name, counts.mails as u64);
        *failures = 0;
        while connection.session.unsolicited_responses.try_recv().is_ok() {}

        let waited = if use_idle {
            idle(ctx, connection.session, limit).await?
        } else {
            poll_wait(ctx, connection.session, inbox.poll_secs).await
        };
        match waited {
            Some(session) => connection.session = session,
            None => return Ok(()),
        }
    }
}

/// Returns the analyzer of the current configuration, compiling it again after a reload.
fn current_analyzer(
    ctx: &SourceContext,
    analyzer: &mut Option<Analyzer>,
) -> Result<Analyzer, InboxError> {
    let config = ctx.config.borrow().clone();
    if let Some(current) = analyzer.as_ref()
        && Arc::ptr_eq(current.config(), &config)
    {
        return Ok(current.clone());
    }
    let fresh = Analyzer::new(config).map_err(InboxError::Matcher)?;
    *analyzer = Some(fresh.clone());
    Ok(fresh)
}

/// Opens a connection, upgrades it to TLS as configured, and logs in.
pub async fn connect(imap: &ImapConfig, inbox: &str) -> Result<Connection, InboxError> {
    let limit = Duration::from_secs(imap.timeout_secs);
    let address = format!("{}:{}", imap.host, imap.port);
    let tcp = within(
        limit,
        "connect",
        TcpStream::connect((imap.host.as_str(), imap.port)),
    )
    .await?
    .map_err(|error| InboxError::Connect {
        inbox: inbox.to_string(),
        address: address.clone(),
        reason: error.to_string(),
    })?;

    let stream = match imap.security {
        ImapSecurity::Plain => ImapStream::Plain(tcp),
        ImapSecurity::Tls => ImapStream::Tls(Box::new(handshake(imap, inbox, tcp, limit).await?)),
        ImapSecurity::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, limit).await?;
            within(
                limit,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?
            .map_err(|error| InboxError::Connect {
                inbox: inbox.to_string(),
                address: address.clone(),
                reason: format!("STARTTLS rejected: {error}"),
            })?;
            let tcp = client.into_inner();
            ImapStream::Tls(Box::new(handshake(imap, inbox, tcp, limit).await?))
        }
    };

    let mut client = async_imap::Client::new(stream);
    if imap.security != ImapSecurity::StartTls {
        greeting(&mut client, limit).await?;
    }
    let mut session = within(
        limit,
        "LOGIN",
        client.login(&imap.username, imap.password.expose()),
    )
    .await?
    .map_err(|(error, _)| InboxError::Login {
        inbox: inbox.to_string(),
        username: imap.username.clone(),
        reason: error.to_string(),
    })?;
    let capabilities = within(limit, "CAPABILITY", session.capabilities()).await??;
    Ok(Connection {
        idle: capabilities.has_str("IDLE"),
        move_command: capabilities.has_str("MOVE"),
        uidplus: capabilities.has_str("UIDPLUS"),
        session,
    })
}

async fn greeting<T>(client: &mut async_imap::Client<T>, limit: Duration) -> Result<(), InboxError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match within(limit, "greeting", client.read_response()).await?? {
        Some(_) => Ok(()),
        None => Err(InboxError::Imap(async_imap::error::Error::ConnectionLost)),
    }
}

async fn handshake(
    imap: &ImapConfig,
    inbox: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, InboxError> {
    crate::init_tls();
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for certificate in imap.ca_file.iter().flat_map(|file| &file.certificates) {
        // The config loader already parsed every certificate of ca_file as a trust anchor.
        let _ = roots.add(certificate.clone());
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = imap.tls_server_name.as_deref().unwrap_or(&imap.host);
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|_| {
        InboxError::Connect {
            inbox: inbox.to_string(),
            address: format!("{}:{}", imap.host, imap.port),
            reason: format!("{name:?} is not a valid TLS server name; set tls_server_name"),
        }
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    within(limit, "TLS handshake", connector.connect(server_name, tcp))
        .await?
        .map_err(|error| InboxError::Connect {
            inbox: inbox.to_string(),
            address: format!("{}:{}", imap.host, imap.port),
            reason: format!(
                "TLS handshake failed: {error}; if the server's certificate comes from a private CA, add it to ca_file"
            ),
        })
}

/// Runs `future` with a time limit; `what` names the step in the error.
async fn within<T>(
    limit: Duration,
    what: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, InboxError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| InboxError::Timeout {
            step: what,
            secs: limit.as_secs(),
        })
}

/// Counts of one read of a folder.
#[derive(Debug, Default)]
struct ReadCounts {
    mails: usize,
    alerted: usize,
    duplicates: usize,
    too_large: usize,
}

/// Selects the folder and ingests every mail past the cursor, advancing it after each.
async fn read_new(
    ctx: &SourceContext,
    inbox: &InboxConfig,
    imap: &ImapConfig,
    folder: &str,
    connection: &mut Connection,
    analyzer: &Analyzer,
) -> Result<ReadCounts, InboxError> {
    let limit = Duration::from_secs(imap.timeout_secs);
    let key = format!("{}/{folder}", inbox.name);
    let mailbox = within(limit, "SELECT", connection.session.select(folder)).await??;
    let validity = mailbox.uid_validity.unwrap_or(0);
    let last = match parse_cursor(cursor(ctx, &key).await?.as_deref()) {
        Some((stored, last)) if stored == validity => last,
        Some((stored, _)) => {
            warn!(inbox = %inbox.name, folder, old = stored, new = validity, "UIDVALIDITY changed, reading the folder again from its start.");
            0
        }
        None => 0,
    };
    if mailbox.exists == 0 {
        set_cursor(ctx, &key, &format_cursor(validity, last)).await?;
        return Ok(ReadCounts::default());
    }

    let sizes = new_sizes(&mut connection.session, last, limit).await?;
    let mut counts = ReadCounts::default();
    for (uid, size) in sizes {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        if u64::from(size) > inbox.max_message_bytes {
            counts.too_large += 1;
            warn!(inbox = %inbox.name, folder, uid, size, max = inbox.max_message_bytes, "Mail larger than max_message_bytes skipped; raise max_message_bytes to read it.");
        } else if let Some(raw) = fetch_body(&mut connection.session, uid, limit).await? {
            let from = MailSource {
                source: SOURCE,
                origin: key.clone(),
                folder: Some(folder.to_string()),
                uidvalidity: Some(validity),
                uid: Some(uid),
                fallback: inbox
                    .watchlist
                    .clone()
                    .map(|watchlist| (watchlist, inbox.unmatched_severity)),
            };
            let ingested = ingest(&ctx.pipeline, analyzer, raw, &from).await?;
            counts.mails += 1;
            counts.alerted += usize::from(ingested.alerted());
            counts.duplicates += usize::from(ingested.duplicate);
            if let Some(error) = &ingested.analysis_error {
                warn!(inbox = %inbox.name, folder, uid, mail_id = ingested.mail_id, %error, "Mail kept but not analysed.");
            }
            after_read(connection, imap, inbox, folder, uid, limit).await;
        }
        set_cursor(ctx, &key, &format_cursor(validity, uid)).await?;
    }

    if counts.mails + counts.too_large > 0 {
        info!(inbox = %inbox.name, folder, mails = counts.mails, alerted = counts.alerted, duplicates = counts.duplicates, too_large = counts.too_large, "Read new mail.");
    } else {
        debug!(inbox = %inbox.name, folder, "No new mail.");
    }
    Ok(counts)
}

/// Returns the UID and size of every mail past `last`, in UID order.
async fn new_sizes(
    session: &mut Session<ImapStream>,
    last: u32,
    limit: Duration,
) -> Result<Vec<(u32, u32)>, InboxError> {
    let range = format!("{}:*", last.saturating_add(1));
    let fetches: Vec<_> = within(limit, "UID FETCH", async {
        session
            .uid_fetch(&range, "(UID RFC822.SIZE)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await??;
    // `N:*` also returns the last mail when none is above N, so UIDs are filtered.
    let mut sizes: Vec<(u32, u32)> = fetches
        .iter()
        .filter_map(|fetch| Some((fetch.uid?, fetch.size.unwrap_or(0))))
        .filter(|(uid, _)| *uid > last)
        .collect();
    sizes.sort_unstable();
    sizes.dedup_by_key(|(uid, _)| *uid);
    Ok(sizes)
}

/// Fetches one mail without setting `\Seen`; `None` when it was expunged meanwhile.
async fn fetch_body(
    session: &mut Session<ImapStream>,
    uid: u32,
    limit: Duration,
) -> Result<Option<Vec<u8>>, InboxError> {
    let fetches: Vec<_> = within(limit, "UID FETCH", async {
        session
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await??;
    Ok(fetches
        .iter()
        .find(|fetch| fetch.uid == Some(uid))
        .and_then(|fetch| fetch.body())
        .map(<[u8]>::to_vec))
}

/// Flags or moves a processed mail as the inbox's `after` sets. A failure is logged, not
/// returned, because the mail is recorded and reading it again would only find a duplicate.
async fn after_read(
    connection: &mut Connection,
    imap: &ImapConfig,
    inbox: &InboxConfig,
    folder: &str,
    uid: u32,
    limit: Duration,
) {
    let session = &mut connection.session;
    let uid_set = uid.to_string();
    let outcome: Result<(), InboxError> = match &imap.after {
        AfterRead::Keep => Ok(()),
        AfterRead::Seen => store_flags(session, &uid_set, "+FLAGS.SILENT (\\Seen)", limit).await,
        AfterRead::Flag => store_flags(session, &uid_set, "+FLAGS.SILENT (\\Flagged)", limit).await,
        AfterRead::Move(target) if connection.move_command => {
            within(limit, "UID MOVE", session.uid_mv(&uid_set, target))
                .await
                .and_then(|result| result.map_err(InboxError::Imap))
        }
        AfterRead::Move(target) => {
            let copied = within(limit, "UID COPY", session.uid_copy(&uid_set, target))
                .await
                .and_then(|result| result.map_err(InboxError::Imap));
            match copied {
                Ok(()) => {
                    let deleted =
                        store_flags(session, &uid_set, "+FLAGS.SILENT (\\Deleted)", limit).await;
                    if deleted.is_ok() && connection.uidplus {
                        expunge_uid(session, &uid_set, limit).await
                    } else {
                        deleted
                    }
                }
                Err(error) => Err(error),
            }
        }
    };
    if let Err(error) = outcome {
        warn!(inbox = %inbox.name, folder, uid, %error, "Flagging or moving a processed mail failed.");
    }
}

async fn store_flags(
    session: &mut Session<ImapStream>,
    uid_set: &str,
    query: &str,
    limit: Duration,
) -> Result<(), InboxError> {
    within(limit, "UID STORE", async {
        session
            .uid_store(uid_set, query)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await??;
    Ok(())
}

async fn expunge_uid(
    session: &mut Session<ImapStream>,
    uid_set: &str,
    limit: Duration,
) -> Result<(), InboxError> {
    within(limit, "UID EXPUNGE", async {
        session
            .uid_expunge(uid_set)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await??;
    Ok(())
}

/// Waits in IDLE until the server reports a change, [`IDLE_RENEW`] passes, or shutdown
/// (`None`).
async fn idle(
    ctx: &SourceContext,
    session: Session<ImapStream>,
    limit: Duration,
) -> Result<Option<Session<ImapStream>>, InboxError> {
    let mut handle = session.idle();
    within(limit, "IDLE", handle.init()).await??;
    let (wait, _interrupt) = handle.wait_with_timeout(IDLE_RENEW);
    let outcome = tokio::select! {
        outcome = wait => outcome,
        _ = ctx.shutdown.cancelled() => return Ok(None),
    };
    let response = outcome?;
    debug!(?response, "IDLE ended.");
    let session = within(limit, "DONE", handle.done()).await??;
    Ok(Some(session))
}

/// Sleeps `poll_secs`, or returns `None` on shutdown.
async fn poll_wait(
    ctx: &SourceContext,
    session: Session<ImapStream>,
    poll_secs: u64,
) -> Option<Session<ImapStream>> {
    tokio::select! {
        _ = ctx.shutdown.cancelled() => None,
        _ = tokio::time::sleep(Duration::from_secs(poll_secs)) => Some(session),
    }
}

/// Parses a stored cursor, `UIDVALIDITY LAST_UID`.
pub fn parse_cursor(value: Option<&str>) -> Option<(u32, u32)> {
    let (validity, last) = value?.split_once(' ')?;
    Some((validity.parse().ok()?, last.parse().ok()?))
}

pub fn format_cursor(validity: u32, last: u32) -> String {
    format!("{validity} {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        assert_eq!(parse_cursor(Some(&format_cursor(7, 42))), Some((7, 42)));
        assert_eq!(parse_cursor(Some("garbage")), None);
        assert_eq!(parse_cursor(None), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let secs = |failures| backoff(failures, 300).as_secs();
        assert_eq!(secs(1), 1);
        assert_eq!(secs(2), 2);
        assert_eq!(secs(4), 8);
        assert!((300..=330).contains(&secs(20)));
        assert!((300..=330).contains(&secs(200)));
    }
}
