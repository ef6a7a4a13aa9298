//! The `[feed.NAME]`, `[scam_repository.NAME]` and `[social.NAME]` tables of `vigie.toml`:
//! the sources that read the web. They share the HTTP keys of [`FetchSettings`].

use std::collections::BTreeMap;
use std::path::Path;

use super::secrets::{EnvLookup, SecretKeys, read_secret};
use super::tree::{Reader, Table};
use super::{FeedConfig, FetchSettings, ScamRepositoryConfig, SocialConfig, SocialNetwork};

const FETCH_KEYS: &[&str] = &[
    "timeout_secs",
    "max_bytes",
    "max_redirects",
    "user_agent",
    "allow_private_addresses",
];
const FEED_KEYS: &[&str] = &["url", "interval_secs", "max_items"];
const SCAM_KEYS: &[&str] = &[
    "url",
    "interval_secs",
    "delay_ms",
    "robots_txt",
    "max_pages",
    "max_items",
    "item_links",
    "next_page",
    "fields",
];
const SOCIAL_KEYS: &[&str] = &[
    "network",
    "url",
    "queries",
    "hashtags",
    "search_accounts",
    "search_posts",
    "max_pages",
    "page_size",
    "interval_secs",
    "token",
    "token_env",
    "token_file",
    "login_identifier",
    "password",
    "password_env",
    "password_file",
    "login_url",
];

const TOKEN: SecretKeys = SecretKeys {
    inline: "token",
    env: "token_env",
    file: "token_file",
};
const PASSWORD: SecretKeys = SecretKeys {
    inline: "password",
    env: "password_env",
    file: "password_file",
};

/// Default `User-Agent` of the web sources.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "vigie/",
    env!("CARGO_PKG_VERSION"),
    " (scam watch of a company's SOC; one request at a time)"
);

/// Default Bluesky AppView, which serves searches without a login.
pub const BLUESKY_APPVIEW: &str = "https://public.api.bsky.app";

/// Default Bluesky server for logins.
pub const BLUESKY_LOGIN: &str = "https://bsky.social";

/// Reads every `[feed.NAME]` table; a feed with errors is left out.
pub(crate) fn feeds(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
) -> BTreeMap<String, FeedConfig> {
    named_tables(reader, table, "feed", |reader, table, name| {
        check_keys(reader, table, FEED_KEYS);
        FeedConfig {
            name: name.to_string(),
            url: required_url(reader, table, "https://scam-reports.example/feed.xml"),
            interval_secs: reader.integer(table, "interval_secs", 900, (60, 2_592_000), "seconds"),
            max_items: reader.integer(table, "max_items", 500, (1, 100_000), "items") as usize,
            fetch: fetch_settings(reader, table),
        }
    })
}

/// Reads every `[scam_repository.NAME]` table; a site with errors is left out.
pub(crate) fn scam_repositories(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
) -> BTreeMap<String, ScamRepositoryConfig> {
    named_tables(reader, table, "scam_repository", |reader, table, name| {
        check_keys(reader, table, SCAM_KEYS);
        let item_links = match reader.required_string(table, "item_links", "\"a.report\"") {
            Some((selector, span)) => {
                check_selector(reader, table, "item_links", &selector, &span);
                selector
            }
            None => String::new(),
        };
        let next_page = reader.string(table, "next_page").map(|(selector, span)| {
            check_selector(reader, table, "next_page", &selector, &span);
            selector
        });
        ScamRepositoryConfig {
            name: name.to_string(),
            url: required_url(reader, table, "https://scam-reports.example/latest/"),
            interval_secs: reader.integer(table, "interval_secs", 3600, (60, 2_592_000), "seconds"),
            delay_ms: reader.integer(table, "delay_ms", 2000, (0, 600_000), "milliseconds"),
            robots_txt: reader.bool(table, "robots_txt", true),
            max_pages: reader.integer(table, "max_pages", 3, (1, 100), "pages") as usize,
            max_items: reader.integer(table, "max_items", 50, (1, 10_000), "items") as usize,
            item_links,
            next_page,
            fields: fields(reader, table),
            fetch: fetch_settings(reader, table),
        }
    })
}

