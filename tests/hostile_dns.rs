//! Resolution against a hostile nameserver: a raw UDP responder on 127.0.0.1 that builds
//! each answer with a test's own function, to send what no well-behaved server would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_server::proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::rdata::{A, CNAME};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use vigie::config::DnsConfig;
use vigie::net::dns::{Resolution, Resolver};

/// Builds the datagrams sent back for one query (none, one or several).
type Respond = dyn Fn(&Message) -> Vec<Vec<u8>> + Send + Sync;

/// Starts a UDP responder on 127.0.0.1 that answers each query with `respond`.
async fn hostile_server(respond: Arc<Respond>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok((length, client)) = socket.recv_from(&mut buffer).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buffer[..length]) else {
                continue;
            };
            for datagram in respond(&request) {
                let _ = socket.send_to(&datagram, client).await;
            }
        }
    });
    (address, task)
}

fn config(server: SocketAddr) -> DnsConfig {
    DnsConfig {
        nameservers: vec![server],
        timeout_ms: 300,
        attempts: 2,
        concurrency: 16,
    }
}

/// A response to `request` with its question, `code` and `answers`.
fn response(request: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
    let mut message = Message::response(request.metadata.id, OpCode::Query);
    message.metadata.response_code = code;
    message.metadata.authoritative = true;
    for query in &request.queries {
        message.add_query(query.clone());
    }
    for answer in answers {
        message.add_answer(answer);
    }
    message
}

fn question(request: &Message) -> Query {
    request.queries[0].clone()
}

fn a_record(name: &Name, address: [u8; 4]) -> Record {
    Record::from_rdata(name.clone(), 60, RData::A(A(address.into())))
}

fn cname_record(name: &Name, target: &str) -> Record {
    Record::from_rdata(
        name.clone(),
        60,
        RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
    )
}

