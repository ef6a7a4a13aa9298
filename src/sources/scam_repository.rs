//! The `scam_repository` source: scam-report sites and forums (419-style archives,
//! scam-warning boards) read with the CSS selectors of `[scam_repository.NAME]`.
//!
//! One visit reads the list page, follows `next_page` up to `max_pages`, collects the links
//! that `item_links` selects, and reads each item page not seen before. Each field selector
//! (`sender`, `reply_to`, `subject`, `body`, ...) gives the text of the elements it matches.
//! The item's fields then go through the text and domain matchers like a feed item.
//!
//! Politeness: requests to one host go one at a time, across every source of the daemon,
//! with `delay_ms` (or the robots.txt `Crawl-delay`, when longer) between two of them. The
//! `User-Agent` names vigie. robots.txt is read at each visit and obeyed unless
//! `robots_txt = false`. Per RFC 9309, a robots.txt request that gets a 4xx allows
//! everything, and one that fails (5xx, network error) disallows everything.
//!
//! A site whose layout changed makes the selectors match nothing. Such a visit is reported as
//! blind rather than as a quiet success: the list page gives no item link, or no field
//! selector matches on any item page read.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use scraper::{Html, Selector};
use time::OffsetDateTime;
use tracing::{debug, info, warn};

use super::http::{Fetched, HttpClient, HttpError, Page};
use super::{Item, MatcherCache, Outcome, SourceContext};
use crate::config::{Config, ScamRepositoryConfig};
use crate::evidence::page::{MAX_DEPTH, bound_depth};
use crate::pipeline::{PipelineError, Submitted};

/// Kind of the source, the prefix of each site's source name.
pub const SOURCE: &str = "scam_repository";

/// Product token matched against robots.txt `User-agent` lines.
pub const ROBOTS_AGENT: &str = "vigie";

/// Delay before a failed visit is tried again, unless the interval is shorter.
const RETRY_AFTER: Duration = Duration::from_secs(600);

