//! What the daemon does for the response: it reminds the SOC of unanswered takedown notices,
//! and it keeps checking that taken-down items stay down.
//!
//! After a takedown is recorded as down, every `[response] recovery_interval_secs` the site's
//! page is read and judged ([`super::recovery`]: does it serve the scam again, or a
//! suspension, parking or error page?) and the domain's MX records are resolved (can it
//! receive mail again?). When either comes back, one transaction writes an alert to the
//! outbox and a `came-back` event on the case, so `vigie case show` lists the item as back.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::recovery::{PageProbe, SiteProbe, SiteState, SiteTarget};
use super::takedown::{remind_overdue, response_payload, sinks_of};
use super::{CaseError, Clock, SystemClock, looks_like_domain, rfc3339};
use crate::config::Config;
use crate::model::defang;
use crate::net::dns::{Resolution, Resolver};
use crate::store::{NewEvent, RecoveryCheck, ResponseAlert, Store, Takedown};

/// Time between two reminder passes.
const REMINDER_PERIOD: Duration = Duration::from_secs(60);

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
    let finding = store.finding(takedown.finding_id)?;
    let mut site_state = match &site {
        Some(host) => {
            let target = SiteTarget {
                host,
                target: &takedown.target,
                watchlist: finding.as_ref().map_or("", |f| f.watchlist.as_str()),
            };
            probe.check(&target).await
        }
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
            .then(|| format!("the site serves the scam again: {}", check.site_detail)),
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

    let Some(finding) = finding else {
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
    let mut probes: ProbeCache = None;
    loop {
        let current = config.borrow().clone();
        remind(&store, &current, &wake).await;
        let interval = Duration::from_secs(current.response.recovery_interval_secs);
        if last_recovery.is_none_or(|at| at.elapsed() >= interval) {
            recover(&store, &current, &wake, &mut probes).await;
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

/// The resolver and page probe of one configuration, kept between recovery passes so that
/// reference pages are read again only when the configuration changes.
type ProbeCache = Option<(Arc<Config>, Arc<Resolver>, PageProbe)>;

async fn recover(store: &Arc<Store>, config: &Arc<Config>, wake: &Notify, cache: &mut ProbeCache) {
    let reusable = cache
        .as_ref()
        .is_some_and(|(built, _, _)| Arc::ptr_eq(built, config));
    if !reusable {
        *cache = None;
        let resolver = match Resolver::new(&config.dns) {
            Ok(resolver) => Arc::new(resolver),
            Err(error) => {
                tracing::warn!(%error, "Recovery checks skipped: no resolver.");
                return;
            }
        };
        match PageProbe::new(resolver.clone(), config).await {
            Ok(probe) => *cache = Some((config.clone(), resolver, probe)),
            Err(error) => {
                tracing::warn!(%error, "Recovery checks skipped: the page fetcher cannot be built.");
                return;
            }
        }
    }
    let Some((_, resolver, probe)) = cache.as_ref() else {
        return;
    };
    match check_recovery(store, config, resolver, probe, &SystemClock).await {
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
