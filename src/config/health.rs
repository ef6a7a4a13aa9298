//! The `[health]` section: the health and metrics endpoint and the blind-source alert.

use std::net::SocketAddr;

use super::HealthConfig;
use super::tree::{Reader, Table};

const HEALTH_KEYS: &[&str] = &["listen", "blind_after_secs", "sinks"];

/// Default time without a successful poll before a source counts as blind: six hours.
pub(crate) const DEFAULT_BLIND_AFTER_SECS: u64 = 21_600;

pub(crate) fn health(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    sink_names: &[String],
) -> HealthConfig {
    let Some(table) = table else {
        return HealthConfig {
            listen: None,
            blind_after_secs: DEFAULT_BLIND_AFTER_SECS,
            sinks: Vec::new(),
        };
    };
    reader.check_keys(table, HEALTH_KEYS);
    let listen =
        reader
            .string(table, "listen")
            .and_then(|(text, span)| match text.parse::<SocketAddr>() {
                Ok(address) => {
                    if !address.ip().is_loopback() {
                        reader.warn(
                            &span,
                            format!(
                                "health.listen {address} is not a loopback address: anyone who \
                             reaches it reads the source figures"
                            ),
                            "listen on 127.0.0.1 or ::1 and let a reverse proxy or the scraper's \
                         network reach it"
                                .to_string(),
                        );
                    }
                    Some(address)
                }
                Err(_) => {
                    reader.error(
                    &span,
                    format!("invalid health.listen \"{text}\""),
                    "write an IP address and a port, such as \"127.0.0.1:9464\" or \"[::1]:9464\""
                        .to_string(),
                );
                    None
                }
            });
    let blind_after_secs = reader.integer(
        table,
        "blind_after_secs",
        DEFAULT_BLIND_AFTER_SECS,
        (60, 30 * 86_400),
        "seconds",
    );
    let mut sinks = Vec::new();
    for (name, span) in reader.strings(table, "sinks") {
        if !sink_names.contains(&name) {
            reader.error(
                &span,
                format!("health.sinks names sink \"{name}\", which is not defined"),
                format!(
                    "define [sinks.{name}] or use one of: {}",
                    if sink_names.is_empty() {
                        "(no sink defined)".to_string()
                    } else {
                        sink_names.join(", ")
                    }
                ),
            );
            continue;
        }
        sinks.push(name);
    }
    HealthConfig {
        listen,
        blind_after_secs,
        sinks,
    }
}
