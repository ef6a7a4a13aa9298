//! The `nrd` source: lists of newly registered domains, one domain a line, plain or gzip,
//! from a file or an http(s) URL. Every domain goes through the matcher, and each match
//! becomes a finding on the same path as the lookalike watch.
//!
//! What was read is remembered in the store: the SHA-256 of the last list processed to its
//! end (an unchanged list is not read again), the ETag and Last-Modified of a URL (sent back
//! for a conditional GET), and the line reached in the list being processed, saved every
//! [`PROGRESS_EVERY`] lines after the findings before it were committed. A restart in the
//! middle of a list resumes at that line.

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;
use tracing::{debug, info, warn};

use super::SourceContext;
use crate::config::{Config, NrdConfig, NrdLocation};
use crate::detect::{BrandSpec, DetectError, Matcher};
use crate::pipeline::Submitted;

/// Source name used in findings, cursors and logs.
pub const SOURCE: &str = "nrd";

/// Lines between two saves of the position in a list.
pub const PROGRESS_EVERY: usize = 1000;

/// Invalid lines logged one by one per list read; the rest are only counted.
const INVALID_LOGGED: usize = 10;

/// Delay before a list whose read failed is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum NrdError {
    #[error("cannot read {path}: {error}; check the path and its permissions")]
    File { path: String, error: std::io::Error },
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error(
        "list {list} is larger than max_bytes ({max} bytes); raise [nrd.{list}] max_bytes if the list is trusted"
    )]
    TooLarge { list: String, max: u64 },
    #[error("list {list} is gzip but does not decompress: {error}")]
    Gzip { list: String, error: std::io::Error },
    #[error("the watchlists do not compile into a matcher: {0}")]
    Matcher(String),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("shutting down")]
    Shutdown,
}

/// Counts of one read of a list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadStats {
    /// The list was unchanged since its last complete read (or the server answered 304).
    pub unchanged: bool,
    /// Lines skipped because an interrupted read of the same list had processed them.
    pub resumed_at: usize,
    pub domains: usize,
    pub invalid: usize,
    pub matched: usize,
    pub alerted: usize,
}

/// Runs one task per configured list until shutdown; lists added or removed by a reload are
/// started or stopped.
pub async fn run(mut ctx: SourceContext) {
    let mut tasks: HashMap<
        String,
        (
            NrdConfig,
            tokio_util::sync::CancellationToken,
            tokio::task::JoinHandle<()>,
        ),
    > = HashMap::new();
    loop {
        let config = ctx.config.borrow_and_update().clone();
        tasks.retain(|name, (list, stop, _)| {
            let keep = config.nrd.get(name) == Some(list);
            if !keep {
                stop.cancel();
            }
            keep
        });
        for (name, list) in &config.nrd {
            if tasks.contains_key(name) {
                continue;
            }
            let stop = ctx.shutdown.child_token();
            let task_ctx = SourceContext {
                shutdown: stop.clone(),
                ..ctx.clone()
            };
            let handle = tokio::spawn(run_list(task_ctx, list.clone()));
            tasks.insert(name.clone(), (list.clone(), stop, handle));
        }

        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            changed = ctx.config.changed() => if changed.is_err() { break },
        }
    }
    for (_, (_, stop, handle)) in tasks {
        stop.cancel();
        let _ = handle.await;
    }
}