/// Reads every `[social.NAME]` table; a source with errors is left out.
pub(crate) fn socials(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
    env: EnvLookup<'_>,
) -> BTreeMap<String, SocialConfig> {
    named_tables(reader, table, "social", |reader, table, name| {
        check_keys(reader, table, SOCIAL_KEYS);
        social(reader, table, name, base, env)
    })
}

fn social(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    name: &str,
    base: &Path,
    env: EnvLookup<'_>,
) -> SocialConfig {
    if !table.has("network") {
        reader.error(
            &table.span,
            format!("missing key `{}`", table.key_path("network")),
            "add `network = \"mastodon\"` or `network = \"bluesky\"`".to_string(),
        );
    }
    let network = match reader.choice(table, "network", &["mastodon", "bluesky"]) {
        Some((text, _)) if text == "bluesky" => SocialNetwork::Bluesky,
        _ => SocialNetwork::Mastodon,
    };
    let url = match (network, table.has("url")) {
        (SocialNetwork::Bluesky, false) => BLUESKY_APPVIEW.to_string(),
        _ => required_url(reader, table, "https://mastodon.social"),
    };
    let login_url = match reader.string(table, "login_url") {
        Some((url, span)) => checked_url(reader, table, "login_url", url, &span),
        None => BLUESKY_LOGIN.to_string(),
    };
    let token = read_secret(reader, table, &TOKEN, base, env);
    let password = read_secret(reader, table, &PASSWORD, base, env);
    let login_identifier = reader.string(table, "login_identifier").map(|(id, _)| id);
    check_credentials(reader, table, network, &token, &login_identifier, &password);

    let default_page = if network == SocialNetwork::Mastodon {
        40
    } else {
        25
    };
    let hashtags: Vec<String> = reader
        .strings(table, "hashtags")
        .into_iter()
        .map(|(tag, _)| tag.trim().trim_start_matches('#').to_string())
        .filter(|tag| !tag.is_empty())
        .collect();
    if !hashtags.is_empty() && network == SocialNetwork::Bluesky {
        reader.error(
            &table.key_span("hashtags"),
            format!("{} is for Mastodon only", table.key_path("hashtags")),
            "search for \"#tag\" in `queries` instead".to_string(),
        );
    }
    SocialConfig {
        name: name.to_string(),
        network,
        url,
        queries: reader
            .strings(table, "queries")
            .into_iter()
            .map(|(q, _)| q.trim().to_string())
            .filter(|q| !q.is_empty())
            .collect(),
        hashtags,
        search_accounts: reader.bool(table, "search_accounts", true),
        search_posts: reader.bool(table, "search_posts", true),
        max_pages: reader.integer(table, "max_pages", 2, (1, 50), "pages") as usize,
        page_size: reader.integer(table, "page_size", default_page, (1, 100), "results") as usize,
        interval_secs: reader.integer(table, "interval_secs", 1800, (60, 2_592_000), "seconds"),
        token,
        login_identifier,
        password,
        login_url,
        fetch: fetch_settings(reader, table),
    }
}

/// Checks that the credentials fit the network: a token for Mastodon, an identifier and a
/// password together for Bluesky.
fn check_credentials(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    network: SocialNetwork,
    token: &Option<super::Secret>,
    identifier: &Option<String>,
    password: &Option<super::Secret>,
) {
    let bluesky = network == SocialNetwork::Bluesky;
    if bluesky && token.is_some() {
        reader.error(
            &table.key_span("token_env"),
            "a token is for Mastodon; Bluesky logs in with login_identifier and a password"
                .to_string(),
            "use login_identifier with password_env or password_file".to_string(),
        );
    }
    if !bluesky && (identifier.is_some() || password.is_some()) {
        reader.error(
            &table.key_span("login_identifier"),
            "login_identifier and password are for Bluesky; Mastodon uses a token".to_string(),
            "use token_env or token_file".to_string(),
        );
    }
    if bluesky && identifier.is_some() != password.is_some() {
        reader.error(
            &table.key_span("login_identifier"),
            "Bluesky login needs both login_identifier and a password".to_string(),
            "set both, or neither to search the public AppView".to_string(),
        );
    }
}

