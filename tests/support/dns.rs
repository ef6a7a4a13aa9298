//! Authoritative DNS server for the tests, run in-process by hickory-server on 127.0.0.1.
//!
//! [`TestDns::start`] serves zones built from zone-file text over UDP and TCP on a free port.
//! Names listed in [`TestDnsBuilder::servfail`] get SERVFAIL for every query, as from a broken
//! authoritative server. [`silent_udp_socket`] gives an address where nothing
//! ever answers, for timeouts.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::{LowerName, Name};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// Zones of the standard test world: the legitimate `example.test`, its registered
/// lookalikes, a wildcard zone, and the `test.` zone that answers NXDOMAIN for the rest.
pub const STANDARD_ZONES: &[(&str, &str)] = &[
    (
        "test.",
        "@ 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns.test.\n\
         ns 3600 IN A 127.0.0.1\n",
    ),
    (
        "example.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN A 192.0.2.1\n\
         @ 3600 IN MX 10 mail\n\
         ns1 3600 IN A 192.0.2.53\n\
         mail 3600 IN A 192.0.2.25\n",
    ),
    (
        "examp1e.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN NS ns2.parking.test.\n\
         @ 3600 IN A 198.51.100.10\n\
         @ 3600 IN A 198.51.100.11\n\
         @ 3600 IN AAAA 2001:db8::10\n\
         @ 3600 IN MX 10 mail\n\
         @ 3600 IN MX 20 Mail\n\
         ns1 3600 IN A 198.51.100.53\n\
         mail 3600 IN A 198.51.100.25\n",
    ),
    (
        "exarnple.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN A 198.51.100.20\n\
         ns1 3600 IN A 198.51.100.53\n",
    ),
    (
        // exámple.test: an IDN homoglyph, served under its punycode form.
        "xn--exmple-qta.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN AAAA 2001:db8::30\n\
         @ 3600 IN MX 5 mx.mailhost.test.\n\
         ns1 3600 IN A 198.51.100.53\n",
    ),
    (
        // Parked for mail only: it exists but has no address.
        "example-mail.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN MX 10 mx.mailhost.test.\n\
         ns1 3600 IN A 198.51.100.53\n",
    ),
    (
        "wild.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN A 203.0.113.8\n\
         * 3600 IN A 203.0.113.7\n\
         ns1 3600 IN A 203.0.113.53\n",
    ),
    (
        "broken.test.",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n\
         @ 3600 IN NS ns1\n\
         @ 3600 IN A 198.51.100.99\n",
    ),
];

/// The name of [`STANDARD_ZONES`] that answers SERVFAIL in [`TestDns::standard`].
pub const SERVFAIL_NAME: &str = "broken.test";

/// A running authoritative server. It stops when dropped.
pub struct TestDns {
    /// UDP and TCP address of the server.
    pub addr: SocketAddr,
    server: Server<Handler>,
    zones: std::sync::Mutex<Vec<(String, String)>>,
    catalog: SharedCatalog,
}

/// The catalog that serves the queries, swapped whole when a zone changes.
type SharedCatalog = Arc<std::sync::RwLock<Arc<Catalog>>>;

fn build_catalog(zones: &[(String, String)]) -> Catalog {
    let mut catalog = Catalog::new();
    for (origin, text) in zones {
        let (name, handler) = zone_handler(origin, text);
        catalog.upsert(LowerName::new(&name), vec![Arc::new(handler)]);
    }
    catalog
}

/// Zones and failure names for a [`TestDns`].
#[derive(Default)]
pub struct TestDnsBuilder {
    zones: Vec<(String, String)>,
    servfail: Vec<String>,
    rebind: Option<(String, String, String)>,
}

impl TestDnsBuilder {
    /// Adds a zone from its origin (`example.test.`) and its zone-file text.
    pub fn zone(mut self, origin: &str, text: &str) -> Self {
        self.zones.push((origin.to_owned(), text.to_owned()));
        self
    }

