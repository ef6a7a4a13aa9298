//! What the daemon does for the response: it reminds the SOC of unanswered takedown notices,
//! and it keeps checking that taken-down items stay down.
//!
//! After a takedown is recorded as down, every `[response] recovery_interval_secs` the site is
//! requested over HTTP (does it answer?) and the domain's MX records are resolved (can it
//! receive mail again?). When either comes back, one transaction writes an alert to the
//! outbox and a `came-back` event on the case, so `vigie case show` lists the item as back.
//!
//! The HTTP check sits behind [`SiteProbe`]. [`HttpProbe`] is a plain status check through
//! reqwest: it resolves the name with the project resolver, refuses loopback, private and
//! other non-public addresses unless `recovery_private_addresses` is set, pins the address it
//! checked, follows no redirect and reads at most [`MAX_BODY`] bytes.
// TODO: use the shared safe fetcher (src/net/fetch.rs) once it exists, to compare the page
// with the real site as the lookalike source will; this check only sees whether it answers.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::takedown::{remind_overdue, response_payload, sinks_of};
use super::{CaseError, Clock, SystemClock, looks_like_domain, rfc3339};
use crate::config::Config;
use crate::model::defang;
use crate::net::dns::{Resolution, Resolver};
use crate::store::{NewEvent, RecoveryCheck, ResponseAlert, Store, Takedown};

/// Largest part of a page read by a check.
pub const MAX_BODY: usize = 64 * 1024;

/// Time between two reminder passes.
const REMINDER_PERIOD: Duration = Duration::from_secs(60);

/// The result of a site check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteState {
    pub up: bool,
    pub detail: String,
    /// False when the check could not tell (DNS gave no answer): the previous state stays.
    pub known: bool,
}

impl SiteState {
    fn new(up: bool, detail: String) -> SiteState {
        SiteState {
            up,
            detail,
            known: true,
        }
    }
}

/// Checks whether a taken-down site answers again.
pub trait SiteProbe: Send + Sync {
    fn check(&self, host: &str) -> impl Future<Output = SiteState> + Send;
}

/// A plain HTTP status check; see the module documentation.
pub struct HttpProbe {
    resolver: Arc<Resolver>,
    timeout: Duration,
    allow_private: bool,
    /// Port asked on; 80 but in tests.
    pub port: u16,
}

impl HttpProbe {
    pub fn new(resolver: Arc<Resolver>, config: &Config) -> HttpProbe {
        HttpProbe {
            resolver,
            timeout: Duration::from_secs(config.response.recovery_timeout_secs),
            allow_private: config.response.recovery_private_addresses,
            port: 80,
        }
    }

    async fn fetch(&self, host: &str, address: IpAddr) -> Result<(u16, usize), String> {
        crate::init_tls();
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(host, SocketAddr::new(address, self.port))
            .build()
            .map_err(|error| error.to_string())?;
        let url = format!("http://{host}:{}/", self.port);
        let mut response = client
            .get(&url)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let mut read = 0;
        while read < MAX_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok((status, read.min(MAX_BODY)))
    }
}

impl SiteProbe for HttpProbe {
    async fn check(&self, host: &str) -> SiteState {
        let records = match self.resolver.resolve(host).await {
            Resolution::Registered(records) => records,
            Resolution::NotRegistered => {
                return SiteState::new(false, "the name does not resolve (NXDOMAIN)".to_owned());
            }
            Resolution::Unknown(reason) => {
                return SiteState {
                    up: false,
                    detail: format!("DNS gave no answer: {reason}"),
                    known: false,
                };
            }
        };
        let addresses: Vec<IpAddr> = records
            .a
            .iter()
            .chain(records.aaaa.iter())
            .filter_map(|text| text.parse().ok())
            .collect();
        let Some(address) = addresses.first().copied() else {
            return SiteState::new(false, "no address record".to_owned());
        };
        if !self.allow_private && !is_public(address) {
            return SiteState::new(
                false,
                format!(
                    "points at the non-public address {address}, not checked (recovery_private_addresses is off)"
                ),
            );
        }
        match self.fetch(host, address).await {
            Ok((status, bytes)) if status < 400 => SiteState::new(
                true,
                format!("{address} answers HTTP {status} ({bytes} bytes)"),
            ),
            Ok((status, _)) => SiteState::new(false, format!("{address} answers HTTP {status}")),
            Err(reason) => SiteState::new(false, format!("{address} does not answer: {reason}")),
        }
    }
}

