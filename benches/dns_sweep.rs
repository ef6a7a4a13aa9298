//! DNS sweep benchmark: vigie's sweep rate against the capacity of the server it asks.
//!
//! It generates the permutations of societegenerale.com, registers one in 20 of them in
//! zones served by NSD on 127.0.0.1, measures NSD's capacity with dnsperf for the query mix
//! that the sweep sends, then times repeated sweeps of all names by [`Resolver::sweep`] and
//! prints both rates in queries per second, and their ratio.
//!
//! Zone layout: NSD serves one zone per TLD found in the names (NXDOMAIN for every name
//! that is not registered) and one zone per registered name, so that each registered name
//! answers its A, AAAA, NS and MX queries with authority, as its own nameserver would.
//!
//! Run: `cargo bench --bench dns_sweep [-- --names FILE] [--concurrency N] [--seconds N]
//! [--rounds N]`. Defaults: vigie's permutations, concurrency 100 (dnsperf's outstanding
//! queries too), 5 s per measurement, 5 rounds. Each round prints the load average, both
//! rates and their ratio; the summary gives the medians.
//! `--names` reads "fuzzer domain" lines (from `scripts/dnstwist-names.py`) instead of
//! calling `vigie::domain::permute`. Needs `nsd` and `dnsperf` (Debian packages).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie::config::DnsConfig;
use vigie::domain::{PermuteOptions, permute};
use vigie::net::dns::{Resolution, Resolver};

const DOMAIN: &str = "societegenerale.com";
/// One registered name in this many.
const REGISTERED_EVERY: usize = 20;

struct Options {
    names_file: Option<PathBuf>,
    concurrency: usize,
    seconds: u64,
    rounds: usize,
}

fn main() {
    let options = parse_options();
    let names = candidate_names(&options);
    let registered: Vec<&str> = names
        .iter()
        .step_by(REGISTERED_EVERY)
        .map(String::as_str)
        .collect();
    let workdir = tempfile::tempdir().expect("create a temporary folder");

    let port = free_port();
    write_nsd_files(workdir.path(), port, &names, &registered);
    let mut nsd = start_nsd(workdir.path());
    let server: SocketAddr = ([127, 0, 0, 1], port).into();

    let runtime = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    // Rounds alternate the two measurements so that a change in the machine's load (other
    // processes) touches both alike; the medians are reported.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tld = names[0].rsplit('.').next().expect("a name has a TLD");
        runtime.block_on(wait_until_serving(server, &format!("vigie-ready.{tld}")));
        let query_file = write_query_file(workdir.path(), &names, &registered);
        let mut rounds = Vec::new();
        for round in 1..=options.rounds {
            let load = load_average();
            // Odd rounds measure the server first, even rounds the sweep first, so that
            // neither side always runs just after the other's burst.
            let ((capacity, dnsperf_cpu), sweep) = if round % 2 == 1 {
                let capacity = dnsperf_capacity(port, &query_file, &options);
                (
                    capacity,
                    run_sweep(&runtime, server, &names, registered.len(), &options),
                )
            } else {
                let sweep = run_sweep(&runtime, server, &names, registered.len(), &options);
                (dnsperf_capacity(port, &query_file, &options), sweep)
            };
            let rate = sweep.queries as f64 / sweep.seconds;
            let sweep_cpu = sweep.cpu_seconds * 1e6 / sweep.queries as f64;
            println!(
                "round {round}: load average {load}, server {capacity:.0} queries/s, sweep \
                 {rate:.0} queries/s ({} sweeps, {} queries in {:.2} s), ratio {:.1} %; \
                 client CPU per query: dnsperf {dnsperf_cpu:.2} us, sweep {sweep_cpu:.2} us",
                sweep.sweeps,
                sweep.queries,
                sweep.seconds,
                100.0 * rate / capacity
            );
            rounds.push((capacity, rate, dnsperf_cpu, sweep_cpu));
        }
        rounds
    }));
    let _ = nsd.kill();
    let _ = nsd.wait();
    let rounds = match outcome {
        Ok(rounds) => rounds,
        Err(panic) => std::panic::resume_unwind(panic),
    };

    let capacity = median(rounds.iter().map(|round| round.0).collect());
    let rate = median(rounds.iter().map(|round| round.1).collect());
    let ratio = median(rounds.iter().map(|round| round.1 / round.0).collect());
    let dnsperf_cpu = median(rounds.iter().map(|round| round.2).collect());
    let sweep_cpu = median(rounds.iter().map(|round| round.3).collect());
    println!(
        "names swept: {} ({} registered, one in {REGISTERED_EVERY}); concurrency {}",
        names.len(),
        registered.len(),
        options.concurrency
    );
    println!("median server capacity (dnsperf): {capacity:.0} queries/s");
    println!("median vigie sweep: {rate:.0} queries/s");
    println!("median ratio: {:.1} % of capacity", 100.0 * ratio);
    println!(
        "median client CPU per query (user + system): dnsperf {dnsperf_cpu:.2} us, \
         sweep {sweep_cpu:.2} us"
    );
    println!("load average at the end: {}", load_average());
}