async fn run_list(ctx: SourceContext, list: NrdConfig) {
    let client = match http_client(&list) {
        Ok(client) => client,
        Err(error) => {
            warn!(list = %list.name, %error, "Cannot build the HTTP client of the list.");
            return;
        }
    };
    let health = ctx.pipeline.health().clone();
    let name = format!("{SOURCE}:{}", list.name);
    health.register(&name, Duration::from_secs(list.interval_secs));
    loop {
        let config = ctx.config.borrow().clone();
        health.poll_started(&name);
        let wait = match read_list(&ctx, &config, &list, &client).await {
            Ok(stats) => {
                health.set_collapsed(
                    &name,
                    (!stats.unchanged && stats.domains == 0 && stats.resumed_at == 0)
                        .then(|| "the list held no domain".to_owned()),
                );
                health.poll_succeeded(&name, stats.domains as u64);
                info!(
                    list = %list.name,
                    unchanged = stats.unchanged,
                    resumed_at = stats.resumed_at,
                    domains = stats.domains,
                    invalid = stats.invalid,
                    matched = stats.matched,
                    alerted = stats.alerted,
                    "Read a list of newly registered domains."
                );
                Duration::from_secs(list.interval_secs)
            }
            Err(NrdError::Shutdown) => return,
            Err(error) => {
                health.poll_failed(&name, &error.to_string());
                warn!(list = %list.name, %error, "Reading a list of newly registered domains failed, retrying later.");
                RETRY_AFTER.min(Duration::from_secs(list.interval_secs))
            }
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn http_client(list: &NrdConfig) -> Result<reqwest::Client, reqwest::Error> {
    crate::init_tls();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(list.timeout_secs))
        .connect_timeout(Duration::from_secs(list.timeout_secs.min(30)))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!(
            "vigie/",
            env!("CARGO_PKG_VERSION"),
            " (newly registered domains)"
        ))
        .build()
}

/// Reads one list once: fetches it, skips it when unchanged, and submits every match.
pub async fn read_list(
    ctx: &SourceContext,
    config: &Config,
    list: &NrdConfig,
    client: &reqwest::Client,
) -> Result<ReadStats, NrdError> {
    let Some(raw) = fetch(ctx, list, client).await? else {
        return Ok(ReadStats {
            unchanged: true,
            ..ReadStats::default()
        });
    };
    let text = decompress(list, raw)?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));

    let done = cursor(ctx, &format!("done:{}", list.name)).await?;
    if done.as_deref() == Some(hash.as_str()) {
        debug!(list = %list.name, "List unchanged since its last complete read.");
        return Ok(ReadStats {
            unchanged: true,
            ..ReadStats::default()
        });
    }
    let progress_key = format!("progress:{}", list.name);
    let resume_at = cursor(ctx, &progress_key)
        .await?
        .and_then(|value| parse_progress(&value, &hash))
        .unwrap_or(0);

    let specs: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
    let matcher = Matcher::compile(&specs).map_err(|error| NrdError::Matcher(error.to_string()))?;
    let mut stats = ReadStats {
        resumed_at: resume_at,
        ..ReadStats::default()
    };
    let now = OffsetDateTime::now_utc();

    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line_number <= resume_at {
            continue;
        }
        if line_number % PROGRESS_EVERY == 0 {
            if ctx.shutdown.is_cancelled() {
                return Err(NrdError::Shutdown);
            }
            set_cursor(ctx, &progress_key, &format!("{hash} {line_number}")).await?;
        }
        let Some(domain) = domain_of(line) else {
            continue;
        };
        stats.domains += 1;
        let found = match matcher.check_input(domain) {
            Ok(found) => found,
            Err(error) => {
                stats.invalid += 1;
                log_invalid(list, line_number, &error, stats.invalid);
                continue;
            }
        };
        let Some(found) = found else { continue };
        stats.matched += 1;
        let mut finding = found.to_finding(SOURCE, now);
        if let Some(evidence) = finding.evidence.as_object_mut() {
            evidence.insert("list".to_string(), list.name.clone().into());
            evidence.insert("line".to_string(), line_number.into());
        }
        if let Submitted::Recorded { alerted: true, .. } = ctx.pipeline.submit(finding).await? {
            stats.alerted += 1;
        }
    }

    set_cursor(ctx, &format!("done:{}", list.name), &hash).await?;
    set_cursor(ctx, &progress_key, "").await?;
    if stats.invalid > INVALID_LOGGED {
        warn!(list = %list.name, invalid = stats.invalid, "More invalid lines than logged one by one.");
    }
    Ok(stats)
}

fn log_invalid(list: &NrdConfig, line: usize, error: &DetectError, count: usize) {
    if count <= INVALID_LOGGED {
        warn!(list = %list.name, line, %error, "Invalid line skipped.");
    }
}

/// Returns the domain of a list line: its first field, with comments and blank lines left out.
pub fn domain_of(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return None;
    }
    line.split(|c: char| c.is_whitespace() || c == ',').next()
}

fn parse_progress(value: &str, hash: &str) -> Option<usize> {
    let (stored_hash, line) = value.split_once(' ')?;
    if stored_hash != hash {
        return None;
    }
    line.parse().ok()
}

/// Fetches the list; returns `None` when the server answered 304 Not Modified.
async fn fetch(
    ctx: &SourceContext,
    list: &NrdConfig,
    client: &reqwest::Client,
) -> Result<Option<Vec<u8>>, NrdError> {
    match &list.location {
        NrdLocation::Path(path) => {
            let path = path.clone();
            let max = list.max_bytes;
            let name = list.name.clone();
            let bytes = tokio::task::spawn_blocking(move || read_file(&path, max, &name)).await??;
            Ok(Some(bytes))
        }
        NrdLocation::Url(template) => {
            download(
                ctx,
                list,
                client,
                &expand_date(template, OffsetDateTime::now_utc()),
            )
            .await
        }
    }
}

fn read_file(path: &std::path::Path, max: u64, list: &str) -> Result<Vec<u8>, NrdError> {
    let file = std::fs::File::open(path).map_err(|error| NrdError::File {
        path: path.display().to_string(),
        error,
    })?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| NrdError::File {
            path: path.display().to_string(),
            error,
        })?;
    if bytes.len() as u64 > max {
        return Err(NrdError::TooLarge {
            list: list.to_string(),
            max,
        });
    }
    Ok(bytes)
}

