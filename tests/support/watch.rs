//! A configuration with a test brand (Acme Bank) and a store, for the tests of the feed,
//! scam_repository and social sources.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vigie::config::{self, Config};
use vigie::pipeline::Pipeline;
use vigie::sources::SourceContext;
use vigie::store::Store;

/// The test brand's watchlist: its domains, people, numbers and official accounts.
pub const ACME: &str = r#"[brand]
name = "Acme Bank"
keywords = ["acmebank"]
executives = ["Jane Q. Doe"]
products = ["AcmePay"]
phones = ["+33 1 23 45 67 89"]
ibans = ["FR76 3000 6000 0112 3456 7890 189"]
addresses = ["12 rue de l'Exemple, 75001 Paris"]
official_accounts = ["mastodon:acmebank@social.test", "bluesky:acmebank.com"]

[[domains]]
name = "acmebank.com"
"#;

/// A second brand named in the real heise capture.
pub const RED_HAT: &str = r#"[brand]
name = "Red Hat"
keywords = ["redhat"]

[[domains]]
name = "redhat.com"
"#;

/// Writes vigie.toml (a webhook sink that is never reached, then `sources`) and the
/// watchlists, and loads the configuration.
pub fn write_config(dir: &Path, sources: &str, watchlists: &[(&str, &str)]) -> Config {
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::write(
        dir.join("vigie.toml"),
        format!(
            "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n\
             [sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n{sources}"
        ),
    )
    .unwrap();
    for (name, text) in watchlists {
        std::fs::write(dir.join(format!("watchlists/{name}.toml")), text).unwrap();
    }
    config::load(&dir.join("vigie.toml")).unwrap_or_else(|e| panic!("config does not load:\n{e}"))
}

/// Opens the store of `config` and builds a source context on it.
pub fn context(config: &Config) -> (SourceContext, Arc<Store>) {
    let store =
        Arc::new(Store::open(&config.daemon.state_dir.join("vigie.db")).expect("open the store"));
    let (_tx, rx) = watch::channel(Arc::new(config.clone()));
    let ctx = SourceContext {
        pipeline: Pipeline::new(store.clone(), rx.clone(), Arc::new(Notify::new())),
        config: rx,
        shutdown: CancellationToken::new(),
    };
    (ctx, store)
}

/// Returns the number of outbox rows (alerts times sinks).
pub fn alert_count(store: &Store) -> usize {
    store
        .findings()
        .unwrap()
        .iter()
        .map(|f| store.outbox_for_finding(f.id).unwrap().len())
        .sum()
}
