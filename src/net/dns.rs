//! DNS resolution of candidate names through hickory-resolver.
//!
//! A lookalike sweep asks, for each candidate name, whether it exists and which A, AAAA, NS
//! and MX records it has. The answer is a [`Resolution`]:
//!
//! - NXDOMAIN is the normal "not registered" result, so it is mapped to
//!   [`Resolution::NotRegistered`] before anything treats it as an error;
//! - NOERROR, even with no data for a type, means the name exists ([`Resolution::Registered`]);
//! - SERVFAIL, REFUSED, timeouts and I/O errors say nothing about the name, so they give
//!   [`Resolution::Unknown`] and the caller asks again later.
//!
//! [`Resolver::sweep`] resolves many names with a bounded number in flight. It also detects
//! wildcard zones (a random label under the registrable domain resolves) so that the
//! subdomain candidates of such a zone are not reported as registrations of their own.
//!
//! Queries go out through a [`super::udp::UdpBatch`], which the resolving task drives itself
//! over a few UDP sockets, because hickory-resolver's socket per query was the bottleneck of
//! a sweep. hickory-resolver still reads the system configuration and takes over the queries
//! whose UDP answer is truncated (it retries them over TCP).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::udp::{UdpAnswer, UdpBatch, UdpFailure, wire_name};
use crate::config::DnsConfig;

/// Records of a registered name, as text.
///
/// Addresses are in their usual text form; NS and MX hosts are lower-case without the final
/// dot. MX preferences are left out so that a preference change alone is not a new MX host.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Records {
    pub a: BTreeSet<String>,
    pub aaaa: BTreeSet<String>,
    pub ns: BTreeSet<String>,
    pub mx: BTreeSet<String>,
}

/// What resolving one name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The name exists: at least one of A, AAAA, NS, MX, or an empty answer without NXDOMAIN.
    Registered(Records),
    /// NXDOMAIN: not registered.
    NotRegistered,
    /// SERVFAIL, timeout or refusal: try again later, never report as registered.
    Unknown(String),
}

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtResolution {
    /// The name exists; its TXT records, each as one string (empty when it has none).
    Found(Vec<String>),
    /// NXDOMAIN: the name does not exist.
    NoName,
    /// SERVFAIL, timeout or refusal, with the reason.
    Unknown(String),
}

/// Error building a [`Resolver`].
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `[dns] nameservers` is empty and the system resolver configuration cannot be read.
    #[error(
        "cannot read the system resolver configuration (/etc/resolv.conf): {0}; \
         set [dns] nameservers to one or more host:port"
    )]
    SystemConfig(String),
    /// hickory-resolver rejected the configuration built from `[dns]`.
    #[error("cannot set up the DNS resolver from [dns]: {0}; check [dns] nameservers")]
    Build(String),
    /// A setting of `[dns]` is out of range.
    #[error("invalid [dns] {field}: {reason}")]
    InvalidSetting {
        field: &'static str,
        reason: &'static str,
    },
}

/// One name of a sweep and what was found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepEntry {
    /// The name as given to [`Resolver::sweep`].
    pub name: String,
    pub resolution: Resolution,
    /// The zone whose wildcard covers this name, when there is one: the registrable domain of
    /// a subdomain, or the public suffix of a registrable name. Such a name resolves through
    /// the wildcard and is not a registration of its own.
    pub wildcard_zone: Option<String>,
}

impl SweepEntry {
    /// Tells whether this entry is a registration to report: registered and not covered by
    /// a wildcard zone.
    pub fn is_registration(&self) -> bool {
        matches!(self.resolution, Resolution::Registered(_)) && self.wildcard_zone.is_none()
    }
}

/// Result of [`Resolver::sweep`].
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// One entry per distinct input name, in input order.
    pub entries: Vec<SweepEntry>,
    /// Zones (registrable domains or public suffixes) found to be wildcards, with the records
    /// a random label gets.
    pub wildcard_zones: BTreeMap<String, Records>,
    /// DNS queries the sweep sent (one per record type asked, retries not counted).
    pub queries: u64,
}

