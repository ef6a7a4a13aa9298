//! Loading `vigie.toml` and the watchlists: the shipped example, every kind of error with its
//! file and line, several errors in one run, secrets, relative paths and `vigie check`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vigie::cli::check::{CheckArgs, run_with};
use vigie::config::{
    ConfigError, ConfigErrors, DomainStatus, Loaded, SinkConfig, load, load_with_env,
};
use vigie::model::Severity;

/// A minimal valid `vigie.toml` with one SMTP sink named `mail`.
const BASE_CONFIG: &str = r#"[daemon]
state_dir = "state"

[sinks.mail]
type = "smtp"
host = "127.0.0.1"
security = "plain"
from = "vigie@localhost"
to = ["soc@localhost"]
"#;

/// A minimal valid watchlist.
const BASE_WATCHLIST: &str = r#"[brand]
name = "Acme"
keywords = ["acme"]

[[domains]]
name = "acme.example"
"#;

/// A config folder in a temporary directory: `vigie.toml` and `watchlists/`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(config: &str, watchlists: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("vigie.toml"), config).expect("write vigie.toml");
        std::fs::create_dir(dir.path().join("watchlists")).expect("create watchlists");
        for (name, text) in watchlists {
            std::fs::write(dir.path().join("watchlists").join(name), text).expect("write list");
        }
        Fixture { dir }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("vigie.toml")
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::write(&path, text).expect("write fixture file");
        path
    }

    fn load(&self) -> Result<Loaded, ConfigErrors> {
        load_with_env(&self.config_path(), &no_env)
    }

    fn load_with(&self, vars: &[(&str, &str)]) -> Result<Loaded, ConfigErrors> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        load_with_env(&self.config_path(), &|name: &str| vars.get(name).cloned())
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Returns the 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in fixture text"))
        + 1
}

fn expect_errors(fixture: &Fixture) -> Vec<ConfigError> {
    match fixture.load() {
        Ok(_) => panic!("expected configuration errors, the configuration loaded"),
        Err(errors) => errors.errors,
    }
}

fn file_name(error: &ConfigError) -> String {
    error
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_example_loads() {
    let path = repo_root().join("config/vigie.toml");
    let loaded = load_with_env(&path, &no_env).unwrap_or_else(|errors| panic!("{errors}"));
    let config = loaded.config;

    assert_eq!(config.daemon.state_dir, repo_root().join("config/../state"));
    assert_eq!(
        config.daemon.watchlists_dir,
        repo_root().join("config/../watchlists")
    );
    assert_eq!(config.sinks.len(), 2);
    assert!(config.watchlists.iter().any(|list| list.id == "example"));

    let example = config
        .watchlists
        .iter()
        .find(|list| list.id == "example")
        .expect("example watchlist");
    let statuses: Vec<DomainStatus> = example.domains.iter().map(|d| d.status).collect();
    assert!(statuses.contains(&DomainStatus::Active));
    assert!(statuses.contains(&DomainStatus::Old));
    assert!(statuses.contains(&DomainStatus::Forgotten));
    assert!(
        example
            .domains
            .iter()
            .any(|d| d.name == "xn--exmple-cua.com")
    );
    assert!(!example.keywords.is_empty());
    assert!(!example.allow.is_empty());
    assert_eq!(example.lookalike.interval_secs, 1800);
    assert_eq!(example.lookalike.jitter_secs, config.lookalike.jitter_secs);
}

#[test]
fn minimal_config_uses_defaults() {
    let fixture = Fixture::new(BASE_CONFIG, &[("acme.toml", BASE_WATCHLIST)]);
    let config = fixture
        .load()
        .unwrap_or_else(|errors| panic!("{errors}"))
        .config;

    assert_eq!(config.dns.timeout_ms, 2000);
    assert_eq!(config.dns.attempts, 2);
    assert_eq!(config.dns.concurrency, 100);
    assert!(config.dns.nameservers.is_empty());
    assert_eq!(config.lookalike.interval_secs, 3600);
    assert_eq!(config.lookalike.jitter_secs, 300);
    assert!(config.lookalike.dictionary);
    assert!(config.lookalike.tld_swap);
    assert_eq!(config.dispatcher.retry_initial_secs, 5);
    assert_eq!(config.dispatcher.retry_max_secs, 900);
    assert_eq!(config.daemon.shutdown_grace_secs, 10);

    let SinkConfig::Smtp(smtp) = &config.sinks["mail"] else {
        panic!("mail sink is not smtp");
    };
    assert_eq!(smtp.port, 25);
    assert_eq!(smtp.timeout_secs, 30);
    assert!(smtp.password.is_none());

    let list = &config.watchlists[0];
    assert_eq!(list.id, "acme");
    assert_eq!(list.brand, "Acme");
    assert_eq!(list.min_severity, Severity::Low);
    assert_eq!(list.domains[0].status, DomainStatus::Active);
    assert!(list.domains[0].watch);
    assert_eq!(config.sink_names_for(list), vec!["mail".to_string()]);
}

#[test]
fn relative_paths_follow_config_folder() {
    let config = format!("{BASE_CONFIG}\n[lookalike]\ndictionary_file = \"words.txt\"\n").replace(
        "state_dir = \"state\"",
        "state_dir = \"../state\"\nwatchlists_dir = \"lists\"",
    );
    let fixture = Fixture::new(&config, &[]);
    std::fs::create_dir(fixture.dir.path().join("lists")).expect("create lists");
    fixture.write("lists/acme.toml", BASE_WATCHLIST);
    fixture.write("words.txt", "login\n");

    let loaded = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    let base = fixture.dir.path();
    assert_eq!(loaded.config.daemon.state_dir, base.join("../state"));
    assert_eq!(loaded.config.daemon.watchlists_dir, base.join("lists"));
    assert_eq!(
        loaded.config.lookalike.dictionary_file,
        Some(base.join("words.txt"))
    );
    assert_eq!(
        loaded.config.watchlists[0].file,
        base.join("lists/acme.toml")
    );
}

#[test]
fn state_dir_default_from_systemd() {
    let config = BASE_CONFIG.replace("state_dir = \"state\"\n", "");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);

    let under_systemd = fixture
        .load_with(&[("STATE_DIRECTORY", "/var/lib/vigie-test")])
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(
        under_systemd.config.daemon.state_dir,
        PathBuf::from("/var/lib/vigie-test")
    );

    let plain = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(
        plain.config.daemon.state_dir,
        PathBuf::from("/var/lib/vigie")
    );
}

