//! Peak memory of the two read paths that take the largest untrusted bodies.
//!
//! Usage: `cargo bench --bench memory`.
//!
//! A thread of this process serves on 127.0.0.1:
//! - `/feed`: an RSS feed of 10,000 items, each with an HTML description, read by the feed
//!   source's HTTP client and parsed into items (`parse_items`, which reads each description
//!   with `html_text`);
//! - `/page`: a 50 MB HTML page, generated while it is sent so that the server holds only one
//!   64 KiB chunk, read by the safe fetcher (which keeps `max_body_bytes`, 2 MiB by default)
//!   and analysed as page evidence; the feed client reads it too and must reject it.
//!
//! Before each step the peak resident set size is reset (`5` written to
//! `/proc/self/clear_refs`), and after it `VmHWM` of `/proc/self/status` gives the step's peak.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use vigie::config::{DnsConfig, FeedConfig, FetchConfig, FetchSettings};
use vigie::evidence::page;
use vigie::net::dns::Resolver;
use vigie::net::fetch::Fetcher;
use vigie::sources::feed::parse_items;
use vigie::sources::http::Fetched;
use vigie::sources::http_client;

const FEED_ITEMS: usize = 10_000;
const PAGE_BYTES: usize = 50_000_000;

fn main() {
    let feed = Arc::new(feed_xml(FEED_ITEMS));
    let address = serve(feed.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the runtime");
    println!(
        "memory bench: feed of {FEED_ITEMS} items ({} bytes), page of {PAGE_BYTES} bytes",
        feed.len()
    );

    runtime.block_on(read_feed(address, feed.len() as u64));
    runtime.block_on(fetch_page(address));
    runtime.block_on(reject_page(address));
    deep_pages();
}

/// Times the analysis of deeply nested pages: 20,000 levels parsed whole by html5ever (the
/// cost before the depth bound) and through `page::analyse`, and a 2 MiB page of nested
/// `<div>` (about 400,000 levels) through `page::analyse`.
fn deep_pages() {
    let url = reqwest::Url::parse("https://login.example.test/").unwrap();
    let nested = |levels: usize| format!("<body><p>before</p>{}", "<div>".repeat(levels));

    let html = nested(20_000);
    let started = Instant::now();
    let document = scraper::Html::parse_document(&html);
    let unbounded = started.elapsed();
    drop(document);
    let started = Instant::now();
    let analysed = page::analyse(&html, &url);
    let bounded = started.elapsed();
    assert!(analysed.text.contains("before"));
    println!(
        "deep page, 20,000 levels ({} bytes): html5ever on the whole page {:.3} s, \
         page::analyse {:.3} s",
        html.len(),
        unbounded.as_secs_f64(),
        bounded.as_secs_f64()
    );

    let html = nested((2 << 20) / "<div>".len());
    let started = Instant::now();
    let analysed = page::analyse(&html, &url);
    let bounded = started.elapsed();
    assert!(analysed.text.contains("before"));
    println!(
        "deep page, {} bytes: page::analyse {:.3} s",
        html.len(),
        bounded.as_secs_f64()
    );
}

async fn read_feed(address: SocketAddr, feed_bytes: u64) {
    let settings = FetchSettings {
        timeout_secs: 60,
        max_bytes: (5 << 20).max(feed_bytes),
        max_redirects: 0,
        user_agent: "vigie-bench".to_string(),
        allow_private_addresses: true,
    };
    let config = FeedConfig {
        name: "bench".to_string(),
        url: format!("http://{address}/feed"),
        interval_secs: 900,
        max_items: FEED_ITEMS,
        fetch: settings.clone(),
    };
    let client = http_client(&settings, &closed_dns()).expect("build the feed client");

    let step = Step::start();
    let started = Instant::now();
    let Fetched::Page(body) = client
        .get(&config.url, None, Default::default())
        .await
        .expect("read the feed")
    else {
        panic!("the feed server returned 304 Not Modified");
    };
    let items = parse_items(&config, &body.url, &body.body).expect("parse the feed");
    let elapsed = started.elapsed();
    assert_eq!(items.len(), FEED_ITEMS, "every item parsed");
    assert!(items[FEED_ITEMS - 1].0.text.contains("item 9999"));
    step.report(&format!(
        "feed: {} items from {} bytes in {:.2} s",
        items.len(),
        body.body.len(),
        elapsed.as_secs_f64()
    ));
}

async fn fetch_page(address: SocketAddr) {
    let dns = closed_dns();
    let config = FetchConfig {
        allow_private_addresses: true,
        ..FetchConfig::default()
    };
    let resolver = Arc::new(Resolver::new(&dns).expect("build the resolver"));
    let fetcher = Fetcher::with_resolver(&config, resolver).expect("build the fetcher");
    let url = format!("http://{address}/page");

    let step = Step::start();
    let started = Instant::now();
    let fetched = fetcher.get(&url).await.expect("fetch the page");
    let text = String::from_utf8_lossy(&fetched.body);
    let analysed = page::analyse(&text, &fetched.final_url);
    let elapsed = started.elapsed();
    assert!(fetched.truncated, "the body limit cut the page");
    assert_eq!(fetched.body.len() as u64, config.max_body_bytes);
    assert!(analysed.text.contains("account"));
    step.report(&format!(
        "page: {} of {PAGE_BYTES} bytes kept (max_body_bytes), {} words, in {:.2} s",
        fetched.body.len(),
        analysed.features.words.len(),
        elapsed.as_secs_f64()
    ));
}

async fn reject_page(address: SocketAddr) {
    let settings = FetchSettings {
        timeout_secs: 60,
        max_bytes: 5 << 20,
        max_redirects: 0,
        user_agent: "vigie-bench".to_string(),
        allow_private_addresses: true,
    };
    let client = http_client(&settings, &closed_dns()).expect("build the feed client");
    let step = Step::start();
    let result = client
        .get(&format!("http://{address}/page"), None, Default::default())
        .await;
    let error = result.expect_err("a 50 MB body is rejected");
    step.report(&format!("page through the feed client: rejected ({error})"));
}

/// Returns a `[dns]` that points at a closed local port. Every URL of the benchmark is an
/// IP literal, so the resolver never sends a query.
fn closed_dns() -> DnsConfig {
    DnsConfig {
        nameservers: vec!["127.0.0.1:9".parse().unwrap()],
        timeout_ms: 100,
        attempts: 1,
        concurrency: 1,
    }
}

/// The resident set size when a step started.
struct Step {
    rss_kib: u64,
}

impl Step {
    fn start() -> Step {
        // Resets VmHWM to the current resident size (Linux 4.0 and later).
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident size");
        Step {
            rss_kib: status_kib("VmRSS"),
        }
    }

    fn report(&self, what: &str) {
        let peak = status_kib("VmHWM");
        println!(
            "{what}\n  resident before {:.1} MiB, peak {:.1} MiB, peak growth {:.1} MiB",
            self.rss_kib as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(self.rss_kib) as f64 / 1024.0
        );
    }
}

/// Reads one `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn feed_xml(items: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Reports</title>\
         <link>http://127.0.0.1/</link><description>Scam reports</description>\n",
    );
    for i in 0..items {
        xml.push_str(&format!(
            "<item><title>Report {i}</title><link>http://127.0.0.1/report/{i}</link>\
             <guid>report-{i}</guid><description>&lt;p&gt;Text message about \
             &lt;a href=\"http://example-login-{i}.test/\"&gt;a parcel&lt;/a&gt;, item {i}\
             &lt;/p&gt;</description></item>\n"
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

/// Serves `/feed` and `/page` on 127.0.0.1 from a thread; returns the address.
fn serve(feed: Arc<String>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let feed = feed.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &feed);
            });
        }
    });
    address
}

fn answer(stream: TcpStream, feed: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut stream = stream;
    if request_line.contains(" /feed ") {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            feed.len()
        )?;
        return stream.write_all(feed.as_bytes());
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {PAGE_BYTES}\r\nConnection: close\r\n\r\n"
    )?;
    let unit =
        "<div class=\"row\"><p>Sign in to your account</p><a href=\"/next\">next</a></div>\n";
    let chunk = unit.repeat(64 * 1024 / unit.len());
    let mut sent = 0;
    stream.write_all(b"<html><head><title>Sign in</title></head><body>")?;
    sent += 48;
    while sent < PAGE_BYTES {
        let part = &chunk.as_bytes()[..chunk.len().min(PAGE_BYTES - sent)];
        stream.write_all(part)?;
        sent += part.len();
    }
    Ok(())
}
