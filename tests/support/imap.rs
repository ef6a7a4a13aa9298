//! Reads messages back from the test Dovecot mailbox by any header, for the mails that are
//! not alerts (takedown notices).

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::time::{Duration, Instant};

use futures::TryStreamExt;

use super::mail::{MAILBOX, PASSWORD};

/// Polls the mailbox on 127.0.0.1:`port` until a message whose header `name` contains
/// `value` arrives, and returns it raw. Panics after `timeout`.
pub async fn wait_for_header(port: u16, name: &str, value: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        match fetch(port, name, value).await {
            Ok(Some(message)) => return message,
            Ok(None) => {}
            Err(error) if Instant::now() > deadline => {
                panic!("IMAP read of 127.0.0.1:{port} failed: {error}")
            }
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "no message with {name}: {value} in {MAILBOX} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn fetch(
    port: u16,
    name: &str,
    value: &str,
) -> Result<Option<String>, async_imap::error::Error> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut client = async_imap::Client::new(stream);
    client.read_response().await?;
    let mut session = client
        .login(MAILBOX, PASSWORD)
        .await
        .map_err(|(error, _client)| error)?;
    session.select("INBOX").await?;
    let found = session.search(format!("HEADER {name} \"{value}\"")).await?;
    let mut message = None;
    if let Some(sequence) = found.into_iter().max() {
        let fetches: Vec<_> = session
            .fetch(sequence.to_string(), "RFC822")
            .await?
            .try_collect()
            .await?;
        message = fetches
            .first()
            .and_then(|fetch| fetch.body())
            .map(|body| String::from_utf8_lossy(body).into_owned());
    }
    session.logout().await?;
    Ok(message)
}