/// Replaces `{date}` with the UTC date as YYYY-MM-DD.
pub fn expand_date(template: &str, now: OffsetDateTime) -> String {
    let date = now
        .date()
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    template.replace("{date}", &date)
}

async fn download(
    ctx: &SourceContext,
    list: &NrdConfig,
    client: &reqwest::Client,
    url: &str,
) -> Result<Option<Vec<u8>>, NrdError> {
    let failed = |reason: String| NrdError::Download {
        url: url.to_string(),
        reason,
    };
    let validators_key = format!("validators:{}", list.name);
    let validators = cursor(ctx, &validators_key).await?;
    let mut request = client.get(url);
    if let Some((etag, modified)) = validators
        .as_deref()
        .and_then(parse_validators)
        .filter(|(u, _, _)| u == url)
        .map(|(_, e, m)| (e, m))
    {
        if !etag.is_empty() {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if !modified.is_empty() {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
        }
    }

    let mut response = request.send().await.map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(failed(format!("HTTP status {status}")));
    }
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let etag = header(reqwest::header::ETAG);
    let modified = header(reqwest::header::LAST_MODIFIED);
    if let Some(length) = response.content_length()
        && length > list.max_bytes
    {
        return Err(NrdError::TooLarge {
            list: list.name.clone(),
            max: list.max_bytes,
        });
    }

    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        if (body.len() + chunk.len()) as u64 > list.max_bytes {
            return Err(NrdError::TooLarge {
                list: list.name.clone(),
                max: list.max_bytes,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let validators = serde_json::json!([url, etag, modified]).to_string();
    set_cursor(ctx, &validators_key, &validators).await?;
    Ok(Some(body))
}

fn parse_validators(value: &str) -> Option<(String, String, String)> {
    let parsed: (String, String, String) = serde_json::from_str(value).ok()?;
    Some(parsed)
}

/// Decompresses a gzip list (recognised by its magic bytes) within `max_bytes`; a plain list
/// is returned as text, invalid UTF-8 replaced.
pub fn decompress(list: &NrdConfig, raw: Vec<u8>) -> Result<String, NrdError> {
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(list.max_bytes + 1)
            .read_to_end(&mut out)
            .map_err(|error| NrdError::Gzip {
                list: list.name.clone(),
                error,
            })?;
        if out.len() as u64 > list.max_bytes {
            return Err(NrdError::TooLarge {
                list: list.name.clone(),
                max: list.max_bytes,
            });
        }
        out
    } else {
        raw
    };
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    })
}

async fn cursor(ctx: &SourceContext, key: &str) -> Result<Option<String>, NrdError> {
    let store = ctx.pipeline.store().clone();
    let key = key.to_string();
    let value = tokio::task::spawn_blocking(move || store.cursor(SOURCE, &key)).await??;
    Ok(value.filter(|v| !v.is_empty()))
}

async fn set_cursor(ctx: &SourceContext, key: &str, value: &str) -> Result<(), NrdError> {
    let store = ctx.pipeline.store().clone();
    let (key, value) = (key.to_string(), value.to_string());
    tokio::task::spawn_blocking(move || store.set_cursor(SOURCE, &key, &value)).await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn domain_of_list_lines() {
        assert_eq!(domain_of("examp1e.com"), Some("examp1e.com"));
        assert_eq!(domain_of("  examp1e.com 2026-12-04"), Some("examp1e.com"));
        assert_eq!(domain_of("examp1e.com,2026-12-04"), Some("examp1e.com"));
        assert_eq!(domain_of("# comment"), None);
        assert_eq!(domain_of("   "), None);
    }

    #[test]
    fn date_placeholder_expands() {
        let now = datetime!(2026-12-04 21:00 UTC);
        assert_eq!(
            expand_date("https://lists.example.net/{date}.txt.gz", now),
            "https://lists.example.net/2026-12-04.txt.gz"
        );
    }

    #[test]
    fn progress_needs_the_same_list() {
        assert_eq!(parse_progress("abc 2000", "abc"), Some(2000));
        assert_eq!(parse_progress("abc 2000", "def"), None);
        assert_eq!(parse_progress("garbage", "abc"), None);
    }

    #[test]
    fn gzip_over_the_limit_is_rejected() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&vec![b'a'; 10_000]).unwrap();
        let raw = encoder.finish().unwrap();
        let list = NrdConfig {
            name: "daily".to_string(),
            location: NrdLocation::Path("x".into()),
            interval_secs: 60,
            max_bytes: 1000,
            timeout_secs: 5,
        };
        assert!(matches!(
            decompress(&list, raw.clone()),
            Err(NrdError::TooLarge { .. })
        ));
        let roomy = NrdConfig {
            max_bytes: 20_000,
            ..list
        };
        assert_eq!(decompress(&roomy, raw).unwrap().len(), 10_000);
    }
}