/// The 1, 5 and 15 minute load averages of the machine, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Times repeated sweeps in a task of the multi-thread runtime, as the daemon runs them.
fn run_sweep(
    runtime: &tokio::runtime::Runtime,
    server: SocketAddr,
    names: &[String],
    registered: usize,
    options: &Options,
) -> SweepRate {
    runtime
        .block_on(runtime.spawn(sweep_rate(
            server,
            names.to_vec(),
            registered,
            options.concurrency,
            options.seconds,
        )))
        .expect("the sweep task completes")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn parse_options() -> Options {
    let mut options = Options {
        names_file: None,
        concurrency: 100,
        seconds: 5,
        rounds: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--names" => options.names_file = args.next().map(PathBuf::from),
            "--concurrency" => options.concurrency = number_arg(&arg, args.next()),
            "--seconds" => options.seconds = number_arg(&arg, args.next()) as u64,
            "--rounds" => options.rounds = number_arg(&arg, args.next()).max(1),
            // cargo bench passes --bench; other flags belong to the libtest harness.
            _ => {}
        }
    }
    options
}

fn number_arg(flag: &str, value: Option<String>) -> usize {
    value
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{flag} needs a positive whole number"))
}

/// The permutations of [`DOMAIN`], from vigie's permutation engine or from `--names`.
fn candidate_names(options: &Options) -> Vec<String> {
    let names: Vec<String> = match &options.names_file {
        Some(path) => std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
            .lines()
            .filter_map(|line| line.split_whitespace().last())
            .map(str::to_owned)
            .collect(),
        None => permute(DOMAIN, &PermuteOptions::default())
            .expect("permute societegenerale.com")
            .into_iter()
            .map(|permutation| permutation.domain)
            .collect(),
    };
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// A port free for both UDP and TCP on 127.0.0.1 (NSD binds it a moment later).
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP on 127.0.0.1");
        let port = udp.local_addr().expect("UDP socket has an address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// Writes `nsd.conf`, one zone file per TLD and one shared zone file for the registered names.
fn write_nsd_files(dir: &Path, port: u16, names: &[String], registered: &[&str]) {
    let tlds: BTreeSet<&str> = names
        .iter()
        .filter_map(|name| name.rsplit('.').next())
        .collect();
    // Response rate limiting is off: NSD's default limit (200 answers a second to one /24)
    // would cap both dnsperf and the sweep at a rate unrelated to the server's capacity.
    let mut conf = format!(
        "server:\n    ip-address: 127.0.0.1\n    port: {port}\n    do-ip6: no\n    username: \"\"\n    \
         chroot: \"\"\n    zonesdir: \"{dir}\"\n    database: \"\"\n    zonelistfile: \"{dir}/zone.list\"\n    \
         xfrdfile: \"{dir}/xfrd.state\"\n    xfrdir: \"{dir}\"\n    pidfile: \"{dir}/nsd.pid\"\n    \
         logfile: \"{dir}/nsd.log\"\n    server-count: 1\n    verbosity: 1\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\nremote-control:\n    \
         control-enable: no\n",
        dir = dir.display()
    );
    for tld in &tlds {
        std::fs::write(dir.join(format!("{tld}.zone")), tld_zone()).expect("write a TLD zone");
        writeln!(
            conf,
            "zone:\n    name: \"{tld}\"\n    zonefile: \"{tld}.zone\""
        )
        .unwrap();
    }
    std::fs::write(dir.join("lookalike.zone"), lookalike_zone()).expect("write the lookalike zone");
    for name in registered {
        writeln!(
            conf,
            "zone:\n    name: \"{name}\"\n    zonefile: \"lookalike.zone\""
        )
        .unwrap();
    }
    std::fs::write(dir.join("nsd.conf"), conf).expect("write nsd.conf");
}

fn tld_zone() -> &'static str {
    "@ 3600 IN SOA ns.nic hostmaster.nic 1 7200 900 1209600 300\n@ 3600 IN NS ns.nic\nns.nic 3600 IN A 127.0.0.1\n"
}

/// Records of every registered lookalike, relative to its own origin.
fn lookalike_zone() -> &'static str {
    "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
     @ 3600 IN NS ns1\n\
     @ 3600 IN NS ns2\n\
     @ 3600 IN A 198.51.100.10\n\
     @ 3600 IN AAAA 2001:db8::10\n\
     @ 3600 IN MX 10 mail\n\
     ns1 3600 IN A 198.51.100.53\n\
     ns2 3600 IN A 198.51.100.54\n\
     mail 3600 IN A 198.51.100.25\n"
}