/// One error case: the files to write and the errors expected, each as
/// (file name, marker whose line the error must point at, part of the message).
struct Case {
    name: &'static str,
    config_extra: &'static str,
    watchlists: &'static [(&'static str, &'static str)],
    expected: &'static [(&'static str, &'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "public suffix as a legitimate domain",
        config_extra: "",
        watchlists: &[(
            "a.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n\n[[domains]]\nname = \"co.uk\"\n",
        )],
        expected: &[("a.toml", "co.uk", "public suffix")],
    },
    Case {
        name: "unknown key with suggestion",
        config_extra: "\n[lookalike]\nintervall_secs = 60\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "intervall_secs",
            "unknown key `intervall_secs` in [lookalike]",
        )],
    },
    Case {
        name: "unknown section",
        config_extra: "\n[dnss]\ntimeout_ms = 5\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "[dnss]",
            "unknown key `dnss` at the top level",
        )],
    },
    Case {
        name: "wrong type",
        config_extra: "\n[dns]\ntimeout_ms = \"2s\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "timeout_ms",
            "dns.timeout_ms must be an integer, found a string",
        )],
    },
    Case {
        name: "zero interval",
        config_extra: "\n[lookalike]\ninterval_secs = 0\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "interval_secs",
            "lookalike.interval_secs must be between 1 and",
        )],
    },
    Case {
        name: "concurrency out of range",
        config_extra: "\n[dns]\nconcurrency = 10001\nattempts = 0\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[
            (
                "vigie.toml",
                "concurrency",
                "dns.concurrency must be between 1 and 10000",
            ),
            (
                "vigie.toml",
                "attempts",
                "dns.attempts must be between 1 and 10",
            ),
        ],
    },
    Case {
        name: "port zero",
        config_extra: "port = 0\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "port = 0",
            "sinks.mail.port must be between 1 and 65535",
        )],
    },
    Case {
        name: "bad nameserver",
        config_extra: "\n[dns]\nnameservers = [\"dns.example\"]\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "nameservers",
            "invalid nameserver \"dns.example\"",
        )],
    },
    Case {
        name: "unknown fuzzer",
        config_extra: "\n[lookalike]\nfuzzers = [\"omission\", \"bitsquating\"]\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[("vigie.toml", "fuzzers", "unknown fuzzer \"bitsquating\"")],
    },
    Case {
        name: "missing dictionary file",
        config_extra: "\n[lookalike]\ndictionary_file = \"absent-words.txt\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "dictionary_file",
            "absent-words.txt named by lookalike.dictionary_file not found",
        )],
    },
    Case {
        name: "missing tld file in watchlist",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n\n[lookalike]\ntld_file = \"tlds.txt\"\n",
        )],
        expected: &[(
            "acme.toml",
            "tld_file",
            "tlds.txt named by lookalike.tld_file not found",
        )],
    },
    Case {
        name: "inline password",
        config_extra: "username = \"vigie\"\npassword = \"hunter2\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[
            (
                "vigie.toml",
                "password = ",
                "sinks.mail.password writes a secret directly in the TOML",
            ),
            (
                "vigie.toml",
                "username",
                "sinks.mail.username is set but no password is given",
            ),
        ],
    },
    Case {
        name: "missing password file",
        config_extra: "username = \"vigie\"\npassword_file = \"absent-password\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[("vigie.toml", "password_file", "secret file")],
    },
    Case {
        name: "unset password variable",
        config_extra: "username = \"vigie\"\npassword_env = \"VIGIE_TEST_UNSET_PASSWORD\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "password_env",
            "environment variable VIGIE_TEST_UNSET_PASSWORD named by sinks.mail.password_env is not set",
        )],
    },
    Case {
        name: "webhook url and secret",
        config_extra: "\n[sinks.hook]\ntype = \"webhook\"\nurl = \"ftp://127.0.0.1/x\"\nsecret = \"k\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[
            ("vigie.toml", "url = ", "invalid URL \"ftp://127.0.0.1/x\""),
            (
                "vigie.toml",
                "secret = ",
                "sinks.hook.secret writes a secret directly in the TOML",
            ),
        ],
    },
    Case {
        name: "missing required sink keys",
        config_extra: "\n[sinks.hook]\ntimeout_secs = 5\n\n[sinks.relay]\ntype = \"smtp\"\nto = [\"soc@localhost\"]\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[
            (
                "vigie.toml",
                "[sinks.hook]",
                "missing key `sinks.hook.type`",
            ),
            (
                "vigie.toml",
                "[sinks.relay]",
                "missing key `sinks.relay.host`",
            ),
            (
                "vigie.toml",
                "[sinks.relay]",
                "missing key `sinks.relay.from`",
            ),
        ],
    },
    Case {
        name: "unknown sink type",
        config_extra: "\n[sinks.chat]\ntype = \"slack\"\n",
        watchlists: &[("acme.toml", BASE_WATCHLIST)],
        expected: &[(
            "vigie.toml",
            "\"slack\"",
            "invalid value \"slack\" for sinks.chat.type",
        )],
    },
    Case {
        name: "domain given as url",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"https://acme.example/login\"\n",
        )],
        expected: &[("acme.toml", "https://", "is a URL, not a domain name")],
    },
    Case {
        name: "domain given as address",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"ceo@acme.example\"\n",
        )],
        expected: &[("acme.toml", "ceo@", "is a mail address, not a domain name")],
    },
    Case {
        name: "domain with invalid characters",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"ac_me.example\"\n",
        )],
        expected: &[(
            "acme.toml",
            "ac_me",
            "invalid domain name \"ac_me.example\"",
        )],
    },
    Case {
        name: "allow entry with a space",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "allow = [\"acme cdn.example\"]\n[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n",
        )],
        expected: &[("acme.toml", "allow", "contains a space")],
    },
    Case {
        name: "allow after a table",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n\n[alerts]\nallow = [\"cdn.example\"]\n",
        )],
        expected: &[("acme.toml", "allow", "`allow` follows the [alerts] header")],
    },
    Case {
        name: "domains as a single table",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[domains]\nname = \"acme.example\"\n",
        )],
        expected: &[(
            "acme.toml",
            "[domains]",
            "domains must be an array of tables, found a table",
        )],
    },
    Case {
        name: "domain without name",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nstatus = \"old\"\n",
        )],
        expected: &[("acme.toml", "[[domains]]", "missing key `domains[0].name`")],
    },
    Case {
        name: "duplicate domain across watchlists",
        config_extra: "",
        watchlists: &[
            ("a.toml", BASE_WATCHLIST),
            (
                "b.toml",
                "[brand]\nname = \"Other\"\n\n[[domains]]\nname = \"ACME.example\"\n",
            ),
        ],
        expected: &[(
            "b.toml",
            "ACME.example",
            "domain \"acme.example\" is listed twice; it is already listed at",
        )],
    },
    Case {
        name: "unknown sink in routing",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\n\n[alerts]\nsinks = [\"mial\"]\n",
        )],
        expected: &[("acme.toml", "mial", "unknown sink \"mial\" in alerts.sinks")],
    },
    Case {
        name: "bad status and severity",
        config_extra: "",
        watchlists: &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\n\n[[domains]]\nname = \"acme.example\"\nstatus = \"retired\"\n\n[alerts]\nmin_severity = \"urgent\"\n",
        )],
        expected: &[
            (
                "acme.toml",
                "retired",
                "invalid value \"retired\" for domains[0].status",
            ),
            (
                "acme.toml",
                "urgent",
                "invalid value \"urgent\" for alerts.min_severity",
            ),
        ],
    },
    Case {
        name: "missing brand and domains",
        config_extra: "",
        watchlists: &[("acme.toml", "# nothing but a comment\n")],
        expected: &[
            ("acme.toml", "# nothing", "missing [brand] table"),
            ("acme.toml", "# nothing", "the watchlist lists no domain"),
        ],
    },
    Case {
        name: "syntax error keeps checking other files",
        config_extra: "",
        watchlists: &[
            ("a.toml", "[brand\nname = \"Acme\"\n"),
            (
                "b.toml",
                "[brand]\nname = \"Other\"\ncolour = \"red\"\n\n[[domains]]\nname = \"other.example\"\n",
            ),
        ],
        expected: &[
            ("a.toml", "[brand", "invalid TOML"),
            ("b.toml", "colour", "unknown key `colour` in [brand]"),
        ],
    },
];

