//! A configuration folder for the response tests: `vigie.toml` with a `[response]` section,
//! one watchlist protecting `example.test`, a contacts directory, and helpers that record
//! findings in its store.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use vigie::config::Config;
use vigie::model::{Finding, Indicator, IndicatorKind, Severity};
use vigie::pipeline::Pipeline;
use vigie::store::Store;

/// 2026-03-02T09:00:00Z, the time the test campaign is first seen.
pub const T0: OffsetDateTime = time::macros::datetime!(2026-03-02 09:00 UTC);

/// The contacts directory of the test world.
pub const CONTACTS: &str = r#"# Contacts of the test world.
[[contact]]
id = "parking-abuse"
name = "Parking Test Hosting, abuse desk"
role = "hosting"
email = "soc@example.test"
languages = ["fr", "en"]
country = "FR"
covers = ["parking.test"]

[[contact]]
id = "mailhost-abuse"
name = "Mailhost abuse"
role = "mail-provider"
email = "soc@example.test"
languages = ["de"]
country = "DE"
covers = ["mailhost.test"]

[[contact]]
id = "registry-test"
role = "registry"
web_form = "https://registry.test/abuse"
preferred = "web-form"
languages = ["es"]
covers = ["test"]

[[contact]]
id = "cert-fr"
name = "CERT-FR"
role = "cert"
email = "soc@example.test"
languages = ["fr"]
country = "FR"

[[contact]]
id = "legal"
name = "Legal department"
role = "decision"
phone = "+33 1 00 00 00 00"
"#;

/// Settings of the generated `vigie.toml`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// SMTP port of the relay; 25 when none (nothing is sent then).
    pub smtp_port: Option<u16>,
    /// Extra lines appended to `[response]`.
    pub response: String,
    /// DNS server for `[dns] nameservers`.
    pub dns: Option<std::net::SocketAddr>,
}

/// A configuration folder with its store.
pub struct World {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: Arc<Store>,
}

impl World {
    /// Writes the files and loads them. Panics with the errors if they do not load.
    pub fn new(settings: &Settings) -> World {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        write_files(dir.path(), settings);
        let config = vigie::config::load(&dir.path().join("vigie.toml"))
            .unwrap_or_else(|errors| panic!("test configuration does not load:\n{errors}"));
        let store = Arc::new(Store::open(&vigie::daemon::store_path(&config)).unwrap());
        World { dir, config, store }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("vigie.toml")
    }

    pub fn web_root(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    /// A pipeline over this world's store and configuration.
    pub fn pipeline(&self) -> Pipeline {
        let (_tx, rx) = watch::channel(Arc::new(self.config.clone()));
        Pipeline::new(self.store.clone(), rx, Arc::new(Notify::new()))
    }

    /// Records a finding through the pipeline and returns its id.
    pub async fn record(&self, finding: Finding) -> i64 {
        match self.pipeline().submit(finding).await.expect("submit") {
            vigie::pipeline::Submitted::Recorded { recorded, .. } => recorded.finding_id(),
            other => panic!("finding not recorded: {other:?}"),
        }
    }
}

fn write_files(dir: &Path, settings: &Settings) {
    let port = settings.smtp_port.unwrap_or(25);
    let dns = settings
        .dns
        .map(|addr| format!("nameservers = [\"{addr}\"]\ntimeout_ms = 1000\nattempts = 1"))
        .unwrap_or_default();
    let config = format!(
        r#"[daemon]
state_dir = "state"
watchlists_dir = "watchlists"

[dns]
{dns}

[sinks.soc-mail]
type = "smtp"
host = "127.0.0.1"
port = {port}
security = "plain"
from = "vigie@example.test"
to = ["soc@example.test"]
timeout_secs = 10

[response]
web_root = "www"
sender = "abuse-desk@example.test"
organization = "Example Test Bank"
report_email = "security@example.test"
report_url = "https://www.example.test/security"
answer_hours = 48
followups_before_escalation = 2
{extra}
"#,
        extra = settings.response
    );
    std::fs::write(dir.join("vigie.toml"), config).unwrap();
    std::fs::create_dir_all(dir.join("watchlists")).unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(
        dir.join("watchlists/acme.toml"),
        r#"allow = ["example-partner.test"]

[brand]
name = "Example Test Bank"
keywords = ["example"]

[[domains]]
name = "example.test"
"#,
    )
    .unwrap();
    std::fs::write(dir.join("watchlists/contacts.toml"), CONTACTS).unwrap();
}

/// A lookalike-domain finding of watchlist `acme` for `subject`, with DNS facts.
pub fn lookalike(subject: &str, facts: &[(&str, &[&str])], at: OffsetDateTime) -> Finding {
    let mut indicators = vec![Indicator::new(IndicatorKind::Domain, subject)];
    for (fact, values) in facts {
        if matches!(*fact, "a" | "aaaa") {
            indicators.extend(values.iter().map(|v| Indicator::new(IndicatorKind::Ip, *v)));
        }
    }
    Finding {
        fingerprint: Finding::fingerprint_for("acme", "domain", subject),
        kind: "lookalike-domain".into(),
        source: "lookalike".into(),
        watchlist: "acme".into(),
        subject: subject.into(),
        imitates: "example.test".into(),
        techniques: vec!["homoglyph".into()],
        reasons: vec![format!("homoglyph of example.test: {subject}")],
        severity: Severity::High,
        score: 80,
        indicators,
        facts: facts
            .iter()
            .map(|(name, values)| {
                let values: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
                (name.to_string(), values)
            })
            .collect(),
        evidence: serde_json::json!({ "resolved_at": at.unix_timestamp() }),
        observed_at: at,
    }
}

/// Runs the `vigie` binary with `args` against this world's configuration; returns
/// (success, stdout, stderr).
pub fn vigie(world: &World, args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"));
    command
        .args(args)
        .arg("--config")
        .arg(world.config_path())
        .env_remove("VIGIE_AUTHOR")
        .env_remove("RUST_LOG");
    for (name, value) in envs {
        command.env(name, value);
    }
    let output = command.output().expect("run vigie");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