/// Tells whether an address is one the Internet routes (not loopback, private, link-local,
/// multicast, documentation or otherwise reserved).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 0 && c == 2)
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Returns the domain whose MX records are checked and the host whose site is checked for
/// a takedown's target (a domain, a URL or a mail address).
fn hosts_of(target: &str) -> (Option<String>, Option<String>) {
    let host = if let Ok(url) = reqwest::Url::parse(target) {
        url.host_str().map(str::to_owned)
    } else if let Some((_, domain)) = target.rsplit_once('@') {
        let domain = domain.to_ascii_lowercase();
        return (looks_like_domain(&domain).then_some(domain), None);
    } else {
        Some(target.to_owned())
    };
    let host = host.map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    match host {
        Some(host) if looks_like_domain(&host) => (Some(host.clone()), Some(host)),
        _ => (None, None),
    }
}

/// Checks every taken-down item once; returns the takedowns whose item came back.
pub async fn check_recovery<P: SiteProbe>(
    store: &Store,
    config: &Config,
    resolver: &Resolver,
    probe: &P,
    clock: &dyn Clock,
) -> Result<Vec<i64>, CaseError> {
    let mut back = Vec::new();
    for takedown in store.takedowns_down()? {
        if check_one(store, config, resolver, probe, clock, &takedown).await? {
            back.push(takedown.id);
        }
    }
    Ok(back)
}