/// Reads the `[...fields]` sub-table: field name to CSS selector.
fn fields(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let path = table.key_path("fields");
    let Some(sub) = reader.table(table, "fields", &path) else {
        reader.error(
            &table.span,
            format!("missing table `{path}`"),
            format!("add [{path}] with one CSS selector a field, such as `subject = \"h1\"`"),
        );
        return fields;
    };
    for key in sub.entries.keys() {
        let field: &str = key.get_ref();
        if let Some((selector, span)) = reader.string(&sub, field) {
            check_selector(reader, &sub, field, &selector, &span);
            fields.insert(field.to_string(), selector);
        }
    }
    if fields.is_empty() {
        reader.error(
            &sub.span,
            format!("[{path}] names no field"),
            "add one CSS selector a field, such as `subject = \"h1\"`".to_string(),
        );
    }
    fields
}

fn check_selector(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    selector: &str,
    span: &std::ops::Range<usize>,
) {
    if let Err(error) = scraper::Selector::parse(selector) {
        reader.error(
            span,
            format!(
                "{} is not a valid CSS selector: \"{selector}\": {error}",
                table.key_path(key)
            ),
            "write a CSS selector such as \"div.report a\" or \"#subject\"".to_string(),
        );
    }
}

fn fetch_settings(reader: &mut Reader<'_>, table: &Table<'_, '_>) -> FetchSettings {
    let user_agent = match reader.string(table, "user_agent") {
        Some((agent, span)) if agent.trim().is_empty() || agent.contains(['\r', '\n']) => {
            reader.error(
                &span,
                format!("{} is empty or spans lines", table.key_path("user_agent")),
                "write one line that names vigie and a contact, or remove the key".to_string(),
            );
            DEFAULT_USER_AGENT.to_string()
        }
        Some((agent, _)) => agent,
        None => DEFAULT_USER_AGENT.to_string(),
    };
    FetchSettings {
        timeout_secs: reader.integer(table, "timeout_secs", 30, (1, 600), "seconds"),
        max_bytes: reader.integer(table, "max_bytes", 5 << 20, (1024, 1 << 30), "bytes"),
        max_redirects: reader.integer(table, "max_redirects", 5, (0, 20), "redirects") as usize,
        user_agent,
        allow_private_addresses: reader.bool(table, "allow_private_addresses", false),
    }
}

/// Reports unknown keys, counting the shared HTTP keys as known.
fn check_keys(reader: &mut Reader<'_>, table: &Table<'_, '_>, own: &[&str]) {
    let known: Vec<&str> = own.iter().chain(FETCH_KEYS).copied().collect();
    reader.check_keys(table, &known);
}

fn required_url(reader: &mut Reader<'_>, table: &Table<'_, '_>, example: &str) -> String {
    match reader.required_string(table, "url", &format!("\"{example}\"")) {
        Some((url, span)) => checked_url(reader, table, "url", url, &span),
        None => String::new(),
    }
}

fn checked_url(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    url: String,
    span: &std::ops::Range<usize>,
) -> String {
    let valid = url::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if valid.is_none() {
        reader.error(
            span,
            format!(
                "{} must be an http or https URL, found \"{url}\"",
                table.key_path(key)
            ),
            "write a full URL such as \"https://host.example/path\"".to_string(),
        );
    }
    url
}

