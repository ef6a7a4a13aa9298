//! The `feed` source: RSS 0.9x, 1.0 and 2.0, Atom and JSON Feed, parsed by feed-rs.
//!
//! Each `[feed.NAME]` runs as its own task with its own interval. One read fetches the feed
//! through [`super::http`], with conditional GET, gzip, and size and redirect limits. The
//! ETag and Last-Modified are kept in the cursor `validators` of source `feed:NAME`. The read
//! then parses the feed and judges every item not seen before: its title, summary, content
//! and links go through the text matcher and the domain matcher ([`super::item_findings`]).
//!
//! An item is remembered, after its findings were submitted, under three keys in the
//! seen-items table: its id, its link, and a hash of its title and summary. An item already
//! known under any key is skipped, so a feed that renumbers its ids or rewrites its links does
//! not alert on its items again. The health row of each feed is kept under cursor
//! `health` / `feed:NAME` ([`super::record_health`]).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use time::OffsetDateTime;
use tracing::{debug, info, warn};

use super::http::{Fetched, HttpClient, HttpError, Validators};
use super::{Item, MatcherCache, Outcome, SourceContext};
use crate::config::{Config, FeedConfig};
use crate::evidence::page::{MAX_DEPTH, bound_depth};
use crate::pipeline::{PipelineError, Submitted};

/// Kind of the source, the prefix of each feed's source name.
pub const SOURCE: &str = "feed";