async fn check_one<P: SiteProbe>(
    store: &Store,
    config: &Config,
    resolver: &Resolver,
    probe: &P,
    clock: &dyn Clock,
    takedown: &Takedown,
) -> Result<bool, CaseError> {
    let (mail_domain, site) = hosts_of(&takedown.target);
    let previous = store.recovery_check(takedown.id)?;
    let mut site_state = match &site {
        Some(host) => probe.check(host).await,
        None => SiteState::new(false, "not a web site".to_owned()),
    };
    if !site_state.known {
        site_state.up = previous.as_ref().is_some_and(|p| p.site_up);
    }
    let (mx_up, mx_detail) = match &mail_domain {
        Some(domain) => match resolver.resolve(domain).await {
            Resolution::Registered(records) if !records.mx.is_empty() => (
                true,
                format!(
                    "MX {}",
                    records
                        .mx
                        .iter()
                        .map(|m| defang(m))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Resolution::Registered(_) => (false, "no MX record".to_owned()),
            Resolution::NotRegistered => (false, "the name does not resolve (NXDOMAIN)".to_owned()),
            // A query without answer proves nothing, so the previous state is kept.
            Resolution::Unknown(reason) => (
                previous.as_ref().is_some_and(|p| p.mx_up),
                format!("DNS gave no answer: {reason}"),
            ),
        },
        None => (false, "no mail domain".to_owned()),
    };
    let now = clock.now();
    let check = RecoveryCheck {
        takedown_id: takedown.id,
        checked_at: now,
        site_up: site_state.up,
        site_detail: site_state.detail,
        mx_up,
        mx_detail,
    };
    let was_site = previous.as_ref().is_some_and(|p| p.site_up);
    let was_mx = previous.as_ref().is_some_and(|p| p.mx_up);
    let newly: Vec<String> = [
        (check.site_up && !was_site)
            .then(|| format!("the site answers again: {}", check.site_detail)),
        (check.mx_up && !was_mx)
            .then(|| format!("the domain receives mail again: {}", check.mx_detail)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if newly.is_empty() {
        store.record_recovery_check(&check, None)?;
        return Ok(false);
    }

    let Some(finding) = store.finding(takedown.finding_id)? else {
        store.record_recovery_check(&check, None)?;
        return Ok(false);
    };
    let text = format!(
        "{} came back after its takedown ({}): {}.",
        defang(&takedown.target),
        rfc3339(takedown.down_at.unwrap_or(takedown.sent_at)),
        newly.join("; ")
    );
    let key = format!("takedown-{}-back-{}", takedown.id, now.unix_timestamp());
    let steps = vec![
        format!(
            "Ask {} again with a new notice: vigie takedown send --case {} --finding {}",
            takedown.recipient, takedown.case_id, takedown.finding_id
        ),
        "Check that the blocklists still hold the item: vigie export blocklist".to_owned(),
    ];
    let payload = response_payload(&finding, "came-back", &key, vec![text.clone()], steps, now);
    let sinks = sinks_of(config, &finding.watchlist);
    let alert = ResponseAlert {
        finding_id: finding.id,
        sinks: &sinks,
        idempotency_key: &key,
        payload,
    };
    let event = NewEvent {
        at: now,
        author: "vigie",
        kind: "came-back",
        text,
        data: json!({ "takedown": takedown.id, "alert": key }),
    };
    store.record_recovery_check(&check, Some((&alert, &event)))?;
    Ok(true)
}

/// Runs the daemon task: reminders every minute and recovery checks every
/// `recovery_interval_secs`, until `shutdown`. It notifies `wake` when it wrote alerts.
pub async fn run(
    store: Arc<Store>,
    config: watch::Receiver<Arc<Config>>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    tracing::info!("Response watch started.");
    let mut last_recovery: Option<tokio::time::Instant> = None;
    loop {
        let current = config.borrow().clone();
        remind(&store, &current, &wake).await;
        let interval = Duration::from_secs(current.response.recovery_interval_secs);
        if last_recovery.is_none_or(|at| at.elapsed() >= interval) {
            recover(&store, &current, &wake).await;
            last_recovery = Some(tokio::time::Instant::now());
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(REMINDER_PERIOD.min(interval)) => {}
        }
    }
    tracing::info!("Response watch stopped.");
}

async fn remind(store: &Arc<Store>, config: &Arc<Config>, wake: &Notify) {
    let (store, config) = (store.clone(), config.clone());
    let done =
        tokio::task::spawn_blocking(move || remind_overdue(&store, &config, &SystemClock)).await;
    match done {
        Ok(Ok(reminded)) if !reminded.is_empty() => {
            tracing::info!(takedowns = ?reminded, "Reminded the SOC of unanswered takedowns.");
            wake.notify_one();
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "Takedown reminders failed; retrying later."),
        Err(error) => tracing::warn!(%error, "Takedown reminder task failed."),
    }
}

async fn recover(store: &Arc<Store>, config: &Arc<Config>, wake: &Notify) {
    let resolver = match Resolver::new(&config.dns) {
        Ok(resolver) => Arc::new(resolver),
        Err(error) => {
            tracing::warn!(%error, "Recovery checks skipped: no resolver.");
            return;
        }
    };
    let probe = HttpProbe::new(resolver.clone(), config);
    match check_recovery(store, config, &resolver, &probe, &SystemClock).await {
        Ok(back) if !back.is_empty() => {
            tracing::warn!(takedowns = ?back, "Taken-down items came back.");
            wake.notify_one();
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "Recovery checks failed; retrying later."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_only() {
        for private in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "198.51.100.7",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "2a00:1450::1", "93.184.216.34"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn hosts_of_targets() {
        assert_eq!(
            hosts_of("evil.example"),
            (Some("evil.example".into()), Some("evil.example".into()))
        );
        assert_eq!(
            hosts_of("https://Login.Evil.example/x"),
            (
                Some("login.evil.example".into()),
                Some("login.evil.example".into())
            )
        );
        assert_eq!(
            hosts_of("ceo@evil.example"),
            (Some("evil.example".into()), None)
        );
        assert_eq!(hosts_of("@handle"), (None, None));
    }
}
