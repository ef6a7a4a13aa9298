//! The `social` source: Mastodon and Bluesky searched for accounts that impersonate an
//! executive or the brand, and for posts that link to a lookalike domain or name the brand
//! with scam words.
//!
//! Each `[social.NAME]` runs one round of searches every `interval_secs`. For every query (by
//! default each watchlist's brand name and executives) it reads up to `max_pages` pages of:
//!
//! - Mastodon: `GET /api/v2/search?type=accounts` and `type=statuses` (pages by `offset`),
//!   and `GET /api/v1/timelines/tag/TAG` for each hashtag (pages by `max_id`); a token, when
//!   configured, goes in `Authorization: Bearer`;
//! - Bluesky: `GET /xrpc/app.bsky.actor.searchActors` and `/xrpc/app.bsky.feed.searchPosts`
//!   (pages by `cursor`) on the AppView. With a login, `com.atproto.server.createSession`
//!   runs first on `login_url`, and the searches go to that server with the session's token.
//!
//! An account is judged by [`TextMatcher::check_account`] on its display name and user name;
//! one that is listed in the watchlist's `official_accounts`, or whose Bluesky handle is under
//! one of the brand's legitimate domains, is left out. A post goes through the domain matcher,
//! and through the text matcher where only hits with scam words (or the company's phone
//! numbers and IBANs) count, since posts name brands all day long.
//!
//! A 429 or 503 ends the round, and the next one waits at least for the `Retry-After`
//! requested.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::http::{Fetched, HttpClient, HttpError};
use super::{Item, MatcherCache, Matchers, Outcome, SourceContext};
use crate::config::{Config, SocialConfig, SocialNetwork, Watchlist};
use crate::detect::text::{AccountMatch, TextKind};
use crate::model::{Finding, Indicator, IndicatorKind};
use crate::pipeline::{PipelineError, Submitted};

/// Kind of the source, the prefix of each social source's name.
pub const SOURCE: &str = "social";

/// Delay before a failed round is tried again, unless the interval is shorter.
const RETRY_AFTER: Duration = Duration::from_secs(600);

/// Error of one round of searches.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error("social source {source_name}: {error}")]
    Http {
        source_name: String,
        #[source]
        error: HttpError,
    },
    #[error(
        "social source {source_name}: the answer of {url} is not the expected JSON: {reason}; check `url` and `network`"
    )]
    Malformed {
        source_name: String,
        url: String,
        reason: String,
    },
    #[error(
        "social source {source_name}: Bluesky login as {identifier} at {url} failed: {reason}; check login_identifier and the app password"
    )]
    Login {
        source_name: String,
        identifier: String,
        url: String,
        reason: String,
    },
    #[error("the watchlists do not compile into a matcher: {0}")]
    Matcher(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl SocialError {
    /// Returns the delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SocialError::Http { error, .. } => error.retry_after(),
            _ => None,
        }
    }
}

/// Counts of one round of searches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundStats {
    /// API requests sent.
    pub requests: usize,
    /// Accounts read.
    pub accounts: usize,
    /// Posts read.
    pub posts: usize,
    /// Accounts and posts skipped because they were judged before.
    pub known: usize,
    /// Accounts and posts left out because they belong to the company.
    pub official: usize,
    pub findings: usize,
    pub alerted: usize,
}

/// Returns the name of a social source: `social:NAME`.
pub fn source_name(social: &SocialConfig) -> String {
    format!("{SOURCE}:{}", social.name)
}

/// Runs one task per `[social.NAME]` until shutdown.
pub async fn run(ctx: SourceContext) {
    super::run_named(ctx, |config| &config.social, run_social).await;
}