/// Longest `Crawl-delay` obeyed; a longer one is read as this.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// Error of one visit.
#[derive(Debug, thiserror::Error)]
pub enum ScamRepositoryError {
    #[error("scam repository {site}: {source}")]
    Http {
        site: String,
        #[source]
        source: HttpError,
    },
    #[error(
        "scam repository {site}: robots.txt of {url} disallows it; set robots_txt = false only with the site's permission"
    )]
    Disallowed { site: String, url: String },
    #[error("the watchlists do not compile into a matcher: {0}")]
    Matcher(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl ScamRepositoryError {
    /// Returns the delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ScamRepositoryError::Http { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// Counts of one visit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VisitStats {
    /// List pages read.
    pub pages: usize,
    /// Item links found on the list pages.
    pub links: usize,
    /// Item pages skipped because they were read on an earlier visit.
    pub known: usize,
    /// Item pages read.
    pub items: usize,
    /// Item pages on which no field selector matched.
    pub empty_items: usize,
    /// Item pages robots.txt disallows.
    pub disallowed: usize,
    /// Item pages whose fetch failed.
    pub failed: usize,
    pub findings: usize,
    pub alerted: usize,
    /// Reason the visit counts as blind, if it does.
    pub blind: Option<String>,
}

/// Returns the name of a site as a source: `scam_repository:NAME`.
pub fn source_name(site: &ScamRepositoryConfig) -> String {
    format!("{SOURCE}:{}", site.name)
}

/// Runs one task per `[scam_repository.NAME]` until shutdown.
pub async fn run(ctx: SourceContext) {
    super::run_named(ctx, |config| &config.scam_repositories, run_site).await;
}

async fn run_site(ctx: SourceContext, site: ScamRepositoryConfig) {
    let name = source_name(&site);
    let dns = ctx.config.borrow().dns.clone();
    let client = match super::http_client(&site.fetch, &dns) {
        Ok(client) => client,
        Err(error) => {
            warn!(source = %name, %error, "Cannot build the HTTP client of the site.");
            return;
        }
    };
    let registry = ctx.pipeline.health().clone();
    registry.register(&name, Duration::from_secs(site.interval_secs));
    let mut matchers = MatcherCache::default();
    loop {
        let config = ctx.config.borrow().clone();
        registry.poll_started(&name);
        let result = visit(&ctx, &config, &site, &client, &mut matchers).await;
        let interval = Duration::from_secs(site.interval_secs);
        let (outcome, wait) = match &result {
            Ok(stats) => {
                info!(source = %name, pages = stats.pages, links = stats.links, known = stats.known, items = stats.items, failed = stats.failed, findings = stats.findings, alerted = stats.alerted, "Visited a scam repository.");
                match &stats.blind {
                    Some(reason) => (Outcome::Blind(reason.clone()), interval),
                    None => (
                        Outcome::Ok {
                            items: stats.items as u64,
                        },
                        interval,
                    ),
                }
            }
            Err(error) => {
                let wait = match error.retry_after() {
                    Some(wait) => wait.max(interval),
                    None => RETRY_AFTER.min(interval),
                };
                (Outcome::Failed(error.to_string()), wait)
            }
        };
        if let Err(error) = super::record_health(&ctx, &name, outcome).await {
            warn!(source = %name, %error, "Cannot record the health of the site.");
        }
        if !super::pause(&ctx, wait).await {
            return;
        }
    }
}

/// Reads a site once: its list pages, then every item page not seen before.
pub async fn visit(
    ctx: &SourceContext,
    config: &Arc<Config>,
    site: &ScamRepositoryConfig,
    client: &HttpClient,
    matchers: &mut MatcherCache,
) -> Result<VisitStats, ScamRepositoryError> {
    let name = source_name(site);
    let selectors = Selectors::compile(site);
    let mut polite = Polite::new(site);
    let robots = if site.robots_txt {
        Some(robots(client, site, &mut polite).await)
    } else {
        None
    };
    let robots = robots.as_ref();
    let allowed = |url: &str| robots.is_none_or(|r| r.allowed(url));
    if !allowed(&site.url) {
        return Err(ScamRepositoryError::Disallowed {
            site: site.name.clone(),
            url: site.url.clone(),
        });
    }

    let mut stats = VisitStats::default();
    let links = list_links(client, site, &selectors, &mut polite, robots, &mut stats).await?;
    stats.links = links.len();
    if links.is_empty() {
        stats.blind = Some(format!(
            "selector item_links \"{}\" matches no link on {}; the site's layout may have changed, update [scam_repository.{}]",
            site.item_links, site.url, site.name
        ));
        return Ok(stats);
    }

    let matchers = matchers
        .get(config)
        .map_err(|e| ScamRepositoryError::Matcher(e.to_string()))?;
    let now = OffsetDateTime::now_utc();
    for link in links.into_iter().take(site.max_items) {
        let url_key = format!("url:{link}");
        if super::seen_any(ctx, &name, std::slice::from_ref(&url_key)).await? {
            stats.known += 1;
            continue;
        }
        if !allowed(&link) {
            stats.disallowed += 1;
            continue;
        }
        let page = match polite.get(client, &link).await {
            Ok(page) => page,
            Err(error) => {
                warn!(source = %name, url = %link, %error, "Cannot read an item page.");
                stats.failed += 1;
                continue;
            }
        };
        stats.items += 1;
        let Some(item) = read_item(&name, site, &selectors, &page) else {
            stats.empty_items += 1;
            debug!(source = %name, url = %link, "No field selector matches on the item page.");
            continue;
        };
        for finding in super::item_findings(&matchers, config, &item, now) {
            stats.findings += 1;
            if let Submitted::Recorded { alerted: true, .. } = ctx.pipeline.submit(finding).await? {
                stats.alerted += 1;
            }
        }
        let keys = vec![url_key, super::text_key(&item.text)];
        super::mark_seen(ctx, &name, &keys).await?;
    }

    if stats.items > 0 && stats.empty_items == stats.items {
        let fields: Vec<String> = site
            .fields
            .iter()
            .map(|(field, selector)| format!("{field} \"{selector}\""))
            .collect();
        stats.blind = Some(format!(
            "no field selector ({}) matches on any of the {} item pages read; the site's layout may have changed, update [scam_repository.{}.fields]",
            fields.join(", "),
            stats.items,
            site.name
        ));
    } else if stats.items > 0 && stats.failed > 0 && stats.items == stats.failed {
        warn!(source = %name, failed = stats.failed, "Every item page failed.");
    }
    super::prune_seen(ctx, &name).await?;
    Ok(stats)
}

/// The selectors of a site, parsed once a visit. The configuration was checked at load, so
/// a selector that does not parse here is left out.
struct Selectors {
    item_links: Option<Selector>,
    next_page: Option<Selector>,
    fields: Vec<(String, Selector)>,
    anchors: Selector,
}

impl Selectors {
    fn compile(site: &ScamRepositoryConfig) -> Selectors {
        Selectors {
            item_links: Selector::parse(&site.item_links).ok(),
            next_page: site
                .next_page
                .as_deref()
                .and_then(|s| Selector::parse(s).ok()),
            fields: site
                .fields
                .iter()
                .filter_map(|(name, s)| Some((name.clone(), Selector::parse(s).ok()?)))
                .collect(),
            anchors: LINKS.clone(),
        }
    }
}

static LINKS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href]").expect("a fixed, valid selector"));