/// Reads each `[KIND.NAME]` table through `read`; a table with errors is left out.
fn named_tables<T>(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    kind: &str,
    read: impl Fn(&mut Reader<'_>, &Table<'_, '_>, &str) -> T,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    let Some(table) = table else {
        return out;
    };
    for key in table.entries.keys() {
        let name: &str = key.get_ref();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            reader.error(
                &key.span(),
                format!("invalid {kind} name \"{name}\""),
                format!("use letters, digits, '-' and '_' only, such as [{kind}.reports]"),
            );
        }
        let path = format!("{kind}.{name}");
        let Some(sub) = reader.table(table, name, &path) else {
            continue;
        };
        let errors_before = reader.errors.len();
        let value = read(reader, &sub, name);
        if reader.errors.len() == errors_before {
            out.insert(name.to_string(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// Loads `vigie.toml` text with one watchlist and returns each error as (line, message).
    fn errors_of(main: &str) -> Vec<(usize, String)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("watchlists")).unwrap();
        std::fs::write(
            dir.path().join("watchlists/acme.toml"),
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.com\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("vigie.toml"), main).unwrap();
        let lookup = |name: &str| (name == "MASTODON_TOKEN").then(|| "t0ken".to_string());
        match crate::config::load_with_env(&dir.path().join("vigie.toml"), &lookup) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| (e.line, e.message.clone())).collect(),
        }
    }

    fn assert_error(errors: &[(usize, String)], line: usize, text: &str) {
        assert!(
            errors.iter().any(|(l, m)| *l == line && m.contains(text)),
            "no error {text:?} on line {line}: {errors:?}"
        );
    }

    #[test]
    fn feed_errors_name_their_lines() {
        let errors = errors_of(
            "[daemon]\nstate_dir = \"s\"\n\n\
             [feed.reports]\n\
             url = \"ftp://reports.example/feed\"\n\
             interval_secs = 5\n\
             max_byte = 10\n\
             user_agent = \"\"\n\n\
             [feed.\"bad name\"]\n\
             interval_secs = 60\n",
        );
        assert_error(&errors, 5, "feed.reports.url must be an http or https URL");
        assert_error(&errors, 6, "feed.reports.interval_secs must be between 60");
        assert_error(&errors, 7, "unknown key `max_byte`");
        assert_error(&errors, 8, "feed.reports.user_agent is empty");
        assert_error(&errors, 10, "invalid feed name \"bad name\"");
        assert_error(&errors, 10, "missing key `feed.bad name.url`");
        assert_eq!(errors.len(), 6, "{errors:?}");
    }

    #[test]
    fn scam_repository_errors_name_their_lines() {
        let errors = errors_of(
            "[scam_repository.site]\n\
             url = \"https://reports.example/\"\n\
             item_links = \"ul.emails >> a\"\n\
             next_page = \"a.next[\"\n\n\
             [scam_repository.site.fields]\n\
             subject = \"h1!\"\n\n\
             [scam_repository.nofields]\n\
             url = \"https://reports.example/\"\n\
             item_links = \"a\"\n",
        );
        assert_error(
            &errors,
            3,
            "scam_repository.site.item_links is not a valid CSS selector",
        );
        assert_error(
            &errors,
            4,
            "scam_repository.site.next_page is not a valid CSS selector",
        );
        assert_error(
            &errors,
            7,
            "scam_repository.site.fields.subject is not a valid CSS selector",
        );
        assert_error(
            &errors,
            9,
            "missing table `scam_repository.nofields.fields`",
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn social_errors_name_their_lines() {
        let errors = errors_of(
            "[social.masto]\n\
             network = \"mastodn\"\n\
             url = \"https://social.example\"\n\
             token = \"secret\"\n\n\
             [social.sky]\n\
             network = \"bluesky\"\n\
             hashtags = [\"acme\"]\n\
             login_identifier = \"acme.example\"\n\n\
             [social.mixed]\n\
             network = \"mastodon\"\n\
             url = \"https://social.example\"\n\
             token_env = \"MASTODON_TOKEN\"\n\
             login_identifier = \"acme\"\n",
        );
        assert_error(
            &errors,
            2,
            "invalid value \"mastodn\" for social.masto.network",
        );
        assert_error(
            &errors,
            4,
            "social.masto.token writes a secret directly in the TOML",
        );
        assert_error(&errors, 8, "social.sky.hashtags is for Mastodon only");
        assert_error(
            &errors,
            9,
            "Bluesky login needs both login_identifier and a password",
        );
        assert_error(&errors, 15, "login_identifier and password are for Bluesky");
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn web_sources_load_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("watchlists")).unwrap();
        std::fs::write(
            dir.path().join("watchlists/acme.toml"),
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.com\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("vigie.toml"),
            "[feed.reports]\nurl = \"https://reports.example/feed.xml\"\n\n\
             [social.sky]\nnetwork = \"bluesky\"\n",
        )
        .unwrap();
        let lookup = |_: &str| None;
        let config = crate::config::load_with_env(&dir.path().join("vigie.toml"), &lookup)
            .unwrap()
            .config;
        let feed = &config.feeds["reports"];
        assert_eq!(feed.interval_secs, 900);
        assert_eq!(feed.fetch.max_bytes, 5 << 20);
        assert!(!feed.fetch.allow_private_addresses);
        assert_eq!(feed.fetch.user_agent, super::DEFAULT_USER_AGENT);
        let sky = &config.social["sky"];
        assert_eq!(sky.url, super::BLUESKY_APPVIEW);
        assert_eq!(sky.page_size, 25);
        assert!(sky.token.is_none());
    }

    /// Uncomments the example tables of the web sources in config/vigie.toml and loads them,
    /// so that the documented example stays valid.
    #[test]
    fn example_config_web_sources_load() {
        let example = include_str!("../../config/vigie.toml");
        let start = example
            .find("# [feed.scam-reports]")
            .expect("the feed example");
        // One of each pair of alternatives is kept.
        let skipped = [
            "token_file",
            "password_env",
            "password_file",
            "login_identifier",
        ];
        // The web sources' examples end where the inbox examples begin.
        let end = example[start..]
            .find("# [inbox.")
            .map_or(example.len(), |offset| start + offset);
        let mut text = example[..start].to_string();
        for line in example[start..end].lines() {
            let body = line.strip_prefix("# ").unwrap_or("");
            let key = body.split(" = ").next().unwrap_or("");
            let is_setting = body.starts_with('[')
                || (body.contains(" = ")
                    && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            if is_setting && !skipped.contains(&key) {
                text.push_str(body);
            } else {
                text.push_str(line);
            }
            text.push('\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let watchlists = concat!(env!("CARGO_MANIFEST_DIR"), "/watchlists");
        let text = text
            .replace("state_dir = \"../state\"", "state_dir = \"state\"")
            .replace(
                "watchlists_dir = \"../watchlists\"",
                &format!("watchlists_dir = \"{watchlists}\""),
            );
        std::fs::write(dir.path().join("vigie.toml"), text).unwrap();
        let lookup = |name: &str| (name == "VIGIE_MASTODON_TOKEN").then(|| "t".to_string());
        let config = crate::config::load_with_env(&dir.path().join("vigie.toml"), &lookup)
            .unwrap_or_else(|e| panic!("{e}"))
            .config;

        let feed = &config.feeds["scam-reports"];
        assert_eq!(feed.interval_secs, 900);
        assert_eq!(feed.max_items, 500);
        let site = &config.scam_repositories["fraud-mails"];
        assert_eq!(site.fields.len(), 5);
        assert_eq!(site.next_page.as_deref(), Some("a.next"));
        assert!(site.robots_txt);
        let social = &config.social["mastodon-social"];
        assert_eq!(social.network, crate::config::SocialNetwork::Mastodon);
        assert_eq!(social.hashtags, vec!["examplecorp".to_string()]);
        assert!(social.token.is_some());
        assert!(!social.fetch.allow_private_addresses);
    }
}