async fn run_social(ctx: SourceContext, social: SocialConfig) {
    let name = source_name(&social);
    let dns = ctx.config.borrow().dns.clone();
    let client = match super::http_client(&social.fetch, &dns) {
        Ok(client) => client,
        Err(error) => {
            warn!(source = %name, %error, "Cannot build the HTTP client of the social source.");
            return;
        }
    };
    let registry = ctx.pipeline.health().clone();
    registry.register(&name, Duration::from_secs(social.interval_secs));
    let mut matchers = MatcherCache::default();
    loop {
        let config = ctx.config.borrow().clone();
        registry.poll_started(&name);
        let result = search_round(&ctx, &config, &social, &client, &mut matchers).await;
        let interval = Duration::from_secs(social.interval_secs);
        let (outcome, wait) = match &result {
            Ok(stats) => {
                info!(source = %name, requests = stats.requests, accounts = stats.accounts, posts = stats.posts, known = stats.known, findings = stats.findings, alerted = stats.alerted, "Searched a social network.");
                let items = (stats.accounts + stats.posts) as u64;
                (Outcome::Ok { items }, interval)
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
            warn!(source = %name, %error, "Cannot record the health of the social source.");
        }
        if !super::pause(&ctx, wait).await {
            return;
        }
    }
}

/// Runs one round: every query and hashtag, every page, judged and submitted.
pub async fn search_round(
    ctx: &SourceContext,
    config: &Arc<Config>,
    social: &SocialConfig,
    client: &HttpClient,
    matchers: &mut MatcherCache,
) -> Result<RoundStats, SocialError> {
    let matchers = matchers
        .get(config)
        .map_err(|e| SocialError::Matcher(e.to_string()))?;
    let mut round = Round {
        ctx,
        config,
        social,
        client,
        matchers,
        name: source_name(social),
        headers: HeaderMap::new(),
        base: social.url.trim_end_matches('/').to_string(),
        stats: RoundStats::default(),
    };
    let queries = queries(config, social);
    match social.network {
        SocialNetwork::Mastodon => {
            round.mastodon_auth();
            for query in &queries {
                if social.search_accounts {
                    round.mastodon_search(query, "accounts").await?;
                }
                if social.search_posts {
                    round.mastodon_search(query, "statuses").await?;
                }
            }
            for tag in &social.hashtags {
                round.mastodon_hashtag(tag).await?;
            }
        }
        SocialNetwork::Bluesky => {
            round.bluesky_login().await?;
            for query in &queries {
                if social.search_accounts {
                    round
                        .bluesky_search(query, "app.bsky.actor.searchActors", "actors")
                        .await?;
                }
                if social.search_posts {
                    round
                        .bluesky_search(query, "app.bsky.feed.searchPosts", "posts")
                        .await?;
                }
            }
        }
    }
    super::prune_seen(ctx, &round.name).await?;
    Ok(round.stats)
}

/// Returns the configured queries, or each watchlist's brand name and executives.
fn queries(config: &Config, social: &SocialConfig) -> Vec<String> {
    if !social.queries.is_empty() {
        return social.queries.clone();
    }
    let mut queries: Vec<String> = Vec::new();
    for watchlist in &config.watchlists {
        for query in std::iter::once(&watchlist.brand).chain(&watchlist.identity.executives) {
            if !queries.contains(query) {
                queries.push(query.clone());
            }
        }
    }
    queries
}

/// An account as read from either network.
#[derive(Debug, Clone)]
struct Account {
    /// `mastodon:USER@INSTANCE` or `bluesky:DID`: the identity fingerprints use.
    key: String,
    display_name: String,
    /// The user name judged: Mastodon's `username`, or the Bluesky handle without its domain.
    user_name: String,
    /// `@user@instance` or the Bluesky handle.
    handle: String,
    profile_url: String,
    username: String,
    instance: String,
    did: String,
    bio: String,
}

/// State of one round of searches.
struct Round<'a> {
    ctx: &'a SourceContext,
    config: &'a Arc<Config>,
    social: &'a SocialConfig,
    client: &'a HttpClient,
    matchers: Arc<Matchers>,
    name: String,
    headers: HeaderMap,
    base: String,
    stats: RoundStats,
}