fn start_nsd(dir: &Path) -> Child {
    Command::new("nsd")
        .arg("-d")
        .arg("-c")
        .arg(dir.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nsd (apt-get install nsd)")
}

/// Waits until the server returns NXDOMAIN for `absent_name` (NSD loads its zones after
/// binding its port).
async fn wait_until_serving(server: SocketAddr, absent_name: &str) {
    let resolver = Resolver::new(&config(server, 1)).expect("build a resolver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if resolver.resolve(absent_name).await == Resolution::NotRegistered {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nsd does not answer on {server} after 20 s; see the nsd.log of the run");
}

/// Writes the dnsperf input: the queries a sweep sends (A for every name, AAAA, NS and MX
/// for the registered ones), interleaved as the sweep sends them.
fn write_query_file(dir: &Path, names: &[String], registered: &[&str]) -> PathBuf {
    let registered: BTreeSet<&str> = registered.iter().copied().collect();
    let mut queries = String::new();
    for name in names {
        writeln!(queries, "{name} A").unwrap();
        if registered.contains(name.as_str()) {
            for record_type in ["AAAA", "NS", "MX"] {
                writeln!(queries, "{name} {record_type}").unwrap();
            }
        }
    }
    let path = dir.join("queries.txt");
    std::fs::write(&path, queries).expect("write the dnsperf input");
    path
}

/// Runs dnsperf for `--seconds` with `--concurrency` queries in flight and returns its rate
/// and the CPU time it spent per query, in microseconds.
fn dnsperf_capacity(port: u16, query_file: &Path, options: &Options) -> (f64, f64) {
    let (seconds, outstanding) = (options.seconds, options.concurrency);
    let cpu_before = cpu_seconds(libc::RUSAGE_CHILDREN);
    let output = Command::new("dnsperf")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-l",
            &seconds.to_string(),
        ])
        .args(["-q", &outstanding.to_string()])
        .arg("-d")
        .arg(query_file)
        .output()
        .expect("run dnsperf (apt-get install dnsperf)");
    // NSD is a child too, but it is not waited for until the end, so only dnsperf counts.
    let cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout);
    let number = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} in the dnsperf output:\n{text}"))
    };
    let rate = number("Queries per second:");
    let completed = number("Queries completed:");
    (rate, cpu * 1e6 / completed)
}

/// User and system CPU time of this process (`RUSAGE_SELF`) or of its waited-for children
/// (`RUSAGE_CHILDREN`), in seconds.
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given and keeps no pointer to it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let status = unsafe { libc::getrusage(who, &mut usage) };
    assert_eq!(status, 0, "getrusage failed");
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

struct SweepRate {
    sweeps: usize,
    queries: u64,
    seconds: f64,
    /// CPU time of the whole process during the sweeps (NSD runs in another process).
    cpu_seconds: f64,
}

/// Sweeps all names again and again for at least `--seconds`, checking each sweep's counts.
async fn sweep_rate(
    server: SocketAddr,
    names: Vec<String>,
    registered: usize,
    concurrency: usize,
    seconds: u64,
) -> SweepRate {
    let resolver = Resolver::new(&config(server, concurrency)).expect("build a resolver");
    let started = Instant::now();
    let cpu_before = cpu_seconds(libc::RUSAGE_SELF);
    let mut rate = SweepRate {
        sweeps: 0,
        queries: 0,
        seconds: 0.0,
        cpu_seconds: 0.0,
    };
    while started.elapsed() < Duration::from_secs(seconds) {
        let report = resolver.sweep(names.iter().cloned(), |_| {}).await;
        let found = report
            .entries
            .iter()
            .filter(|entry| entry.is_registration())
            .count();
        let unknown = report
            .entries
            .iter()
            .filter(|entry| matches!(entry.resolution, Resolution::Unknown(_)))
            .count();
        assert_eq!(
            found, registered,
            "a sweep found {found} registered names, not {registered}"
        );
        assert_eq!(unknown, 0, "a sweep had {unknown} unknown names");
        rate.sweeps += 1;
        rate.queries += report.queries;
    }
    rate.seconds = started.elapsed().as_secs_f64();
    rate.cpu_seconds = cpu_seconds(libc::RUSAGE_SELF) - cpu_before;
    rate
}

fn config(server: SocketAddr, concurrency: usize) -> DnsConfig {
    DnsConfig {
        nameservers: vec![server],
        timeout_ms: 2000,
        attempts: 2,
        concurrency,
    }
}
