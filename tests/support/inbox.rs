//! Helpers of the inbox, intake and import tests: a configuration folder with one watchlist,
//! a pipeline over a store in it, and raw mails read from the fixtures.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use vigie::config::Config;
use vigie::pipeline::Pipeline;
use vigie::store::Store;

/// Watchlist `example` of every inbox test: brand "Example Test", domain example.test.
pub const WATCHLIST: &str = r#"[brand]
name = "Example Test"
keywords = ["example"]

[[domains]]
name = "example.test"
status = "active"

[alerts]
min_severity = "low"
"#;

/// Writes `vigie.toml` (`[daemon]` pointing at `state/` and `watchlists/`, then `extra`) and
/// the `example` watchlist into `dir`, and loads it with `env` as the environment.
pub fn load_config(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Config {
    write_config(dir, extra);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match vigie::config::load_with_env(&dir.join("vigie.toml"), &lookup) {
        Ok(loaded) => loaded.config,
        Err(errors) => panic!("test configuration does not load:\n{errors}"),
    }
}

/// Writes the files of [`load_config`] without loading them.
pub fn write_config(dir: &Path, extra: &str) {
    let config =
        format!("[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n\n{extra}");
    std::fs::write(dir.join("vigie.toml"), config).expect("write vigie.toml");
    let watchlists = dir.join("watchlists");
    std::fs::create_dir_all(&watchlists).expect("create the watchlists folder");
    std::fs::write(watchlists.join("example.toml"), WATCHLIST).expect("write the watchlist");
}

/// A pipeline over a new store at `dir/state/vigie.db`.
pub fn pipeline(dir: &Path, config: Config) -> (Pipeline, Arc<Store>, watch::Sender<Arc<Config>>) {
    let store = Arc::new(Store::open(&dir.join("state/vigie.db")).expect("open the store"));
    let (tx, rx) = watch::channel(Arc::new(config));
    let pipeline = Pipeline::new(store.clone(), rx, Arc::new(Notify::new()));
    (pipeline, store, tx)
}

/// Folder of the committed mail fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbox")
}

/// Reads one committed fixture mail.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// Returns `data/RELATIVE` of the shared data folder when it is present: `../shared` beside
/// a checkout at `/work/main`, or `../../shared` beside a worktree one level deeper. The
/// corpora there are not committed, so callers skip when this returns `None`.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared", "../../shared"]
        .iter()
        .map(|up| root.join(up).join("data").join(relative))
        .find(|path| path.exists())
}