    /// Makes every query for `name` (exactly this name) answer SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Self {
        self.servfail.push(name.to_owned());
        self
    }

    /// Serves `name` from the zones given so far for its first A query only; every later
    /// query for `name` is answered from the zone `origin` with the text `second`, as a DNS
    /// rebinding attacker does.
    pub fn rebind(mut self, name: &str, origin: &str, second: &str) -> Self {
        self.rebind = Some((name.to_owned(), origin.to_owned(), second.to_owned()));
        self
    }

    /// Binds UDP and TCP on the same free port of 127.0.0.1 and starts serving.
    pub async fn start(self) -> TestDns {
        let catalog: SharedCatalog =
            Arc::new(std::sync::RwLock::new(Arc::new(build_catalog(&self.zones))));
        let servfail = self
            .servfail
            .iter()
            .map(|name| LowerName::new(&fqdn(name)))
            .collect();

        let rebind = self.rebind.as_ref().map(|(name, origin, text)| {
            let mut second = Catalog::new();
            let (zone, handler) = zone_handler(origin, text);
            second.upsert(LowerName::new(&zone), vec![Arc::new(handler)]);
            (LowerName::new(&fqdn(name)), Arc::new(second))
        });

        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("UDP socket has an address");
        let mut server = Server::new(Handler {
            catalog: catalog.clone(),
            servfail,
            rebind,
            first_a_served: std::sync::atomic::AtomicBool::new(false),
        });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        TestDns {
            addr,
            server,
            zones: std::sync::Mutex::new(self.zones),
            catalog,
        }
    }
}

impl TestDns {
    /// A builder with no zones.
    pub fn builder() -> TestDnsBuilder {
        TestDnsBuilder::default()
    }

    /// Serves [`STANDARD_ZONES`], with [`SERVFAIL_NAME`] answering SERVFAIL.
    pub async fn standard() -> TestDns {
        let mut builder = TestDns::builder().servfail(SERVFAIL_NAME);
        for (origin, text) in STANDARD_ZONES {
            builder = builder.zone(origin, text);
        }
        builder.start().await
    }

    /// Replaces the zone `origin` (or adds it) with the zone-file `text`. The next query
    /// gets its response from the new zone.
    pub fn set_zone(&self, origin: &str, text: &str) {
        let mut zones = self.zones.lock().expect("zone list lock");
        zones.retain(|(known, _)| known != origin);
        zones.push((origin.to_owned(), text.to_owned()));
        let catalog = Arc::new(build_catalog(&zones));
        *self.catalog.write().expect("catalog lock") = catalog;
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// A UDP socket on 127.0.0.1 that receives queries and never answers. Keep it alive for as
/// long as queries are sent to its address.
pub async fn silent_udp_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind a UDP socket on 127.0.0.1")
}

/// Parses zone-file text into an authoritative zone. Panics with the parse error, because a
/// zone of the test world that does not parse is a bug in the test.
fn zone_handler(origin: &str, text: &str) -> (Name, InMemoryZoneHandler) {
    let origin = fqdn(origin);
    let (name, records) = Parser::new(text, None, Some(origin.clone()))
        .parse()
        .unwrap_or_else(|error| panic!("zone {origin} does not parse: {error}"));
    let handler =
        InMemoryZoneHandler::new(name.clone(), records, ZoneType::Primary, AxfrPolicy::Deny)
            .unwrap_or_else(|error| panic!("zone {origin} is invalid: {error}"));
    (name, handler)
}

fn fqdn(name: &str) -> Name {
    let mut parsed =
        Name::from_ascii(name).unwrap_or_else(|error| panic!("bad name {name}: {error}"));
    parsed.set_fqdn(true);
    parsed
}

/// Binds UDP and TCP to the same free port (retrying when another process took the port
/// between the two binds).
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind UDP on 127.0.0.1");
        let port = udp.local_addr().expect("UDP socket has an address").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no free port for both UDP and TCP on 127.0.0.1 after 20 tries");
}

impl Handler {
    /// Picks the catalog that answers: the rebinding name's second catalog once its first A
    /// query was answered, else the main one.
    fn catalog_for(&self, request: &Request) -> Arc<Catalog> {
        let main = || self.catalog.read().expect("catalog lock").clone();
        let Some((name, second)) = &self.rebind else {
            return main();
        };
        let Some(query) = request.queries.queries().iter().find(|q| q.name() == name) else {
            return main();
        };
        let is_a = query.query_type() == hickory_server::proto::rr::RecordType::A;
        let served = if is_a {
            self.first_a_served
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        } else {
            self.first_a_served
                .load(std::sync::atomic::Ordering::SeqCst)
        };
        if served { second.clone() } else { main() }
    }
}

/// Answers SERVFAIL for the listed names and passes every other request to the catalog.
struct Handler {
    catalog: SharedCatalog,
    servfail: HashSet<LowerName>,
    rebind: Option<(LowerName, Arc<Catalog>)>,
    first_a_served: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let fails = request
            .queries
            .queries()
            .iter()
            .any(|query| self.servfail.contains(query.name()));
        if !fails {
            return self
                .catalog_for(request)
                .handle_request::<R, T>(request, response_handle)
                .await;
        }

        let response = MessageResponseBuilder::new(&request.queries, None)
            .error_msg(&request.metadata, ResponseCode::ServFail);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => {
                let mut metadata = Metadata::new(
                    request.metadata.id,
                    MessageType::Response,
                    request.metadata.op_code,
                );
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