/// Reads the list pages and returns the item links, absolute and without repeats.
async fn list_links(
    client: &HttpClient,
    site: &ScamRepositoryConfig,
    selectors: &Selectors,
    polite: &mut Polite,
    robots: Option<&Robots>,
    stats: &mut VisitStats,
) -> Result<Vec<String>, ScamRepositoryError> {
    let mut links: Vec<String> = Vec::new();
    let mut next = Some(site.url.clone());
    let mut visited: Vec<String> = Vec::new();
    while let Some(url) = next.take() {
        let allowed = robots.is_none_or(|r| r.allowed(&url));
        if stats.pages >= site.max_pages || visited.contains(&url) || !allowed {
            break;
        }
        let page = polite
            .get(client, &url)
            .await
            .map_err(|source| ScamRepositoryError::Http {
                site: site.name.clone(),
                source,
            })?;
        stats.pages += 1;
        visited.push(url);
        let (found, following) = parse_list(&page, selectors);
        let before = links.len();
        for link in found {
            if !links.contains(&link) {
                links.push(link);
            }
        }
        // A page that adds no link is a page seen under another URL: stop following.
        if links.len() > before {
            next = following;
        }
    }
    Ok(links)
}

/// What the site's selectors extract from one fetched page.
#[derive(Debug)]
pub struct Extracted {
    /// Item links, read as on a list page, made absolute.
    pub item_links: Vec<String>,
    /// Next-page link, read as on a list page.
    pub next_page: Option<String>,
    /// The item, read as on an item page; `None` when no field selector matches.
    pub item: Option<Item>,
}

/// Reads one page both as a list page and as an item page with the selectors of `site`. A
/// visit reads each page only one way; this runs both on any body, without a server.
pub fn extract(site: &ScamRepositoryConfig, page: &Page) -> Extracted {
    let selectors = Selectors::compile(site);
    let (item_links, next_page) = parse_list(page, &selectors);
    let item = read_item(&source_name(site), site, &selectors, page);
    Extracted {
        item_links,
        next_page,
        item,
    }
}

/// Returns the item links of a list page and its next-page link, made absolute.
fn parse_list(page: &Page, selectors: &Selectors) -> (Vec<String>, Option<String>) {
    let body = String::from_utf8_lossy(&page.body);
    let html = Html::parse_document(bound_depth(&body, MAX_DEPTH));
    let base = url::Url::parse(&page.url).ok();
    let absolute = |href: &str| -> Option<String> {
        let joined = match &base {
            Some(base) => base.join(href).ok()?,
            None => url::Url::parse(href).ok()?,
        };
        matches!(joined.scheme(), "http" | "https").then(|| {
            let mut joined = joined;
            joined.set_fragment(None);
            joined.to_string()
        })
    };
    let href_of = |element: scraper::ElementRef<'_>| -> Option<String> {
        let anchor = if element.value().name() == "a" {
            Some(element)
        } else {
            element.select(&selectors.anchors).next()
        };
        absolute(anchor?.value().attr("href")?)
    };
    let links = match &selectors.item_links {
        Some(selector) => html.select(selector).filter_map(href_of).collect(),
        None => Vec::new(),
    };
    let next = selectors
        .next_page
        .as_ref()
        .and_then(|selector| html.select(selector).find_map(href_of));
    (links, next)
}