/// Delay before a failed read is tried again, unless the interval is shorter.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// Error of one read of a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed {feed}: {source}")]
    Http {
        feed: String,
        #[source]
        source: HttpError,
    },
    #[error(
        "feed {feed} at {url} is not a valid RSS, Atom or JSON feed: {reason}; check the URL, or whether the site now serves an error page"
    )]
    Malformed {
        feed: String,
        url: String,
        reason: String,
    },
    #[error("the watchlists do not compile into a matcher: {0}")]
    Matcher(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl FeedError {
    /// Returns the delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FeedError::Http { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// Counts of one read of a feed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FeedStats {
    /// The server responded 304 Not Modified.
    pub not_modified: bool,
    /// Items in the response (at most `max_items`).
    pub items: usize,
    /// Items skipped because one of their keys was seen before.
    pub known: usize,
    /// Findings submitted.
    pub findings: usize,
    /// Findings that raised alerts.
    pub alerted: usize,
}

/// Returns the name of a feed as a source: `feed:NAME`.
pub fn source_name(feed: &FeedConfig) -> String {
    format!("{SOURCE}:{}", feed.name)
}

/// Runs one task per `[feed.NAME]` until shutdown.
pub async fn run(ctx: SourceContext) {
    super::run_named(ctx, |config| &config.feeds, run_feed).await;
}

async fn run_feed(ctx: SourceContext, feed: FeedConfig) {
    let name = source_name(&feed);
    let dns = ctx.config.borrow().dns.clone();
    let client = match super::http_client(&feed.fetch, &dns) {
        Ok(client) => client,
        Err(error) => {
            warn!(source = %name, %error, "Cannot build the HTTP client of the feed.");
            return;
        }
    };
    let mut matchers = MatcherCache::default();
    let registry = ctx.pipeline.health().clone();
    registry.register(&name, Duration::from_secs(feed.interval_secs));
    loop {
        let config = ctx.config.borrow().clone();
        registry.poll_started(&name);
        let result = read_feed(&ctx, &config, &feed, &client, &mut matchers).await;
        let wait = next_wait(&feed, &result);
        let outcome = match &result {
            Ok(stats) => {
                info!(source = %name, not_modified = stats.not_modified, items = stats.items, known = stats.known, findings = stats.findings, alerted = stats.alerted, "Read a feed.");
                Outcome::Ok {
                    items: stats.items as u64,
                }
            }
            Err(error) => Outcome::Failed(error.to_string()),
        };
        if let Err(error) = super::record_health(&ctx, &name, outcome).await {
            warn!(source = %name, %error, "Cannot record the health of the feed.");
        }
        if !super::pause(&ctx, wait).await {
            return;
        }
    }
}

/// Returns the delay before the next read: the interval after a success, the server's
/// `Retry-After` when it asked for one (never less than the interval), and a shorter retry
/// after another failure.
pub fn next_wait(feed: &FeedConfig, result: &Result<FeedStats, FeedError>) -> Duration {
    let interval = Duration::from_secs(feed.interval_secs);
    match result {
        Ok(_) => interval,
        Err(error) => match error.retry_after() {
            Some(wait) => wait.max(interval),
            None => RETRY_AFTER.min(interval),
        },
    }
}

/// Reads a feed once and submits the findings of its new items.
pub async fn read_feed(
    ctx: &SourceContext,
    config: &Arc<Config>,
    feed: &FeedConfig,
    client: &HttpClient,
    matchers: &mut MatcherCache,
) -> Result<FeedStats, FeedError> {
    let name = source_name(feed);
    let validators: Option<Validators> = super::get_cursor(ctx, &name, "validators")
        .await?
        .and_then(|text| serde_json::from_str(&text).ok());
    let http_error = |source| FeedError::Http {
        feed: feed.name.clone(),
        source,
    };
    let page = match client
        .get(&feed.url, validators.as_ref(), Default::default())
        .await
        .map_err(http_error)?
    {
        Fetched::NotModified => {
            debug!(source = %name, "Feed not modified.");
            return Ok(FeedStats {
                not_modified: true,
                ..FeedStats::default()
            });
        }
        Fetched::Page(page) => page,
    };

    let items = parse_items(feed, &page.url, &page.body)?;
    let matchers = matchers
        .get(config)
        .map_err(|e| FeedError::Matcher(e.to_string()))?;
    let mut stats = FeedStats {
        items: items.len(),
        ..FeedStats::default()
    };
    let now = OffsetDateTime::now_utc();
    for (item, keys) in items {
        if super::seen_any(ctx, &name, &keys).await? {
            stats.known += 1;
            continue;
        }
        for finding in super::item_findings(&matchers, config, &item, now) {
            stats.findings += 1;
            if let Submitted::Recorded { alerted: true, .. } = ctx.pipeline.submit(finding).await? {
                stats.alerted += 1;
            }
        }
        super::mark_seen(ctx, &name, &keys).await?;
    }

    // Saved only once every item was handled, so that a read cut short is done again whole.
    let saved = serde_json::to_string(&page.validators).unwrap_or_default();
    super::set_cursor(ctx, &name, "validators", &saved).await?;
    super::prune_seen(ctx, &name).await?;
    Ok(stats)
}

/// Parses a feed body into items with their seen-keys, at most `max_items`.
pub fn parse_items(
    feed: &FeedConfig,
    url: &str,
    body: &[u8],
) -> Result<Vec<(Item, Vec<String>)>, FeedError> {
    let parser = feed_rs::parser::Builder::new().base_uri(Some(url)).build();
    let parsed = parser.parse(body).map_err(|error| FeedError::Malformed {
        feed: feed.name.clone(),
        url: feed.url.clone(),
        reason: error.to_string(),
    })?;
    let source = source_name(feed);
    Ok(parsed
        .entries
        .into_iter()
        .take(feed.max_items)
        .map(|entry| item_of(&source, entry))
        .collect())
}

static LINKS: LazyLock<scraper::Selector> =
    LazyLock::new(|| scraper::Selector::parse("a[href]").expect("a fixed, valid selector"));

/// Turns a feed entry into an item and the keys it is remembered under.
fn item_of(source: &str, entry: feed_rs::model::Entry) -> (Item, Vec<String>) {
    let mut links: Vec<String> = entry.links.iter().map(|l| l.href.clone()).collect();
    let title = entry
        .title
        .as_ref()
        .map(|t| text_of(t, &mut links))
        .unwrap_or_default();
    let summary = entry
        .summary
        .as_ref()
        .map(|t| text_of(t, &mut links))
        .unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(if c.content_type.to_string().contains("html") {
                html_text(body, &mut links)
            } else {
                body.to_string()
            })
        })
        .unwrap_or_default();
    let link = links.first().cloned();
    links.dedup();
    let authors: Vec<&str> = entry
        .authors
        .iter()
        .filter_map(|a| a.name.as_deref())
        .collect();

    let mut keys = vec![format!("id:{}", entry.id)];
    if let Some(link) = &link {
        keys.push(format!("link:{link}"));
    }
    keys.push(super::text_key(&format!("{title}\n{summary}")));

    let item = Item {
        source: source.to_string(),
        id: entry.id.clone(),
        link,
        text: [title.as_str(), summary.as_str(), content.as_str()]
            .iter()
            .filter(|t| !t.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n\n"),
        title,
        links: links.into_iter().skip(1).collect(),
        fields: serde_json::json!({
            "authors": authors,
            "published": entry.published.map(|d| d.to_rfc3339()),
            "updated": entry.updated.map(|d| d.to_rfc3339()),
        }),
    };
    (item, keys)
}

fn text_of(text: &feed_rs::model::Text, links: &mut Vec<String>) -> String {
    if text.content_type.to_string().contains("html") {
        html_text(&text.content, links)
    } else {
        text.content.clone()
    }
}

/// Returns the visible text of an HTML fragment and adds its link targets to `links`. No
/// script runs: scraper only parses. Markup nested deeper than [`MAX_DEPTH`] is left out.
pub fn html_text(html: &str, links: &mut Vec<String>) -> String {
    let fragment = scraper::Html::parse_fragment(bound_depth(html, MAX_DEPTH));
    for anchor in fragment.select(&LINKS) {
        if let Some(href) = anchor.value().attr("href")
            && !links.iter().any(|l| l == href)
        {
            links.push(href.to_string());
        }
    }
    let words: Vec<&str> = fragment
        .root_element()
        .text()
        .flat_map(str::split_whitespace)
        .collect();
    words.join(" ")
}