/// A DNS resolver for candidate names.
///
/// It asks the configured nameservers over UDP (TCP when an answer is truncated), or the
/// nameservers of the system configuration when none is configured. Search domains and the hosts file are never used
/// and every name is taken as absolute. The answer cache is off because a sweep asks each
/// name once.
pub struct Resolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    /// Used for the queries whose UDP answer is truncated.
    inner: TokioResolver,
    concurrency: usize,
    queries: Arc<AtomicU64>,
}

/// Record types asked once the A query showed that the name exists.
const FOLLOW_UP_TYPES: [RecordType; 3] = [RecordType::AAAA, RecordType::NS, RecordType::MX];

impl Resolver {
    /// Builds a resolver from `[dns]`.
    pub fn new(config: &DnsConfig) -> Result<Resolver, DnsError> {
        if config.concurrency == 0 {
            return Err(DnsError::InvalidSetting {
                field: "concurrency",
                reason: "must be at least 1",
            });
        }
        if config.timeout_ms == 0 {
            return Err(DnsError::InvalidSetting {
                field: "timeout_ms",
                reason: "must be at least 1",
            });
        }

        let servers = if config.nameservers.is_empty() {
            system_nameservers()?
        } else {
            config.nameservers.iter().map(name_server).collect()
        };
        let addresses = server_addresses(&servers);
        let resolver_config = ResolverConfig::from_parts(None, Vec::new(), servers);
        let inner =
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(resolver_options(config))
                .build()
                .map_err(|error| DnsError::Build(error.to_string()))?;

        let timeout = Duration::from_millis(config.timeout_ms);
        Ok(Resolver {
            servers: addresses,
            timeout,
            attempts: config.attempts.max(1),
            inner,
            concurrency: config.concurrency,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// DNS queries sent since this resolver was built: one per record type asked, plus one
    /// for each truncated answer asked again. Retries after a timeout are not counted.
    pub fn queries_sent(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Resolves `name`: A first, then AAAA, NS and MX together when the name exists.
    ///
    /// `name` is taken as absolute, with or without its final dot. A name that is not a valid
    /// domain name gives [`Resolution::Unknown`] with the reason.
    pub async fn resolve(&self, name: &str) -> Resolution {
        let mut resolution = None;
        self.resolve_all(std::slice::from_ref(&name), 1, |_, found| {
            resolution = Some(found);
        })
        .await;
        resolution.unwrap_or_else(|| Resolution::Unknown("no answer".to_owned()))
    }

    /// Checks whether `zone` answers for any label, by resolving a random label under it.
    ///
    /// Returns the records of that random name when it resolves, `None` when it does not or
    /// when the answer was unknown (a failed check never hides a candidate).
    pub async fn wildcard(&self, zone: &str) -> Option<Records> {
        let probe = wildcard_probe(zone);
        wildcard_records(zone, self.resolve(&probe).await)
    }

    /// Resolves every name in `names` with at most `[dns] concurrency` in flight.
    ///
    /// Duplicate names are resolved once. First, the registrable domain of each subdomain
    /// candidate and the public suffix of each registrable candidate are checked for a
    /// wildcard (see [`wildcard_parent`]). The candidates under a wildcard zone are still
    /// resolved, but they carry that zone in [`SweepEntry::wildcard_zone`]. `progress` is
    /// called once per name as it completes.
    pub async fn sweep<I, F>(&self, names: I, mut progress: F) -> SweepReport
    where
        I: IntoIterator,
        I::Item: Into<String>,
        F: FnMut(&SweepEntry),
    {
        let start_queries = self.queries_sent();
        let names = distinct(names);
        let mut parents: Vec<Option<String>> =
            names.iter().map(|name| wildcard_parent(name)).collect();
        let wildcard_zones = self.find_wildcard_zones(&parents).await;

        let mut resolved: Vec<Option<SweepEntry>> = vec![None; names.len()];
        self.resolve_all(&names, self.concurrency, |index, resolution| {
            let name = &names[index];
            let wildcard_zone = parents[index]
                .take()
                .filter(|zone| wildcard_zones.contains_key(zone));
            let entry = SweepEntry {
                name: name.clone(),
                resolution,
                wildcard_zone,
            };
            progress(&entry);
            resolved[index] = Some(entry);
        })
        .await;

        SweepReport {
            entries: resolved.into_iter().flatten().collect(),
            wildcard_zones,
            queries: self.queries_sent() - start_queries,
        }
    }

    /// Checks the registrable domains of the subdomain candidates (`parents`, see
    /// [`subdomain_parent`]) for a wildcard, with bounded concurrency.
    async fn find_wildcard_zones(&self, parents: &[Option<String>]) -> BTreeMap<String, Records> {
        let zones: Vec<String> = parents
            .iter()
            .flatten()
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let probes: Vec<String> = zones.iter().map(|zone| wildcard_probe(zone)).collect();

        let mut found = BTreeMap::new();
        self.resolve_all(&probes, self.concurrency, |index, resolution| {
            let zone = &zones[index];
            if let Some(records) = wildcard_records(zone, resolution) {
                if psl::suffix_str(zone) == Some(zone.as_str()) {
                    tracing::warn!(
                        zone,
                        "Every name under this public suffix resolves (a wildcard TLD or a resolver that rewrites NXDOMAIN); its candidates are not reported."
                    );
                } else {
                    tracing::debug!(zone, "Wildcard zone found.");
                }
                found.insert(zone.clone(), records);
            }
        })
        .await;
        found
    }

    /// Resolves each of `names` as [`Resolver::resolve`] does, with at most `concurrency`
    /// names in flight, and calls `done` with each name's index as it completes.
    ///
    /// All queries go through one [`UdpBatch`] driven by this task. The queries whose answer
    /// is truncated run here too, through hickory-resolver over TCP.
    async fn resolve_all<S, F>(&self, names: &[S], concurrency: usize, mut done: F)
    where
        S: AsRef<str>,
        F: FnMut(usize, Resolution),
    {
        let in_flight_max = names.len().min(concurrency);
        let mut batch =
            match UdpBatch::open(&self.servers, self.timeout, self.attempts, in_flight_max).await {
                Ok(batch) => batch,
                Err(failure) => {
                    let reason = format!("A query: {}", failure_reason(failure));
                    for index in 0..names.len() {
                        done(index, Resolution::Unknown(reason.clone()));
                    }
                    return;
                }
            };

        let mut pending: Vec<Option<Pending>> = Vec::new();
        pending.resize_with(names.len(), || None);
        let mut tcp = FuturesUnordered::new();
        let mut next_name = 0;
        let mut in_flight = 0;
        loop {
            // Start names until `concurrency` are in flight; a name that does not parse is
            // done at once.
            while in_flight < concurrency && next_name < names.len() {
                let index = next_name;
                next_name += 1;
                match query_name(names[index].as_ref()) {
                    Ok(wire) => {
                        self.queries.fetch_add(1, Ordering::Relaxed);
                        batch.submit(query_tag(index, 0), &wire, RecordType::A);
                        pending[index] = Some(Pending::new(wire));
                        in_flight += 1;
                    }
                    Err(reason) => done(index, Resolution::Unknown(reason)),
                }
            }
            if in_flight == 0 {
                break;
            }

            let (tag, answer) = tokio::select! {
                biased;
                Some((tag, answer)) = tcp.next(), if !tcp.is_empty() => (tag, answer),
                Some((tag, outcome)) = batch.next() => (tag, udp_answer(outcome)),
                else => break,
            };
            let index = (tag >> 2) as usize;
            let step = (tag & 3) as usize;
            let Some(name) = pending[index].as_mut() else {
                continue;
            };
            let answer = match answer {
                Some(answer) => answer,
                None => {
                    // Truncated over UDP: ask again over TCP, in this task.
                    let record_type = record_type_of(step);
                    let fqdn = name_from_wire(&name.wire);
                    tcp.push(async move {
                        let answer = match fqdn {
                            Ok(fqdn) => self.lookup_with_tcp(fqdn, record_type).await,
                            Err(reason) => Answer::Failed(reason),
                        };
                        (tag, Some(answer))
                    });
                    continue;
                }
            };

            if step == 0 {
                match answer {
                    Answer::NameNotFound => name.finish(Resolution::NotRegistered),
                    Answer::Failed(reason) => {
                        name.finish(Resolution::Unknown(format!("A query: {reason}")))
                    }
                    Answer::Found(data) => {
                        add_records(&mut name.records, data);
                        for (offset, record_type) in FOLLOW_UP_TYPES.iter().enumerate() {
                            self.queries.fetch_add(1, Ordering::Relaxed);
                            batch.submit(query_tag(index, offset + 1), &name.wire, *record_type);
                        }
                        name.waiting = FOLLOW_UP_TYPES.len();
                    }
                }
            } else {
                name.follow_up(step - 1, answer);
            }

            if let Some(resolution) = name.result.take() {
                pending[index] = None;
                in_flight -= 1;
                done(index, resolution);
            }
        }
    }

    /// Looks up the TXT records of `name` (SPF, DMARC, DKIM keys), through hickory-resolver
    /// and the same nameservers. Each record's character-strings are joined without a
    /// separator, as SPF (RFC 7208, 3.3) and DKIM (RFC 6376, 3.6.2.2) read them.
    pub async fn txt(&self, name: &str) -> TxtResolution {
        let parsed = match Name::from_ascii(name.trim_end_matches('.')) {
            Ok(mut parsed) => {
                parsed.set_fqdn(true);
                parsed
            }
            Err(error) => return TxtResolution::Unknown(format!("invalid name: {error}")),
        };
        match self.lookup_with_tcp(parsed, RecordType::TXT).await {
            Answer::NameNotFound => TxtResolution::NoName,
            Answer::Failed(reason) => TxtResolution::Unknown(reason),
            Answer::Found(data) => TxtResolution::Found(
                data.into_iter()
                    .filter_map(|rdata| match rdata {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|part| String::from_utf8_lossy(part).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    /// Asks again through hickory-resolver, which retries a truncated answer over TCP.
    async fn lookup_with_tcp(&self, name: Name, record_type: RecordType) -> Answer {
        self.queries.fetch_add(1, Ordering::Relaxed);
        match self.inner.lookup(name, record_type).await {
            Ok(lookup) => Answer::Found(
                lookup
                    .answers()
                    .iter()
                    .map(|record| record.data.clone())
                    .collect(),
            ),
            Err(error) => classify_error(&error),
        }
    }
}

/// A name whose resolution is under way in [`Resolver::resolve_all`].
struct Pending {
    /// The name in wire form.
    wire: Vec<u8>,
    records: Records,
    /// Follow-up answers still awaited.
    waiting: usize,
    /// The first failed follow-up in [`FOLLOW_UP_TYPES`] order, with its reason.
    failures: [Option<String>; FOLLOW_UP_TYPES.len()],
    /// Set once the name is resolved.
    result: Option<Resolution>,
}

impl Pending {
    fn new(wire: Vec<u8>) -> Pending {
        Pending {
            wire,
            records: Records::default(),
            waiting: 0,
            failures: Default::default(),
            result: None,
        }
    }

    fn finish(&mut self, resolution: Resolution) {
        self.result = Some(resolution);
    }

    /// Adds the answer of follow-up `position` and resolves the name after the last one.
    fn follow_up(&mut self, position: usize, answer: Answer) {
        match answer {
            Answer::Found(data) => add_records(&mut self.records, data),
            // The A query already showed that the name exists. An NXDOMAIN now means the
            // zone changed between the two queries, so this type has no records.
            Answer::NameNotFound => {}
            Answer::Failed(reason) => self.failures[position] = Some(reason),
        }
        self.waiting -= 1;
        if self.waiting > 0 {
            return;
        }

        // NOTE: a name whose A query succeeded but whose MX query timed out is reported
        // unknown rather than registered with partial records, so that a missing type never
        // shows up later as a "new" record.
        let failure = FOLLOW_UP_TYPES
            .iter()
            .zip(&mut self.failures)
            .find_map(|(record_type, reason)| Some((record_type, reason.take()?)));
        self.result = Some(match failure {
            Some((record_type, reason)) => {
                Resolution::Unknown(format!("{record_type} query: {reason}"))
            }
            None => Resolution::Registered(std::mem::take(&mut self.records)),
        });
    }
}

/// The tag of query `step` of name `index`: step 0 is A, steps 1 to 3 the follow-ups.
fn query_tag(index: usize, step: usize) -> u32 {
    ((index as u32) << 2) | step as u32
}

fn record_type_of(step: usize) -> RecordType {
    match step {
        0 => RecordType::A,
        _ => FOLLOW_UP_TYPES[step - 1],
    }
}

/// Sorts a UDP outcome; `None` for a truncated answer, which must be asked over TCP.
fn udp_answer(outcome: Result<UdpAnswer, UdpFailure>) -> Option<Answer> {
    Some(match outcome {
        Ok(UdpAnswer::Truncated) => return None,
        Ok(UdpAnswer::Message(message)) => classify_message(*message),
        Ok(UdpAnswer::Code(code)) => classify_code(code),
        Err(failure) => Answer::Failed(failure_reason(failure)),
    })
}

fn failure_reason(failure: UdpFailure) -> String {
    match failure {
        UdpFailure::TimedOut => "timed out".to_owned(),
        UdpFailure::Io(reason) => reason,
    }
}

/// A random name under `zone`, which exists only if `zone` has a wildcard.
fn wildcard_probe(zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    let label: u64 = rand::random();
    format!("vigie-{label:016x}.{zone}")
}

/// The records of a wildcard probe of `zone` when it resolved.
fn wildcard_records(zone: &str, resolution: Resolution) -> Option<Records> {
    match resolution {
        Resolution::Registered(records) => Some(records),
        Resolution::NotRegistered => None,
        Resolution::Unknown(reason) => {
            tracing::debug!(
                zone,
                reason,
                "Wildcard check failed; zone taken as not wildcard."
            );
            None
        }
    }
}

/// Outcome of one query.
enum Answer {
    /// NOERROR; the data may be empty (the name exists but has no record of this type).
    Found(Vec<RData>),
    /// NXDOMAIN.
    NameNotFound,
    /// A failure that gives no information about the name, with the reason.
    Failed(String),
}

/// Sorts a UDP answer by its response code.
fn classify_message(message: Message) -> Answer {
    match message.metadata.response_code {
        // NXDOMAIN applies to the last name of a CNAME chain (RFC 6604): a chain that starts
        // at the asked name shows that this name exists even though its target does not.
        ResponseCode::NXDomain if !starts_chain(&message) => Answer::NameNotFound,
        ResponseCode::NXDomain => Answer::Found(Vec::new()),
        ResponseCode::NoError => Answer::Found(
            message
                .answers
                .into_iter()
                .map(|record| record.data)
                .collect(),
        ),
        code => classify_code(code),
    }
}

/// Sorts an answer that was not decoded by its response code.
fn classify_code(code: ResponseCode) -> Answer {
    match code {
        ResponseCode::NXDomain => Answer::NameNotFound,
        ResponseCode::NoError => Answer::Found(Vec::new()),
        code => Answer::Failed(response_code_reason(code)),
    }
}

/// Tells whether the answer holds a CNAME owned by the asked name. Other records in an
/// NXDOMAIN answer contradict the response code and are ignored.
fn starts_chain(message: &Message) -> bool {
    let Some(query) = message.queries.first() else {
        return false;
    };
    message
        .answers
        .iter()
        .any(|record| record.name == *query.name() && matches!(record.data, RData::CNAME(_)))
}

/// Maps a resolver error to an [`Answer`]: NXDOMAIN and "no data" are answers, not failures.
fn classify_error(error: &NetError) -> Answer {
    if error.is_nx_domain() {
        return Answer::NameNotFound;
    }
    if error.is_no_records_found() {
        return Answer::Found(Vec::new());
    }
    let reason = match error {
        NetError::Timeout => "timed out".to_owned(),
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => response_code_reason(*code),
        other => other.to_string(),
    };
    Answer::Failed(reason)
}

/// Names a failure response code the way DNS tools print it.
fn response_code_reason(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "server failure (SERVFAIL)".to_owned(),
        ResponseCode::Refused => "query refused (REFUSED)".to_owned(),
        other => format!("error response {other}"),
    }
}

/// Adds the A, AAAA, NS and MX data of an answer to `records`, skipping CNAMEs and the rest.
fn add_records(records: &mut Records, data: Vec<RData>) {
    for rdata in data {
        match rdata {
            RData::A(address) => {
                records.a.insert(address.to_string());
            }
            RData::AAAA(address) => {
                records.aaaa.insert(address.to_string());
            }
            RData::NS(host) => {
                records.ns.insert(host_text(&host.0));
            }
            RData::MX(mx) => {
                records.mx.insert(host_text(&mx.exchange));
            }
            _ => {}
        }
    }
}

/// A host name as lower-case text without the final dot.
fn host_text(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// Parses `name` as an absolute domain name and returns it in wire form.
///
/// Most candidates are lower-case letter-digit-hyphen names, which IDNA maps to themselves,
/// so those are encoded directly. Any other name (upper case, Unicode, `xn--` labels, other
/// characters) goes through hickory-proto's IDNA parser.
fn query_name(name: &str) -> Result<Vec<u8>, String> {
    let trimmed = name.trim().trim_end_matches('.');
    // A wire name has one length byte per label plus the root byte, at most 255 in all.
    if trimmed.len() + 2 <= 255 && trimmed.split('.').all(is_plain_label) {
        let mut wire = Vec::with_capacity(trimmed.len() + 2);
        for label in trimmed.split('.') {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.push(0);
        return Ok(wire);
    }
    absolute_name(name).map(|parsed| wire_name(&parsed))
}

/// Tells whether `label` is 1 to 63 bytes of lower-case letters, digits and inner hyphens,
/// without hyphens in its third and fourth places (the form of `xn--` and other reserved
/// prefixes, which IDNA checks).
fn is_plain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && !(bytes.len() >= 4 && &bytes[2..4] == b"--")
}

/// Rebuilds the absolute name of a wire name made by [`query_name`].
fn name_from_wire(wire: &[u8]) -> Result<Name, String> {
    let mut labels = Vec::new();
    let mut rest = wire;
    while let Some((&length, tail)) = rest.split_first() {
        if length == 0 {
            break;
        }
        let (label, tail) = tail.split_at(usize::from(length).min(tail.len()));
        labels.push(label);
        rest = tail;
    }
    let mut name = Name::from_labels(labels)
        .map_err(|error| format!("invalid domain name in a query: {error}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// Parses `name` as an absolute domain name.
fn absolute_name(name: &str) -> Result<Name, String> {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("invalid domain name \"\": the name is empty".to_owned());
    }
    let mut parsed = Name::from_utf8(trimmed)
        .map_err(|error| format!("invalid domain name {name:?}: {error}; fix or drop this name"))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// The registrable domain of `name` when `name` is a proper subdomain of it.
///
/// Uses the public suffix list compiled into the `psl` crate. A TLD that the list does not
/// know (such as `test`) counts as a public suffix, following the list's default rule `*`.
fn subdomain_parent(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let registrable = psl::domain_str(&name)?;
    (registrable != name).then(|| registrable.to_owned())
}

/// The zone whose wildcard would make `name` resolve: the registrable domain of a subdomain,
/// or the public suffix of a registrable domain.
///
/// Checking the suffix too catches a resolver that rewrites NXDOMAIN into an address, and
/// the TLDs that answer every name, under which every candidate would otherwise look
/// registered.
fn wildcard_parent(name: &str) -> Option<String> {
    if let Some(parent) = subdomain_parent(name) {
        return Some(parent);
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let suffix = psl::suffix_str(&name)?;
    (suffix != name).then(|| suffix.to_owned())
}

/// Keeps the first occurrence of each name (compared without case or final dot).
fn distinct<I>(names: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(Into::into)
        .filter(|name| seen.insert(name.trim_end_matches('.').to_ascii_lowercase()))
        .collect()
}

/// Resolver options for candidate names: no cache, no search, no hosts file.
fn resolver_options(config: &DnsConfig) -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.ndots = 0;
    options.timeout = Duration::from_millis(config.timeout_ms);
    options.attempts = config.attempts.max(1) as usize;
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.num_concurrent_reqs = 1;
    // Only TCP connections use this limit; each in-flight name has at most three queries.
    options.max_active_requests = config.concurrency.saturating_mul(3).max(32);
    options
}

/// A UDP nameserver (TCP when an answer is truncated) at `address`.
fn name_server(address: &SocketAddr) -> NameServerConfig {
    let mut server = NameServerConfig::udp_and_tcp(address.ip());
    for connection in &mut server.connections {
        connection.port = address.port();
    }
    server
}

/// The UDP address of each nameserver (port 53 unless its configuration sets another).
fn server_addresses(servers: &[NameServerConfig]) -> Vec<SocketAddr> {
    servers
        .iter()
        .map(|server| {
            let port = server
                .connections
                .iter()
                .find(|connection| matches!(connection.protocol, ProtocolConfig::Udp))
                .map_or(53, |connection| connection.port);
            SocketAddr::new(server.ip, port)
        })
        .collect()
}

/// The nameservers of the system resolver configuration, without its search domains.
fn system_nameservers() -> Result<Vec<NameServerConfig>, DnsError> {
    let (config, _options) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|error| DnsError::SystemConfig(error.to_string()))?;
    let (_domain, _search, servers) = config.into_parts();
    if servers.is_empty() {
        return Err(DnsError::SystemConfig("no nameserver line".to_owned()));
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_parent_of_names() {
        assert_eq!(
            subdomain_parent("www.wild.test"),
            Some("wild.test".to_owned())
        );
        assert_eq!(subdomain_parent("wild.test"), None);
        assert_eq!(
            subdomain_parent("a.b.example.co.uk."),
            Some("example.co.uk".to_owned())
        );
        assert_eq!(subdomain_parent("example.co.uk"), None);
    }

    #[test]
    fn query_name_matches_idna_parser_for_permutations() {
        let permutations =
            crate::domain::permute("societegenerale.com", &Default::default()).unwrap();
        let mut names: Vec<String> = permutations.into_iter().map(|item| item.domain).collect();
        names.extend(
            [
                "Examp1e.test",
                "xn--exmple-qta.test.",
                "exämple.test",
                "a--b.test",
                "-a.test",
            ]
            .map(str::to_owned),
        );
        assert!(names.len() > 1000, "{} names", names.len());
        for name in &names {
            let expected = absolute_name(name).map(|parsed| wire_name(&parsed));
            assert_eq!(query_name(name), expected, "{name}");
            if let Ok(wire) = &expected {
                assert_eq!(
                    name_from_wire(wire)
                        .map(|parsed| wire_name(&parsed))
                        .as_ref(),
                    Ok(wire)
                );
            }
        }
    }

    #[test]
    fn query_name_rejects_bad_names() {
        let long_label = format!("{}.test", "a".repeat(64));
        let error = query_name(&long_label).unwrap_err();
        assert!(error.contains(&long_label), "{error}");
        let long_name = ["abcdefghij"; 30].join(".");
        let error = query_name(&long_name).unwrap_err();
        assert!(error.contains(&long_name), "{error}");
        assert!(query_name("a..test").is_err());
    }

    #[test]
    fn distinct_keeps_first_occurrence() {
        let names = distinct(["a.test", "A.test.", "b.test", "a.test"]);
        assert_eq!(names, vec!["a.test".to_owned(), "b.test".to_owned()]);
    }

    #[test]
    fn absolute_name_rejects_bad_names() {
        let empty = absolute_name(" ").unwrap_err();
        assert!(empty.contains("empty"), "{empty}");
        let long_label = format!("{}.test", "a".repeat(64));
        let error = absolute_name(&long_label).unwrap_err();
        assert!(error.contains(&long_label), "{error}");
        assert!(absolute_name("examp1e.test").unwrap().is_fqdn());
    }

    #[test]
    fn add_records_drops_mx_preference() {
        let mut records = Records::default();
        let mx = |preference, host: &str| {
            RData::MX(hickory_resolver::proto::rr::rdata::MX::new(
                preference,
                Name::from_ascii(host).unwrap(),
            ))
        };
        add_records(
            &mut records,
            vec![mx(20, "Mail.Examp1e.test."), mx(10, "mail.examp1e.test.")],
        );
        assert_eq!(records.mx, BTreeSet::from(["mail.examp1e.test".to_owned()]));
    }
}