#[test]
fn error_cases_report_file_and_line() {
    for case in CASES {
        let config = format!("{BASE_CONFIG}{}", case.config_extra);
        let fixture = Fixture::new(&config, case.watchlists);
        let errors = expect_errors(&fixture);

        for (file, marker, message) in case.expected {
            let text = if *file == "vigie.toml" {
                config.clone()
            } else {
                let (_, text) = case
                    .watchlists
                    .iter()
                    .find(|(name, _)| name == file)
                    .expect("expected file is in the case");
                text.to_string()
            };
            let line = line_of(&text, marker);
            let found = errors.iter().find(|error| {
                file_name(error) == *file && error.line == line && error.message.contains(message)
            });
            assert!(
                found.is_some(),
                "case `{}`: expected {file}:{line} `{message}`, got:\n{}",
                case.name,
                ConfigErrors {
                    errors: errors.clone()
                }
            );
        }
        assert_eq!(
            errors.len(),
            case.expected.len(),
            "case `{}`: unexpected extra errors:\n{}",
            case.name,
            ConfigErrors {
                errors: errors.clone()
            }
        );
        for error in &errors {
            assert!(
                !error.fix.is_empty(),
                "case `{}`: error without fix",
                case.name
            );
        }
    }
}

#[test]
fn unknown_key_suggests_close_name() {
    let config = format!("{BASE_CONFIG}\n[lookalike]\nintervall_secs = 60\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let errors = expect_errors(&fixture);
    assert_eq!(errors[0].fix, "did you mean `interval_secs`?");
    assert_eq!(errors[0].column, 1);
}

#[test]
fn inline_secret_never_printed() {
    let config = format!("{BASE_CONFIG}username = \"vigie\"\npassword = \"hunter2\"\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let errors = fixture.load().expect_err("inline password is rejected");
    let text = errors.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("use password_env or password_file"), "{text}");
}

#[test]
fn webhook_url_password_rejected_unprinted() {
    // A password in the URL is a secret written in the TOML, and the URL is printed by
    // `vigie check` and in delivery errors.
    for url in [
        "http://vigie:hunter3@127.0.0.1:8080/hook",
        "http:// vigie:hunter3@127.0.0.1:8080/hook",
    ] {
        let config = format!("{BASE_CONFIG}\n[sinks.hook]\ntype = \"webhook\"\nurl = \"{url}\"\n");
        let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
        let errors = fixture
            .load()
            .expect_err("a password in the URL is rejected");
        let text = errors.to_string();
        assert!(!text.contains("hunter3"), "{text}");
        assert!(text.contains("sinks.hook.url"), "{text}");
        assert_eq!(errors.len(), 1, "{text}");
    }
}

#[test]
fn dangling_watchlist_symlink_reported() {
    // A watchlist linked from elsewhere whose target is gone must not drop a brand silently.
    let fixture = Fixture::new(BASE_CONFIG, &[("acme.toml", BASE_WATCHLIST)]);
    let link = fixture.dir.path().join("watchlists").join("brand.toml");
    std::os::unix::fs::symlink(fixture.dir.path().join("missing.toml"), &link).unwrap();

    let errors = expect_errors(&fixture);

    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(file_name(&errors[0]), "brand.toml");
    assert!(errors[0].message.contains("not found"), "{errors:?}");
}

#[test]
fn word_lists_checked_at_load() {
    // The daemon reads these lists at each sweep: a bad one must fail `vigie check`, not
    // every sweep of every watchlist.
    let config = format!(
        "{BASE_CONFIG}\n[lookalike]\ndictionary_file = \"words.txt\"\ntld_file = \"tlds.txt\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    fixture.write("words.txt", "login\n# comment\nsecure login\nverify\n");
    std::fs::write(fixture.dir.path().join("tlds.txt"), b"com\nr\xe9seau\n").unwrap();

    let errors = expect_errors(&fixture);

    assert_eq!(errors.len(), 2, "{errors:?}");
    let words = errors
        .iter()
        .find(|error| file_name(error) == "words.txt")
        .unwrap_or_else(|| panic!("no error in words.txt: {errors:?}"));
    assert_eq!(words.line, 3);
    assert!(words.message.contains("secure login"), "{words:?}");
    let tlds = errors
        .iter()
        .find(|error| error.message.contains("tlds.txt"))
        .unwrap_or_else(|| panic!("no error naming tlds.txt: {errors:?}"));
    assert!(tlds.message.contains("UTF-8"), "{tlds:?}");
}

#[test]
fn display_prints_every_error() {
    let config = format!("{BASE_CONFIG}port = 0\n\n[dns]\nconcurrency = 0\n");
    let fixture = Fixture::new(&config, &[("acme.toml", "[brand]\nname = \"Acme\"\n")]);
    let errors = fixture.load().expect_err("three errors");
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();

    assert_eq!(lines.len(), 3, "{text}");
    let config_path = fixture.config_path();
    let port_line = line_of(&config, "port = 0");
    assert_eq!(
        lines[0],
        format!(
            "{}:{port_line}:8: sinks.mail.port must be between 1 and 65535, found 0 (fix: write a value from 1 to 65535, or remove the key to use the default, 25)",
            config_path.display()
        )
    );
    assert!(
        lines[1].contains("dns.concurrency must be between 1 and 10000"),
        "{text}"
    );
    assert!(
        lines[2].contains("acme.toml:1:1: the watchlist lists no domain"),
        "{text}"
    );
}

#[test]
fn missing_watchlists_folder() {
    let config = BASE_CONFIG.replace("state_dir = \"state\"", "watchlists_dir = \"nowhere\"");
    let fixture = Fixture::new(&config, &[]);
    let errors = expect_errors(&fixture);
    assert_eq!(
        errors.len(),
        1,
        "{}",
        ConfigErrors {
            errors: errors.clone()
        }
    );
    assert_eq!(errors[0].line, line_of(&config, "watchlists_dir"));
    assert!(
        errors[0].message.contains("nowhere not found"),
        "{}",
        errors[0]
    );
}

#[test]
fn empty_watchlists_folder() {
    let fixture = Fixture::new(BASE_CONFIG, &[]);
    fixture.write("watchlists/README.txt", "not a watchlist");
    let errors = expect_errors(&fixture);
    assert_eq!(
        errors.len(),
        1,
        "{}",
        ConfigErrors {
            errors: errors.clone()
        }
    );
    assert!(
        errors[0].message.contains("holds no .toml file"),
        "{}",
        errors[0]
    );
}

#[test]
fn missing_config_file() {
    let errors = load(Path::new("/nonexistent/vigie.toml")).expect_err("missing file");
    assert_eq!(errors.len(), 1);
    assert!(errors.errors[0].message.contains("not found"), "{errors}");
}

#[test]
fn watchlist_not_utf8() {
    let fixture = Fixture::new(BASE_CONFIG, &[("acme.toml", BASE_WATCHLIST)]);
    std::fs::write(
        fixture.dir.path().join("watchlists/latin1.toml"),
        b"[brand]\nname = \"Caf\xe9\"\n",
    )
    .expect("write latin-1 file");
    let errors = expect_errors(&fixture);
    assert_eq!(
        errors.len(),
        1,
        "{}",
        ConfigErrors {
            errors: errors.clone()
        }
    );
    assert_eq!(file_name(&errors[0]), "latin1.toml");
    assert_eq!(errors[0].message, "file is not valid UTF-8");
}

#[test]
fn syntax_error_in_main_file_still_checks_watchlists() {
    let config = format!("{BASE_CONFIG}\n[dns\n");
    let fixture = Fixture::new(
        &config,
        &[(
            "acme.toml",
            "[brand]\nname = \"Acme\"\nkeyword = [\"acme\"]\n",
        )],
    );
    let errors = expect_errors(&fixture);
    let files: Vec<String> = errors.iter().map(file_name).collect();
    assert!(files.contains(&"vigie.toml".to_string()), "{files:?}");
    assert!(files.contains(&"acme.toml".to_string()), "{files:?}");
    assert!(
        errors
            .iter()
            .any(|error| error.message.contains("unknown key `keyword`")
                && error.fix.contains("keywords")),
        "{}",
        ConfigErrors {
            errors: errors.clone()
        }
    );
}

#[test]
fn secrets_from_env_and_file() {
    let config = format!(
        "{BASE_CONFIG}username = \"vigie\"\npassword_env = \"VIGIE_SMTP_PASSWORD\"\n\n[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret_file = \"hook.key\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let key_path = fixture.write("hook.key", "s3cret-key\n");
    set_mode(&key_path, 0o600);

    let loaded = fixture
        .load_with(&[("VIGIE_SMTP_PASSWORD", "pa55word")])
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    let SinkConfig::Smtp(smtp) = &loaded.config.sinks["mail"] else {
        panic!("mail sink is not smtp");
    };
    let password = smtp.password.as_ref().expect("password read");
    assert_eq!(password.expose(), "pa55word");
    assert_eq!(format!("{password:?}"), "Secret(<redacted>)");

    let SinkConfig::Webhook(hook) = &loaded.config.sinks["hook"] else {
        panic!("hook sink is not a webhook");
    };
    assert_eq!(
        hook.secret.as_ref().expect("secret read").expose(),
        "s3cret-key"
    );
    assert!(!format!("{:?}", loaded.config).contains("s3cret-key"));
}

#[test]
fn secret_file_from_credentials_directory() {
    let config = format!(
        "{BASE_CONFIG}username = \"vigie\"\npassword_file = \"$CREDENTIALS_DIRECTORY/smtp-password\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    std::fs::create_dir(fixture.dir.path().join("creds")).expect("create creds");
    let path = fixture.write("creds/smtp-password", "from-credential\r\n");
    set_mode(&path, 0o400);
    let creds = fixture.dir.path().join("creds");

    let loaded = fixture
        .load_with(&[("CREDENTIALS_DIRECTORY", creds.to_str().expect("utf-8 path"))])
        .unwrap_or_else(|errors| panic!("{errors}"));
    let SinkConfig::Smtp(smtp) = &loaded.config.sinks["mail"] else {
        panic!("mail sink is not smtp");
    };
    assert_eq!(
        smtp.password.as_ref().expect("password").expose(),
        "from-credential"
    );

    let errors = fixture.load().expect_err("CREDENTIALS_DIRECTORY unset");
    assert!(
        errors
            .to_string()
            .contains("$CREDENTIALS_DIRECTORY, which is not set"),
        "{errors}"
    );
}

#[test]
fn shared_secret_file_warns() {
    let config = format!("{BASE_CONFIG}username = \"vigie\"\npassword_file = \"smtp-password\"\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let path = fixture.write("smtp-password", "pa55word\n");
    set_mode(&path, 0o644);

    let loaded = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(loaded.warnings.len(), 1);
    let warning = &loaded.warnings[0];
    assert_eq!(warning.line, line_of(&config, "password_file"));
    assert!(
        warning.message.contains("readable by group or others"),
        "{warning}"
    );
    assert!(!warning.to_string().contains("pa55word"));
}

#[test]
fn empty_secret_file_rejected() {
    let config = format!("{BASE_CONFIG}username = \"vigie\"\npassword_file = \"smtp-password\"\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let path = fixture.write("smtp-password", "\n");
    set_mode(&path, 0o600);

    let errors = expect_errors(&fixture);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("is empty"), "{}", errors[0]);
}

#[test]
fn watchlist_overrides_lookalike() {
    let config = format!("{BASE_CONFIG}\n[lookalike]\ninterval_secs = 600\njitter_secs = 30\n");
    let list =
        format!("{BASE_WATCHLIST}\n[lookalike]\ninterval_secs = 120\nfuzzers = [\"homoglyph\"]\n");
    let fixture = Fixture::new(&config, &[("acme.toml", &list)]);
    let config = fixture
        .load()
        .unwrap_or_else(|errors| panic!("{errors}"))
        .config;

    assert_eq!(config.lookalike.interval_secs, 600);
    let overridden = &config.watchlists[0].lookalike;
    assert_eq!(overridden.interval_secs, 120);
    assert_eq!(overridden.jitter_secs, 30);
    assert_eq!(overridden.fuzzers, vec!["homoglyph".to_string()]);
}

#[test]
fn check_prints_summary() {
    let config =
        format!("{BASE_CONFIG}username = \"vigie\"\npassword_env = \"VIGIE_SMTP_PASSWORD\"\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let args = CheckArgs {
        config: fixture.config_path(),
    };
    let env = |name: &str| (name == "VIGIE_SMTP_PASSWORD").then(|| "pa55word".to_string());
    let (mut out, mut err) = (Vec::new(), Vec::new());

    let code = run_with(&args, &env, &mut out, &mut err).expect("check runs");
    let out = String::from_utf8(out).expect("utf-8");
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("dns servers: system resolver"), "{out}");
    assert!(out.contains("acme"), "{out}");
    assert!(
        out.contains("domains: 1 (1 active, 0 old, 0 forgotten)"),
        "{out}"
    );
    assert!(out.contains("password set"), "{out}");
    assert!(!out.contains("pa55word"), "{out}");
    assert!(err.is_empty());
}

#[test]
fn check_prints_errors_and_exits_2() {
    let config = format!("{BASE_CONFIG}port = 0\n");
    let fixture = Fixture::new(&config, &[("acme.toml", "[brand]\nname = \"Acme\"\n")]);
    let args = CheckArgs {
        config: fixture.config_path(),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());

    let code = run_with(&args, &no_env, &mut out, &mut err).expect("check runs");
    let err = String::from_utf8(err).expect("utf-8");
    assert_eq!(code, ExitCode::from(2));
    assert!(err.contains("sinks.mail.port"), "{err}");
    assert!(err.contains("the watchlist lists no domain"), "{err}");
    assert!(err.contains("2 errors"), "{err}");
    assert!(out.is_empty());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[derive(clap::Parser)]
struct CheckCommand {
    #[command(flatten)]
    args: CheckArgs,
}

#[test]
fn check_args_config_path() {
    use clap::Parser;

    let explicit = CheckCommand::try_parse_from(["check", "--config", "custom/vigie.toml"])
        .expect("parse --config");
    assert_eq!(explicit.args.config, PathBuf::from("custom/vigie.toml"));

    let default = CheckCommand::try_parse_from(["check"]).expect("parse without flags");
    let expected = std::env::var_os("VIGIE_CONFIG")
        .map_or_else(|| PathBuf::from("/etc/vigie/vigie.toml"), PathBuf::from);
    assert_eq!(default.args.config, expected);
}

#[test]
fn broken_fixture_reports_all_errors() {
    let fixture = Path::new("tests/fixtures/config/broken");
    let errors = load_with_env(&fixture.join("vigie.toml"), &no_env).expect_err("broken fixture");
    let actual = format!("{errors}\n");
    let expected_path = fixture.join("expected-errors.txt");
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if actual != expected {
        std::fs::write(fixture.join("expected-errors.txt.failed"), &actual)
            .expect("write .failed file");
    }
    assert_eq!(
        actual,
        expected,
        "output differs from {}; the actual output is in expected-errors.txt.failed",
        expected_path.display()
    );
}

#[test]
fn error_without_place_prints_no_line() {
    let error = vigie::config::load(std::path::Path::new("/nonexistent/vigie.toml"))
        .expect_err("missing file")
        .to_string();
    assert!(
        error.starts_with("/nonexistent/vigie.toml: file not found"),
        "{error}"
    );
    assert!(!error.contains(":0:0"), "{error}");
}

#[test]
fn chat_webhook_url_from_env_stays_hidden() {
    let config = format!(
        "{BASE_CONFIG}\n[sinks.slack]\ntype = \"webhook\"\nformat = \"slack\"\nurl_env = \"VIGIE_SLACK_URL\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let url = "https://hooks.slack.example/services/T0/B0/token-123";
    let loaded = fixture
        .load_with(&[("VIGIE_SLACK_URL", url)])
        .unwrap_or_else(|errors| panic!("{errors}"));
    let SinkConfig::Webhook(hook) = &loaded.config.sinks["slack"] else {
        panic!("slack sink is not a webhook");
    };
    assert_eq!(hook.url, url);
    assert!(hook.url_is_secret);
    assert_eq!(hook.format, vigie::config::WebhookFormat::Slack);
    assert!(!format!("{:?}", loaded.config).contains("token-123"));

    // A value that is no URL is reported without being quoted.
    let errors = fixture
        .load_with(&[("VIGIE_SLACK_URL", "token-456 not a url")])
        .expect_err("a bad URL is rejected");
    let text = errors.to_string();
    assert!(!text.contains("token-456"), "{text}");
    assert!(text.contains("sinks.slack.url_env"), "{text}");
    assert_eq!(errors.errors[0].line, line_of(&config, "url_env"));
}

#[test]
fn chat_webhook_url_in_toml_warns() {
    let config = format!(
        "{BASE_CONFIG}\n[sinks.teams]\ntype = \"webhook\"\nformat = \"teams\"\nurl = \"https://example.webhook.office.example/workflows/1\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let loaded = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].fix.contains("url_env"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn webhook_url_given_twice_or_format_unknown() {
    let config = format!(
        "{BASE_CONFIG}\n[sinks.hook]\ntype = \"webhook\"\nformat = \"slak\"\nurl = \"https://127.0.0.1/hook\"\nurl_env = \"HOOK_URL\"\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let errors = expect_errors(&fixture);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].fix.contains("did you mean \"slack\""),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0].line, line_of(&config, "format"));
    assert!(errors[1].message.contains("url_env"), "{}", errors[1]);
}

#[test]
fn health_section_checked() {
    let config = format!(
        "{BASE_CONFIG}\n[health]\nlisten = \"localhost:9464\"\nblind_after_secs = 5\nsinks = [\"pager\"]\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let errors = expect_errors(&fixture);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].line, line_of(&config, "listen"));
    assert!(errors[0].fix.contains("127.0.0.1:9464"), "{}", errors[0]);
    assert_eq!(errors[1].line, line_of(&config, "blind_after_secs"));
    assert!(errors[2].message.contains("\"pager\""), "{}", errors[2]);
    assert!(errors[2].fix.contains("mail"), "{}", errors[2]);

    let config = format!("{BASE_CONFIG}\n[health]\nlisten = \"0.0.0.0:9464\"\n");
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let loaded = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.health.listen,
        Some("0.0.0.0:9464".parse().unwrap())
    );
    assert_eq!(loaded.config.health.blind_after_secs, 21_600);
}

#[test]
fn sink_rate_limit_and_quiet_hours() {
    let config = format!(
        "{BASE_CONFIG}max_per_hour = 20\nquiet_hours = \"22:00-07:00\"\nutc_offset = \"+01:00\"\n\n[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nquiet_hours = \"22h-7h\"\nutc_offset = \"CET\"\nmax_per_hour = 0\n"
    );
    let fixture = Fixture::new(&config, &[("acme.toml", BASE_WATCHLIST)]);
    let errors = expect_errors(&fixture);
    assert_eq!(errors.len(), 3, "{errors:?}");
    let at = |needle: &str| {
        let line = line_of(&config, needle);
        errors
            .iter()
            .find(|error| error.line == line)
            .unwrap_or_else(|| panic!("no error on line {line}: {errors:?}"))
    };
    assert!(
        at("max_per_hour = 0")
            .message
            .contains("between 1 and 10000")
    );
    assert!(at("\"CET\"").fix.contains("+01:00"));
    assert!(at("22h-7h").fix.contains("22:00-07:00"));

    let good = config.replace(
        "quiet_hours = \"22h-7h\"\nutc_offset = \"CET\"\nmax_per_hour = 0\n",
        "",
    );
    let fixture = Fixture::new(&good, &[("acme.toml", BASE_WATCHLIST)]);
    let loaded = fixture.load().unwrap_or_else(|errors| panic!("{errors}"));
    let policy = loaded.config.sink_policies["mail"];
    assert_eq!(policy.max_per_hour, Some(20));
    let quiet = policy.quiet_hours.unwrap();
    assert_eq!(quiet.offset, time::macros::offset!(+1));
    assert!(!loaded.config.sink_policies.contains_key("hook"));
}