/// Reads the fields of an item page; `None` when no field selector matches.
fn read_item(
    source: &str,
    site: &ScamRepositoryConfig,
    selectors: &Selectors,
    page: &Page,
) -> Option<Item> {
    let body = String::from_utf8_lossy(&page.body);
    let html = Html::parse_document(bound_depth(&body, MAX_DEPTH));
    let mut fields = serde_json::Map::new();
    let mut text = String::new();
    let mut links = Vec::new();
    for (name, selector) in &selectors.fields {
        let mut values = Vec::new();
        for element in html.select(selector) {
            let words: Vec<&str> = element.text().flat_map(str::split_whitespace).collect();
            if !words.is_empty() {
                values.push(element_text(element));
            }
            for anchor in element.select(&selectors.anchors) {
                if let Some(href) = anchor.value().attr("href") {
                    links.push(href.to_string());
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        let value = values.join("\n");
        text.push_str(&format!("{name}: {value}\n\n"));
        fields.insert(name.clone(), value.into());
    }
    if fields.is_empty() {
        return None;
    }
    let title = ["subject", "title"]
        .iter()
        .find_map(|f| fields.get(*f).and_then(|v| v.as_str()))
        .map_or_else(
            || page.url.clone(),
            |t| t.lines().next().unwrap_or(t).to_string(),
        );
    fields.insert("site".to_string(), site.name.clone().into());
    Some(Item {
        source: source.to_string(),
        id: page.url.clone(),
        link: Some(page.url.clone()),
        title,
        text,
        links,
        fields: serde_json::Value::Object(fields),
    })
}

/// Returns an element's text with its line breaks kept and runs of blanks collapsed.
fn element_text(element: scraper::ElementRef<'_>) -> String {
    let raw: String = element.text().collect();
    raw.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The robots.txt rules of a site, or a rule that allows or disallows everything.
enum Robots {
    Rules(Box<texting_robots::Robot>),
    AllowAll,
    DisallowAll,
}

impl Robots {
    fn allowed(&self, url: &str) -> bool {
        match self {
            Robots::Rules(robot) => robot.allowed(url),
            Robots::AllowAll => true,
            Robots::DisallowAll => false,
        }
    }
}

/// Fetches and parses the site's robots.txt, and raises the delay to its `Crawl-delay`.
async fn robots(client: &HttpClient, site: &ScamRepositoryConfig, polite: &mut Polite) -> Robots {
    let Ok(url) = texting_robots::get_robots_url(&site.url) else {
        return Robots::DisallowAll;
    };
    match polite.get(client, &url).await {
        Ok(page) => match texting_robots::Robot::new(ROBOTS_AGENT, &page.body) {
            Ok(robot) => {
                if let Some(crawl) = crawl_delay(robot.delay) {
                    polite.delay = polite.delay.max(crawl);
                }
                Robots::Rules(Box::new(robot))
            }
            Err(error) => {
                warn!(site = %site.name, %url, %error, "Cannot parse robots.txt; reading the site as if it had none.");
                Robots::AllowAll
            }
        },
        Err(HttpError::Status { status, .. }) if (400..500).contains(&status) => Robots::AllowAll,
        Err(error) => {
            warn!(site = %site.name, %url, %error, "Cannot fetch robots.txt; reading nothing from the site this visit.");
            Robots::DisallowAll
        }
    }
}

/// Reads a robots.txt `Crawl-delay` in seconds, at most [`MAX_CRAWL_DELAY`]; `None` for a
/// missing, negative or non-finite one.
fn crawl_delay(seconds: Option<f32>) -> Option<Duration> {
    let seconds = seconds.filter(|s| s.is_finite() && *s > 0.0)?;
    // Clamped before the conversion, which panics on a value too large for a Duration.
    Some(Duration::from_secs_f32(
        seconds.min(MAX_CRAWL_DELAY.as_secs_f32()),
    ))
}

/// Last request time of each host, shared by every site of the daemon, so that two sources
/// on one host never send requests at once.
static HOSTS: LazyLock<Mutex<HashMap<String, HostSlot>>> = LazyLock::new(Default::default);

/// The time of a host's last request, locked while a request to it is in flight.
type HostSlot = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// Sends one request at a time to a host, `delay` apart.
struct Polite {
    delay: Duration,
}

impl Polite {
    fn new(site: &ScamRepositoryConfig) -> Polite {
        Polite {
            delay: Duration::from_millis(site.delay_ms),
        }
    }

    /// GETs `url` after the host's previous request plus the delay. A 304 cannot come back,
    /// since no validators are sent.
    async fn get(&mut self, client: &HttpClient, url: &str) -> Result<Page, HttpError> {
        let host = super::link_host(url).unwrap_or_default();
        let slot = {
            let mut hosts = HOSTS.lock().unwrap_or_else(|p| p.into_inner());
            hosts.entry(host).or_default().clone()
        };
        let mut last = slot.lock().await;
        if let Some(at) = *last {
            let ready = at + self.delay;
            let now = Instant::now();
            if ready > now {
                tokio::time::sleep(ready - now).await;
            }
        }
        let result = client.get(url, None, Default::default()).await;
        *last = Some(Instant::now());
        match result? {
            Fetched::Page(page) => Ok(page),
            Fetched::NotModified => Err(HttpError::Status {
                url: url.to_string(),
                status: 304,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawl_delay_is_clamped() {
        assert_eq!(crawl_delay(Some(0.5)), Some(Duration::from_millis(500)));
        assert_eq!(crawl_delay(Some(1e30)), Some(MAX_CRAWL_DELAY));
        assert_eq!(crawl_delay(Some(f32::NAN)), None);
        assert_eq!(crawl_delay(Some(-3.0)), None);
        assert_eq!(crawl_delay(None), None);
    }
}