impl Round<'_> {
    async fn get_json(&mut self, url: &str) -> Result<Value, SocialError> {
        self.stats.requests += 1;
        let fetched = self
            .client
            .get(url, None, self.headers.clone())
            .await
            .map_err(|error| SocialError::Http {
                source_name: self.name.clone(),
                error,
            })?;
        let Fetched::Page(page) = fetched else {
            return Ok(Value::Null);
        };
        serde_json::from_slice(&page.body).map_err(|e| SocialError::Malformed {
            source_name: self.name.clone(),
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    fn malformed(&self, url: &str, reason: &str) -> SocialError {
        SocialError::Malformed {
            source_name: self.name.clone(),
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    fn mastodon_auth(&mut self) {
        if let Some(token) = &self.social.token
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            self.headers.insert(AUTHORIZATION, value);
        }
    }

    async fn mastodon_search(&mut self, query: &str, kind: &str) -> Result<(), SocialError> {
        let size = self.social.page_size;
        for page in 0..self.social.max_pages {
            let url = format!(
                "{}/api/v2/search?q={}&type={kind}&limit={size}&offset={}",
                self.base,
                encode(query),
                page * size
            );
            let answer = self.get_json(&url).await?;
            let Some(list) = answer.get(kind).and_then(Value::as_array) else {
                return Err(self.malformed(&url, &format!("no `{kind}` array")));
            };
            for value in list {
                if kind == "accounts" {
                    self.judge_mastodon_account(value).await?;
                } else {
                    self.judge_mastodon_status(value).await?;
                }
            }
            if list.len() < size {
                break;
            }
        }
        Ok(())
    }

    async fn mastodon_hashtag(&mut self, tag: &str) -> Result<(), SocialError> {
        let mut max_id: Option<String> = None;
        for _ in 0..self.social.max_pages {
            let mut url = format!(
                "{}/api/v1/timelines/tag/{}?limit={}",
                self.base,
                encode(tag),
                self.social.page_size
            );
            if let Some(id) = &max_id {
                url.push_str(&format!("&max_id={}", encode(id)));
            }
            let answer = self.get_json(&url).await?;
            let Some(list) = answer.as_array() else {
                return Err(self.malformed(&url, "not an array of statuses"));
            };
            for value in list {
                self.judge_mastodon_status(value).await?;
            }
            max_id = list
                .last()
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            if list.len() < self.social.page_size || max_id.is_none() {
                break;
            }
        }
        Ok(())
    }

    fn mastodon_account(&self, value: &Value) -> Option<Account> {
        let username = text(value, "username");
        if username.is_empty() {
            return None;
        }
        let acct = text(value, "acct");
        let instance = match acct.split_once('@') {
            Some((_, domain)) => domain.to_lowercase(),
            None => super::link_host(&self.base).unwrap_or_default(),
        };
        Some(Account {
            key: format!("mastodon:{}@{instance}", username.to_lowercase()),
            display_name: text(value, "display_name"),
            user_name: username.clone(),
            handle: format!("@{username}@{instance}"),
            profile_url: text(value, "url"),
            username,
            instance,
            did: String::new(),
            bio: super::feed::html_text(&text(value, "note"), &mut Vec::new()),
        })
    }

    async fn judge_mastodon_account(&mut self, value: &Value) -> Result<(), SocialError> {
        let Some(account) = self.mastodon_account(value) else {
            return Ok(());
        };
        self.judge_account(account, value).await
    }

    async fn judge_mastodon_status(&mut self, value: &Value) -> Result<(), SocialError> {
        let Some(account) = value.get("account").and_then(|a| self.mastodon_account(a)) else {
            return Ok(());
        };
        let mut links = Vec::new();
        let content = super::feed::html_text(&text(value, "content"), &mut links);
        let spoiler = text(value, "spoiler_text");
        if let Some(card) = value.get("card") {
            links.push(text(card, "url"));
        }
        let link = Some(text(value, "url"))
            .filter(|u| !u.is_empty())
            .or_else(|| Some(text(value, "uri")).filter(|u| !u.is_empty()));
        let item = Item {
            source: self.name.clone(),
            id: text(value, "id"),
            link,
            title: format!("post by {}", account.handle),
            text: [spoiler.as_str(), content.as_str()]
                .iter()
                .filter(|t| !t.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("\n\n"),
            links,
            fields: serde_json::json!({
                "author": account.handle,
                "author_display_name": account.display_name,
                "created_at": text(value, "created_at"),
            }),
        };
        self.judge_post(item, &account).await
    }

    async fn bluesky_login(&mut self) -> Result<(), SocialError> {
        let (Some(identifier), Some(password)) =
            (&self.social.login_identifier, &self.social.password)
        else {
            return Ok(());
        };
        let login_base = self.social.login_url.trim_end_matches('/').to_string();
        let url = format!("{login_base}/xrpc/com.atproto.server.createSession");
        let failed = |reason: String| SocialError::Login {
            source_name: self.name.clone(),
            identifier: identifier.clone(),
            url: url.clone(),
            reason,
        };
        let body = serde_json::json!({ "identifier": identifier, "password": password.expose() });
        self.stats.requests += 1;
        let page = self
            .client
            .post_json(&url, &body, HeaderMap::new())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let session: Value =
            serde_json::from_slice(&page.body).map_err(|e| failed(e.to_string()))?;
        let token = text(&session, "accessJwt");
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| failed("the session token is not a valid header value".to_string()))?;
        if token.is_empty() {
            return Err(failed("the answer has no accessJwt".to_string()));
        }
        value.set_sensitive(true);
        self.headers.insert(AUTHORIZATION, value);
        self.base = login_base;
        Ok(())
    }

    async fn bluesky_search(
        &mut self,
        query: &str,
        method: &str,
        field: &str,
    ) -> Result<(), SocialError> {
        let mut cursor: Option<String> = None;
        for _ in 0..self.social.max_pages {
            let mut url = format!(
                "{}/xrpc/{method}?q={}&limit={}",
                self.base,
                encode(query),
                self.social.page_size
            );
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={}", encode(cursor)));
            }
            let answer = self.get_json(&url).await?;
            let Some(list) = answer.get(field).and_then(Value::as_array) else {
                return Err(self.malformed(&url, &format!("no `{field}` array")));
            };
            for value in list {
                if field == "actors" {
                    if let Some(account) = bluesky_account(value) {
                        self.judge_account(account, value).await?;
                    }
                } else {
                    self.judge_bluesky_post(value).await?;
                }
            }
            cursor = answer
                .get("cursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            if cursor.is_none() || list.is_empty() {
                break;
            }
        }
        Ok(())
    }

    async fn judge_bluesky_post(&mut self, value: &Value) -> Result<(), SocialError> {
        let Some(account) = value.get("author").and_then(bluesky_account) else {
            return Ok(());
        };
        let record = value.get("record").unwrap_or(&Value::Null);
        let mut links = Vec::new();
        collect_uris(record.get("facets"), &mut links);
        collect_uris(value.get("embed"), &mut links);
        collect_uris(record.get("embed"), &mut links);
        let uri = text(value, "uri");
        let rkey = uri.rsplit('/').next().unwrap_or_default();
        let item = Item {
            source: self.name.clone(),
            id: uri.clone(),
            link: Some(format!(
                "https://bsky.app/profile/{}/post/{rkey}",
                account.handle
            )),
            title: format!("post by {}", account.handle),
            text: text(record, "text"),
            links,
            fields: serde_json::json!({
                "author": account.handle,
                "author_display_name": account.display_name,
                "created_at": text(record, "createdAt"),
                "uri": uri,
            }),
        };
        self.judge_post(item, &account).await
    }

    /// Judges an account; a finding per watchlist it imitates and does not own.
    async fn judge_account(&mut self, account: Account, raw: &Value) -> Result<(), SocialError> {
        self.stats.accounts += 1;
        // The key contains the names judged, so an account renamed later is judged again.
        let judged = format!("{}\n{}", account.display_name, account.user_name);
        let seen_key = vec![format!(
            "account:{}:{}",
            account.key,
            super::text_key(&judged)
        )];
        if super::seen_any(self.ctx, &self.name, &seen_key).await? {
            self.stats.known += 1;
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        for found in self
            .matchers
            .text
            .check_account(&account.display_name, &account.user_name)
        {
            let Some(watchlist) = self
                .config
                .watchlists
                .iter()
                .find(|w| w.id == found.watchlist)
            else {
                continue;
            };
            if is_official(watchlist, &account) {
                self.stats.official += 1;
                continue;
            }
            let finding = account_finding(&self.name, &account, &found, raw, now);
            self.submit(finding).await?;
        }
        super::mark_seen(self.ctx, &self.name, &seen_key).await?;
        Ok(())
    }

    /// Judges a post: lookalike domains always count; text hits only with scam words or the
    /// company's numbers.
    async fn judge_post(&mut self, item: Item, author: &Account) -> Result<(), SocialError> {
        self.stats.posts += 1;
        let keys = vec![format!("post:{}", item.id)];
        if super::seen_any(self.ctx, &self.name, &keys).await? {
            self.stats.known += 1;
            return Ok(());
        }
        let owned_by_brand = self
            .config
            .watchlists
            .iter()
            .any(|w| is_official(w, author));
        if owned_by_brand {
            self.stats.official += 1;
        } else {
            let now = OffsetDateTime::now_utc();
            let findings =
                super::item_findings_where(&self.matchers, self.config, &item, now, |m| {
                    !m.scam_words.is_empty()
                        || m.hits
                            .iter()
                            .any(|h| matches!(h.kind, TextKind::Iban | TextKind::Phone))
                });
            for mut finding in findings {
                finding.indicators.push(Indicator::new(
                    IndicatorKind::Account,
                    author.handle.clone(),
                ));
                self.submit(finding).await?;
            }
        }
        super::mark_seen(self.ctx, &self.name, &keys).await?;
        Ok(())
    }

    async fn submit(&mut self, finding: Finding) -> Result<(), SocialError> {
        self.stats.findings += 1;
        if let Submitted::Recorded { alerted: true, .. } = self.ctx.pipeline.submit(finding).await?
        {
            self.stats.alerted += 1;
        }
        Ok(())
    }
}

/// Tells whether an account is the company's: listed in `official_accounts`, or a Bluesky
/// handle under one of its legitimate domains (which only the domain's owner can set).
fn is_official(watchlist: &Watchlist, account: &Account) -> bool {
    let listed = watchlist.identity.official_accounts.iter().any(|official| {
        official.is_mastodon(&account.username, &account.instance)
            || (!account.did.is_empty() && official.is_bluesky(&account.handle, &account.did))
    });
    listed
        || (!account.did.is_empty() && crate::pipeline::is_legitimate(watchlist, &account.handle))
}

fn account_finding(
    source: &str,
    account: &Account,
    found: &AccountMatch,
    raw: &Value,
    now: OffsetDateTime,
) -> Finding {
    let technique = if found.kind == TextKind::Executive {
        "executive-impersonation"
    } else {
        "brand-impersonation"
    };
    let mut reasons = found.reasons.clone();
    reasons.push(format!(
        "account {} seen by {source} is not in official_accounts",
        account.handle
    ));
    let mut indicators = vec![Indicator::new(
        IndicatorKind::Account,
        account.handle.clone(),
    )];
    if !account.profile_url.is_empty() {
        indicators.push(Indicator::new(
            IndicatorKind::Url,
            account.profile_url.clone(),
        ));
    }
    Finding {
        fingerprint: Finding::fingerprint_for(&found.watchlist, "account", &account.key),
        kind: "social-impersonation".to_string(),
        source: source.to_string(),
        watchlist: found.watchlist.clone(),
        subject: account.handle.clone(),
        imitates: found.imitates.clone(),
        techniques: vec![technique.to_string()],
        reasons,
        severity: found.severity,
        score: found.score,
        indicators,
        facts: Default::default(),
        evidence: serde_json::json!({
            "account": {
                "handle": account.handle,
                "display_name": account.display_name,
                "profile": account.profile_url,
                "bio": account.bio,
                "created_at": raw.get("created_at").or_else(|| raw.get("createdAt")),
                "followers": raw.get("followers_count").or_else(|| raw.get("followersCount")),
            },
            "match": found,
        }),
        observed_at: now,
    }
}

fn bluesky_account(value: &Value) -> Option<Account> {
    let handle = text(value, "handle").to_lowercase();
    let did = text(value, "did");
    if handle.is_empty() || did.is_empty() {
        return None;
    }
    Some(Account {
        key: format!("bluesky:{did}"),
        display_name: text(value, "displayName"),
        user_name: handle_name(&handle),
        profile_url: format!("https://bsky.app/profile/{handle}"),
        handle,
        username: String::new(),
        instance: String::new(),
        did,
        bio: text(value, "description"),
    })
}

/// Returns the part of a Bluesky handle that its owner chose: `jane-doe` for
/// `jane-doe.bsky.social`, `jane-doe-official` for `jane-doe-official.com`.
fn handle_name(handle: &str) -> String {
    if let Some(name) = handle.strip_suffix(".bsky.social") {
        return name.to_string();
    }
    match psl::suffix_str(handle) {
        Some(suffix) if handle.len() > suffix.len() + 1 => {
            handle[..handle.len() - suffix.len() - 1].to_string()
        }
        _ => handle.to_string(),
    }
}

/// Collects every `uri` string under `value` (link facets, external embeds).
fn collect_uris(value: Option<&Value>, out: &mut Vec<String>) {
    match value {
        Some(Value::Object(map)) => {
            for (key, inner) in map {
                match inner {
                    Value::String(uri) if key == "uri" && uri.starts_with("http") => {
                        if !out.contains(uri) {
                            out.push(uri.clone());
                        }
                    }
                    _ => collect_uris(Some(inner), out),
                }
            }
        }
        Some(Value::Array(items)) => items.iter().for_each(|i| collect_uris(Some(i), out)),
        _ => {}
    }
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Percent-encodes a query parameter value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_names() {
        assert_eq!(handle_name("jane-doe.bsky.social"), "jane-doe");
        assert_eq!(handle_name("jane-doe-official.com"), "jane-doe-official");
        assert_eq!(handle_name("support.acmebank.co.uk"), "support.acmebank");
    }

    #[test]
    fn uris_of_facets_and_embeds() {
        let record = serde_json::json!({
            "facets": [{"features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.example/x"}]}],
            "embed": {"external": {"uri": "https://b.example/"}, "thumb": {"ref": {"$link": "bafy"}}},
        });
        let mut out = Vec::new();
        collect_uris(Some(&record), &mut out);
        assert_eq!(out, vec!["https://b.example/", "https://a.example/x"]);
    }
}