#[tokio::test]
async fn nxdomain_with_cname_is_registered() {
    // A lookalike whose CNAME points to a name that does not exist: the resolver answers
    // NXDOMAIN for the target with the CNAME in the answer (RFC 6604), yet the lookalike
    // itself is registered.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let name = question(request).name().clone();
        let cname = cname_record(&name, "gone.parking.test.");
        vec![
            response(request, ResponseCode::NXDomain, vec![cname])
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let resolution = resolver.resolve("examp1e.test").await;
    assert!(
        matches!(resolution, Resolution::Registered(_)),
        "{resolution:?}"
    );
    task.abort();
}

#[tokio::test]
async fn nxdomain_with_unrelated_answer_is_not_registered() {
    // Answer records that do not start at the asked name say nothing about it.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let other = Name::from_ascii("other.test.").unwrap();
        let record = a_record(&other, [192, 0, 2, 1]);
        vec![
            response(request, ResponseCode::NXDomain, vec![record])
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    assert_eq!(
        resolver.resolve("examp1e.test").await,
        Resolution::NotRegistered
    );
    task.abort();
}

#[tokio::test]
async fn nxdomain_with_address_is_not_registered() {
    // An address record contradicts NXDOMAIN: the response code wins.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let name = question(request).name().clone();
        let record = a_record(&name, [192, 0, 2, 1]);
        vec![
            response(request, ResponseCode::NXDomain, vec![record])
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    assert_eq!(
        resolver.resolve("examp1e.test").await,
        Resolution::NotRegistered
    );
    task.abort();
}

#[tokio::test]
async fn servfail_storm_is_never_registered() {
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        vec![
            response(request, ResponseCode::ServFail, Vec::new())
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let names: Vec<String> = (0..300).map(|i| format!("n{i}.examp1e.test")).collect();
    let report = resolver.sweep(names, |_| {}).await;
    assert_eq!(report.entries.len(), 300);
    for entry in &report.entries {
        assert!(
            matches!(entry.resolution, Resolution::Unknown(_)),
            "{entry:?}"
        );
        assert!(!entry.is_registration(), "{entry:?}");
    }
    task.abort();
}

#[tokio::test]
async fn wrong_ids_time_out_as_unknown() {
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let name = question(request).name().clone();
        let mut message = response(
            request,
            ResponseCode::NoError,
            vec![a_record(&name, [192, 0, 2, 1])],
        );
        message.metadata.id = request.metadata.id.wrapping_add(1);
        vec![message.to_vec().unwrap()]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let started = Instant::now();
    let resolution = resolver.resolve("examp1e.test").await;
    assert!(
        matches!(resolution, Resolution::Unknown(_)),
        "{resolution:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    task.abort();
}

#[tokio::test]
async fn answer_without_question_is_dropped() {
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let name = question(request).name().clone();
        let mut message = Message::response(request.metadata.id, OpCode::Query);
        message.add_answer(a_record(&name, [192, 0, 2, 1]));
        vec![message.to_vec().unwrap()]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let resolution = resolver.resolve("examp1e.test").await;
    assert!(
        matches!(resolution, Resolution::Unknown(_)),
        "{resolution:?}"
    );
    task.abort();
}

#[tokio::test]
async fn truncated_answer_without_tcp_is_unknown() {
    // The responder sets TC but nothing listens on TCP: the name stays unknown.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let mut message = response(request, ResponseCode::NoError, Vec::new());
        message.metadata.truncation = true;
        vec![message.to_vec().unwrap()]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let resolution = resolver.resolve("examp1e.test").await;
    assert!(
        matches!(resolution, Resolution::Unknown(_)),
        "{resolution:?}"
    );
    task.abort();
}

#[tokio::test]
async fn huge_answer_is_read_whole() {
    // About 250 A records: an answer far over the advertised EDNS size, sent anyway.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let query = question(request);
        let name = query.name().clone();
        let answers = if query.query_type() == RecordType::A {
            (0..250u8)
                .map(|i| a_record(&name, [198, 51, 100, i]))
                .collect()
        } else {
            Vec::new()
        };
        vec![
            response(request, ResponseCode::NoError, answers)
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    match resolver.resolve("examp1e.test").await {
        Resolution::Registered(records) => assert_eq!(records.a.len(), 250),
        other => panic!("expected registered, got {other:?}"),
    }
    task.abort();
}

#[tokio::test]
async fn cname_loop_is_registered_without_addresses() {
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let name = question(request).name().clone();
        let target = name.to_ascii();
        vec![
            response(
                request,
                ResponseCode::NoError,
                vec![cname_record(&name, &target)],
            )
            .to_vec()
            .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    match resolver.resolve("examp1e.test").await {
        Resolution::Registered(records) => assert!(records.a.is_empty(), "{records:?}"),
        other => panic!("expected registered, got {other:?}"),
    }
    task.abort();
}

#[tokio::test]
async fn lying_resolver_raises_no_registration() {
    // A resolver that rewrites NXDOMAIN into an address (as some ISP resolvers and a few
    // wildcard TLDs do) makes every candidate resolve: none of them is a registration.
    let (address, task) = hostile_server(Arc::new(|request: &Message| {
        let query = question(request);
        let answers = if query.query_type() == RecordType::A {
            vec![a_record(query.name(), [192, 0, 2, 99])]
        } else {
            Vec::new()
        };
        vec![
            response(request, ResponseCode::NoError, answers)
                .to_vec()
                .unwrap(),
        ]
    }))
    .await;
    let resolver = Resolver::new(&config(address)).unwrap();

    let names = [
        "examp1e.com",
        "exarnple.net",
        "www.examp1e.com",
        "examp1e.co.uk",
    ];
    let report = resolver.sweep(names, |_| {}).await;

    assert_eq!(report.entries.len(), names.len());
    for entry in &report.entries {
        assert!(!entry.is_registration(), "{entry:?}");
    }
    task.abort();
}
