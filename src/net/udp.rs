//! Plain DNS queries over a few shared UDP sockets, for sweeps of thousands of names.
//!
//! hickory-resolver opens a new UDP socket for every query and runs each through its
//! name-server pool. That costs more CPU per query than the authoritative server spends
//! answering it, so a sweep on the same machine reached about a sixth of the server's
//! capacity. This transport keeps a few sockets open, matches answers to queries by
//! message ID, question and source address, and leaves truncated answers to hickory
//! (which retries them over TCP). Message encoding and decoding are hickory-proto's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::{OnceCell, oneshot};
use tokio::task::JoinHandle;

/// Sockets opened per transport. Several sockets spread the kernel's per-socket work and
/// make an off-path forger guess among several source ports.
const SOCKETS: usize = 4;

/// EDNS payload size advertised, in bytes: the size that avoids IP fragmentation on
/// common paths (the value DNS Flag Day 2020 chose).
const EDNS_PAYLOAD: u16 = 1232;

/// Queries waiting for their answer on one socket, by message ID.
type Pending = Mutex<HashMap<u16, (Query, oneshot::Sender<Message>)>>;

struct Channel {
    ipv4: bool,
    socket: Arc<UdpSocket>,
    pending: Arc<Pending>,
    receiver: JoinHandle<()>,
}

/// Failure of a UDP exchange that gave no usable answer.
pub(crate) enum UdpFailure {
    /// No answer within the timeout, on every attempt.
    TimedOut,
    /// The socket failed, with the error text.
    Io(String),
}

/// Shared sockets sending queries to `servers`, opened on first use.
///
/// NOTE: the sockets keep their source ports for the transport's life, so an off-path
/// forger has to guess the 16-bit message ID and one of four ports, not a fresh port per
/// query as with hickory-resolver. Answers must also come from a configured server and
/// repeat the question.
pub(crate) struct UdpTransport {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    channels: OnceCell<Vec<Channel>>,
    next: AtomicUsize,
}

impl UdpTransport {
    pub(crate) fn new(servers: Vec<SocketAddr>, timeout: Duration, attempts: u32) -> UdpTransport {
        UdpTransport {
            servers,
            timeout,
            attempts: attempts.max(1),
            channels: OnceCell::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// Sends one query and returns the answer, trying the next server on each new attempt.
    pub(crate) async fn query(
        &self,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, UdpFailure> {
        let channels = self
            .channels
            .get_or_try_init(|| open_channels(&self.servers))
            .await?;
        let query = Query::query(name.clone(), record_type);

        for attempt in 0..self.attempts as usize {
            // NOTE: every query starts with the first server, so a dead first server costs
            // each query one timeout (hickory-resolver's pool would learn to skip it).
            let server = self.servers[attempt % self.servers.len()];
            // Channels come in runs of SOCKETS of one family (see open_channels).
            let start = channels
                .iter()
                .position(|channel| channel.ipv4 == server.is_ipv4())
                .unwrap_or(0);
            let turn = self.next.fetch_add(1, Ordering::Relaxed);
            let channel = &channels[start + turn % SOCKETS];

            let (id, answer) = register(&channel.pending, &query);
            let request = request_bytes(id, &query).map_err(UdpFailure::Io)?;
            if let Err(error) = channel.socket.send_to(&request, server).await {
                channel
                    .pending
                    .lock()
                    .expect("pending map lock")
                    .remove(&id);
                return Err(UdpFailure::Io(format!("cannot send to {server}: {error}")));
            }
            match tokio::time::timeout(self.timeout, answer).await {
                Ok(Ok(message)) => return Ok(message),
                _ => {
                    channel
                        .pending
                        .lock()
                        .expect("pending map lock")
                        .remove(&id);
                }
            }
        }
        Err(UdpFailure::TimedOut)
    }
}

impl Drop for UdpTransport {
    fn drop(&mut self) {
        if let Some(channels) = self.channels.get() {
            for channel in channels {
                channel.receiver.abort();
            }
        }
    }
}

/// Picks a random message ID free on this socket and records the query under it.
fn register(pending: &Pending, query: &Query) -> (u16, oneshot::Receiver<Message>) {
    let (sender, receiver) = oneshot::channel();
    let mut pending = pending.lock().expect("pending map lock");
    loop {
        let id: u16 = rand::random();
        if let std::collections::hash_map::Entry::Vacant(slot) = pending.entry(id) {
            slot.insert((query.clone(), sender));
            return (id, receiver);
        }
    }
}

fn request_bytes(id: u16, query: &Query) -> Result<Vec<u8>, String> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
        .to_vec()
        .map_err(|error| format!("cannot encode the query for {}: {error}", query.name()))
}

/// Opens [`SOCKETS`] sockets for each address family of `servers`.
async fn open_channels(servers: &[SocketAddr]) -> Result<Vec<Channel>, UdpFailure> {
    let servers: Arc<[SocketAddr]> = servers.into();
    let mut locals: Vec<SocketAddr> = Vec::new();
    if servers.iter().any(SocketAddr::is_ipv4) {
        locals.push(([0, 0, 0, 0], 0).into());
    }
    if servers.iter().any(SocketAddr::is_ipv6) {
        locals.push(([0u16; 8], 0).into());
    }

    let mut channels = Vec::with_capacity(SOCKETS * locals.len());
    for local in locals.iter().flat_map(|local| [*local; SOCKETS]) {
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|error| UdpFailure::Io(format!("cannot open a UDP socket: {error}")))?;
        let socket = Arc::new(socket);
        let pending: Arc<Pending> = Arc::default();
        let receiver = tokio::spawn(receive(socket.clone(), pending.clone(), servers.clone()));
        channels.push(Channel {
            ipv4: local.is_ipv4(),
            socket,
            pending,
            receiver,
        });
    }
    Ok(channels)
}

/// Delivers each answer to the query waiting for it. Datagrams from another address, that
/// do not decode, or whose question differs from the query are dropped, as a forged or
/// late answer would be.
async fn receive(socket: Arc<UdpSocket>, pending: Arc<Pending>, servers: Arc<[SocketAddr]>) {
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (length, source) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP errors (port unreachable) can surface here; the waiting query then
                // times out and is retried. The pause keeps a lasting error from spinning.
                tracing::debug!(%error, "UDP receive failed.");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !servers.contains(&source) {
            continue;
        }
        let Ok(message) = Message::from_vec(&buffer[..length]) else {
            continue;
        };
        if message.metadata.message_type != MessageType::Response {
            continue;
        }

        let mut pending = pending.lock().expect("pending map lock");
        let id = message.metadata.id;
        let matches = pending.get(&id).is_some_and(|(query, _)| {
            message
                .queries
                .first()
                .is_some_and(|asked| same_question(asked, query))
        });
        if matches && let Some((_, sender)) = pending.remove(&id) {
            let _ = sender.send(message);
        }
    }
}

/// Compares questions; name comparison ignores case because servers may echo another case.
fn same_question(answered: &Query, asked: &Query) -> bool {
    answered.query_type() == asked.query_type()
        && answered.query_class() == asked.query_class()
        && answered.name() == asked.name()
}
