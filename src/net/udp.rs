//! Plain DNS queries over a few UDP sockets driven by one task, for sweeps of thousands of
//! names.
//!
//! hickory-resolver opens a new UDP socket for every query and runs each through its
//! name-server pool. That costs more CPU per query than the authoritative server spends
//! answering it. A [`UdpBatch`] instead keeps a few sockets open for the length of one batch,
//! and the task that submits the queries also sends them, reads the answers and expires the
//! timeouts. No query has a task, channel or timer of its own, so an answer costs no wake-up
//! of another thread. Answers are matched to queries by socket, message ID, source address and
//! question. A truncated answer is handed back as such, and the caller asks again over TCP.
//!
//! Queries are written by hand (one question and an EDNS OPT record). Answers are read from
//! their header first, and only a NOERROR answer is decoded by hickory-proto: for the
//! NXDOMAIN answers that make up most of a sweep, the header and the question are enough.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;
use tokio::time::{Instant, Sleep};

use super::mmsg::{self, RawAddress, Receiver};

/// Sockets opened per address family of the servers. Several sockets spread the kernel's
/// per-socket work and make an off-path forger guess among several source ports.
const SOCKETS: usize = 4;

/// EDNS payload size advertised, in bytes: the size that avoids IP fragmentation on
/// common paths (the value DNS Flag Day 2020 chose).
const EDNS_PAYLOAD: u16 = 1232;

/// Bytes of the header of a DNS message.
const HEADER_LEN: usize = 12;

/// The OPT pseudo-record appended to each query: root name, type OPT (41), the payload size
/// in the class field, extended code and flags zero, no options.
const OPT_RECORD: [u8; 11] = [
    0,
    0,
    41,
    (EDNS_PAYLOAD >> 8) as u8,
    EDNS_PAYLOAD as u8,
    0,
    0,
    0,
    0,
    0,
    0,
];

/// Datagrams read from one socket before the others get their turn.
const READ_BUDGET: usize = 64;

/// Failure of a UDP exchange that gave no usable answer.
#[derive(Debug)]
pub(crate) enum UdpFailure {
    /// No answer within the timeout, on every attempt.
    TimedOut,
    /// The socket failed, with the error text.
    Io(String),
}

/// An answer that matched its query.
#[derive(Debug)]
pub(crate) enum UdpAnswer {
    /// The TC bit is set: the caller has to ask again over TCP.
    Truncated,
    /// A NOERROR answer (4-bit response code 0), or an NXDOMAIN that carries answer records,
    /// decoded. Its extended response code from EDNS may still make it an error.
    Message(Box<Message>),
    /// Any other response code, NXDOMAIN without answers included. The rest of the message
    /// is not decoded.
    Code(ResponseCode),
}

/// The outcome of one query submitted to a [`UdpBatch`], with the caller's tag.
pub(crate) type Completion = (u32, Result<UdpAnswer, UdpFailure>);

/// One open socket and the queries waiting for their answer on it.
struct Endpoint {
    socket: UdpSocket,
    ipv4: bool,
    /// Slot index + 1 of the query waiting under each message ID, 0 when the ID is free.
    ids: Box<[u32]>,
    /// Slots to send, with the generation they were queued under.
    outgoing: VecDeque<(u32, u32)>,
}

/// A query in flight or waiting to be sent.
#[derive(Default)]
struct Slot {
    tag: u32,
    /// The query as sent; bytes 0 and 1 take the message ID of each attempt.
    request: Vec<u8>,
    /// Length of the question section (name, type, class) after the header.
    question_len: usize,
    attempt: u32,
    endpoint: usize,
    server: usize,
    id: u16,
    /// Bumped at each send and at completion, so that old deadlines and queue entries of
    /// this slot are told apart from the current ones.
    generation: u32,
    live: bool,
}

/// A batch of UDP queries sent to `servers` over sockets opened for this batch alone.
///
/// [`UdpBatch::submit`] queues a query, [`UdpBatch::next`] sends what is queued and returns
/// the next completed query. Each attempt waits `timeout` for its answer, and the next
/// attempt goes to the next server with a fresh random message ID.
///
/// NOTE: the sockets keep their source ports for the batch's life, so an off-path forger
/// has to guess the 16-bit message ID and one of a few ports, not a fresh port per query as
/// with hickory-resolver. Answers must also come from the server asked and repeat the
/// question.
pub(crate) struct UdpBatch {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    endpoints: Vec<Endpoint>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// (deadline, slot, generation) in sending order, so deadlines only grow.
    deadlines: VecDeque<(Instant, u32, u32)>,
    timer: Pin<Box<Sleep>>,
    done: VecDeque<Completion>,
    /// Receive buffers, allocated at the first read.
    receiver: Option<Receiver>,
    /// `servers` in the form the kernel takes.
    raw_servers: Vec<RawAddress>,
    turn: usize,
}

impl UdpBatch {
    /// Opens [`SOCKETS`] sockets for each address family of `servers`, or one per name when
    /// at most `names_in_flight` names (fewer than [`SOCKETS`]) will be in flight at once.
    pub(crate) async fn open(
        servers: &[SocketAddr],
        timeout: Duration,
        attempts: u32,
        names_in_flight: usize,
    ) -> Result<UdpBatch, UdpFailure> {
        let count = names_in_flight.clamp(1, SOCKETS);
        let mut endpoints = Vec::new();
        for ipv4 in [true, false] {
            if !servers.iter().any(|server| server.is_ipv4() == ipv4) {
                continue;
            }
            let local: SocketAddr = if ipv4 {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            for _ in 0..count {
                let socket = UdpSocket::bind(local).await.map_err(|error| {
                    UdpFailure::Io(format!("cannot open a UDP socket on {local}: {error}"))
                })?;
                endpoints.push(Endpoint {
                    socket,
                    ipv4,
                    ids: vec![0; 1 << 16].into_boxed_slice(),
                    outgoing: VecDeque::new(),
                });
            }
        }

        Ok(UdpBatch {
            servers: servers.to_vec(),
            timeout,
            attempts: attempts.max(1),
            endpoints,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            deadlines: VecDeque::new(),
            timer: Box::pin(tokio::time::sleep(timeout)),
            done: VecDeque::new(),
            receiver: None,
            raw_servers: servers.iter().copied().map(RawAddress::new).collect(),
            turn: 0,
        })
    }

    /// Queues a query for `name` (in wire form, see [`wire_name`]) and `record_type`; its
    /// completion carries `tag`.
    pub(crate) fn submit(&mut self, tag: u32, name: &[u8], record_type: RecordType) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            (self.slots.len() - 1) as u32
        });
        let slot = &mut self.slots[index as usize];
        slot.tag = tag;
        slot.attempt = 0;
        slot.live = true;
        slot.question_len = write_request(&mut slot.request, name, record_type);
        self.live += 1;
        self.dispatch(index);
    }

    /// Sends the queued queries and returns the next completed one, or `None` when no query
    /// is left. Cancel-safe: dropping the future loses no query.
    pub(crate) async fn next(&mut self) -> Option<Completion> {
        loop {
            if let Some(completion) = self.done.pop_front() {
                return Some(completion);
            }
            if self.live == 0 {
                return None;
            }
            self.flush();
            self.receive();
            self.expire(Instant::now());
            if !self.done.is_empty() {
                continue;
            }
            std::future::poll_fn(|context| self.poll_ready(context)).await;
        }
    }

    /// Picks the server, socket and a free random message ID for the slot's next attempt,
    /// and queues it for sending.
    fn dispatch(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let server = slot.attempt as usize % self.servers.len();
        let ipv4 = self.servers[server].is_ipv4();
        // Endpoints come in runs of one family (see open).
        let start = self
            .endpoints
            .iter()
            .position(|endpoint| endpoint.ipv4 == ipv4)
            .unwrap_or(0);
        let run = self.endpoints[start..]
            .iter()
            .take_while(|endpoint| endpoint.ipv4 == ipv4)
            .count()
            .max(1);
        self.turn = self.turn.wrapping_add(1);
        let endpoint_index = start + self.turn % run;
        let endpoint = &mut self.endpoints[endpoint_index];

        let id = loop {
            let id: u16 = rand::random();
            if endpoint.ids[id as usize] == 0 {
                break id;
            }
        };
        endpoint.ids[id as usize] = index + 1;
        slot.request[..2].copy_from_slice(&id.to_be_bytes());
        slot.id = id;
        slot.server = server;
        slot.endpoint = endpoint_index;
        slot.generation = slot.generation.wrapping_add(1);
        endpoint.outgoing.push_back((index, slot.generation));
        self.deadlines
            .push_back((Instant::now() + self.timeout, index, slot.generation));
    }

    /// Sends queued queries until every socket's queue is empty or its send buffer is full.
    fn flush(&mut self) {
        for endpoint_index in 0..self.endpoints.len() {
            while self.flush_some(endpoint_index) {}
        }
    }

    /// Sends up to [`mmsg::BATCH`] queued queries of one socket in one call, and tells
    /// whether more may be sent now.
    fn flush_some(&mut self, endpoint_index: usize) -> bool {
        let endpoint = &mut self.endpoints[endpoint_index];
        // Queue entries of queries that completed or moved on are dropped here.
        while let Some(&(index, generation)) = endpoint.outgoing.front() {
            let slot = &self.slots[index as usize];
            if slot.live && slot.generation == generation {
                break;
            }
            endpoint.outgoing.pop_front();
        }
        if endpoint.outgoing.is_empty() {
            return false;
        }

        // A stale entry inside the run ends the batch; it is dropped at the next call.
        let datagrams = endpoint
            .outgoing
            .iter()
            .map(|&(index, generation)| (&self.slots[index as usize], generation))
            .take_while(|(slot, generation)| slot.live && slot.generation == *generation)
            .map(|(slot, _)| (slot.request.as_slice(), &self.raw_servers[slot.server]));

        match mmsg::send_batch(&endpoint.socket, datagrams) {
            Ok(sent) => {
                endpoint.outgoing.drain(..sent);
                true
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => false,
            Err(error) => {
                // The error belongs to the first datagram; the others are tried again.
                let (index, _) = endpoint
                    .outgoing
                    .pop_front()
                    .expect("a datagram was queued");
                let server = self.servers[self.slots[index as usize].server];
                let reason = format!("cannot send to {server}: {error}");
                self.complete(index, Err(UdpFailure::Io(reason)));
                true
            }
        }
    }

    /// Reads the datagrams waiting on every socket and completes the queries they answer.
    fn receive(&mut self) {
        // Taken out of self for the loop, because accept needs self mutable.
        let mut receiver = self.receiver.take().unwrap_or_else(Receiver::new);
        for endpoint_index in 0..self.endpoints.len() {
            for _ in 0..READ_BUDGET / mmsg::BATCH {
                match receiver.receive(&self.endpoints[endpoint_index].socket) {
                    Ok(count) => {
                        for datagram in 0..count {
                            let (bytes, source) = receiver.datagram(datagram);
                            if let Some(source) = source {
                                self.accept(endpoint_index, bytes, source);
                            }
                        }
                        if count < mmsg::BATCH {
                            break;
                        }
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(error) => {
                        // ICMP errors (port unreachable) can surface here, once each; the
                        // query they concern times out and is retried.
                        tracing::debug!(%error, "UDP receive failed.");
                    }
                }
            }
        }
        self.receiver = Some(receiver);
    }

    /// Completes the query that the datagram in the buffer answers. Datagrams from another
    /// address than the server asked, with an unknown ID, another question, or a NOERROR
    /// body that does not decode are dropped, as a forged or late answer would be.
    fn accept(&mut self, endpoint_index: usize, datagram: &[u8], source: SocketAddr) {
        if datagram.len() < HEADER_LEN || datagram[2] & 0x80 == 0 {
            return;
        }
        let id = u16::from_be_bytes([datagram[0], datagram[1]]);
        let index = match self.endpoints[endpoint_index].ids[id as usize] {
            0 => return,
            slot_plus_one => slot_plus_one - 1,
        };
        let slot = &self.slots[index as usize];
        if self.servers[slot.server] != source
            || !same_question(&slot.request, slot.question_len, datagram)
        {
            return;
        }

        let truncated = datagram[2] & 0x02 != 0;
        let code = datagram[3] & 0x0f;
        let answer = if truncated {
            UdpAnswer::Truncated
        } else if code == 0 || (code == 3 && answer_count(datagram) > 0) {
            // NOERROR is decoded for its records; an NXDOMAIN with answers is decoded too,
            // because a CNAME at the asked name means that name exists.
            match Message::from_vec(datagram) {
                Ok(message) => UdpAnswer::Message(Box::new(message)),
                Err(error) => {
                    tracing::debug!(%error, %source, "Undecodable DNS answer dropped.");
                    return;
                }
            }
        } else {
            UdpAnswer::Code(ResponseCode::from_low(code))
        };
        self.complete(index, Ok(answer));
    }

    /// Retries or fails the queries whose deadline passed before `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, index, generation)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let slot = &mut self.slots[index as usize];
            if !slot.live || slot.generation != generation {
                continue;
            }
            self.endpoints[slot.endpoint].ids[slot.id as usize] = 0;
            slot.attempt += 1;
            if slot.attempt < self.attempts {
                self.dispatch(index);
            } else {
                self.complete(index, Err(UdpFailure::TimedOut));
            }
        }
    }

    /// Frees the slot and queues its outcome.
    fn complete(&mut self, index: u32, outcome: Result<UdpAnswer, UdpFailure>) {
        let slot = &mut self.slots[index as usize];
        self.endpoints[slot.endpoint].ids[slot.id as usize] = 0;
        slot.live = false;
        slot.generation = slot.generation.wrapping_add(1);
        self.live -= 1;
        self.free.push(index);
        self.done.push_back((slot.tag, outcome));
    }

    /// Waits until a socket can be read, a full socket can be written, or the first
    /// deadline passes.
    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<()> {
        let mut ready = false;
        for endpoint in &self.endpoints {
            ready |= endpoint.socket.poll_recv_ready(context).is_ready();
            if !endpoint.outgoing.is_empty() {
                ready |= endpoint.socket.poll_send_ready(context).is_ready();
            }
        }
        if let Some(&(deadline, _, _)) = self.deadlines.front() {
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            ready |= self.timer.as_mut().poll(context).is_ready();
        }
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Encodes `name` in wire form: each label after its length byte, then the root's zero byte.
pub(crate) fn wire_name(name: &Name) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        // Name guarantees labels of at most 63 bytes.
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    wire
}

/// Writes a query for `name` (in wire form) and `record_type` into `request` (message ID
/// zero, recursion desired, one question, an OPT record) and returns the length of its
/// question section.
fn write_request(request: &mut Vec<u8>, name: &[u8], record_type: RecordType) -> usize {
    request.clear();
    // ID 0, flags RD, QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1.
    request.extend_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    request.extend_from_slice(name);
    request.extend_from_slice(&u16::from(record_type).to_be_bytes());
    // Class IN.
    request.extend_from_slice(&[0, 1]);
    let question_len = request.len() - HEADER_LEN;
    request.extend_from_slice(&OPT_RECORD);
    question_len
}

/// Tells whether `answer` has at least one question and its first question is the one in
/// `request`. Names compare without ASCII case, because servers may echo another case.
/// Length bytes of labels (at most 63) never fall in the A to Z range, so comparing the
/// whole wire name without case compares the labels without case and their lengths exactly.
fn same_question(request: &[u8], question_len: usize, answer: &[u8]) -> bool {
    let question_count = u16::from_be_bytes([answer[4], answer[5]]);
    let end = HEADER_LEN + question_len;
    if question_count == 0 || answer.len() < end {
        return false;
    }
    let name_end = end - 4;
    request[HEADER_LEN..name_end].eq_ignore_ascii_case(&answer[HEADER_LEN..name_end])
        && request[name_end..end] == answer[name_end..end]
}

/// Reads ANCOUNT, the number of answer records, from a DNS header.
fn answer_count(datagram: &[u8]) -> u16 {
    match datagram.get(6..8) {
        Some(bytes) => u16::from_be_bytes([bytes[0], bytes[1]]),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Edns, MessageType, OpCode, Query};

    #[test]
    fn request_matches_hickory_encoding() {
        let name = Name::from_utf8("Examp1e.Test.").unwrap();
        let mut request = Vec::new();
        let question_len = write_request(&mut request, &wire_name(&name), RecordType::MX);
        request[..2].copy_from_slice(&0x1234u16.to_be_bytes());

        let mut message = Message::new(0x1234, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name, RecordType::MX));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        message.set_edns(edns);

        assert_eq!(request, message.to_vec().unwrap());
        assert_eq!(question_len, "examp1e.test".len() + 2 + 4);
    }

    #[test]
    fn question_compares_name_without_case() {
        let mut request = Vec::new();
        let name = Name::from_ascii("examp1e.test.").unwrap();
        let question_len = write_request(&mut request, &wire_name(&name), RecordType::A);
        let mut answer = request.clone();
        answer[2] |= 0x80;
        answer[HEADER_LEN + 1] = b'E';
        assert!(same_question(&request, question_len, &answer));

        let mut other_type = answer.clone();
        other_type[HEADER_LEN + question_len - 3] = 28;
        assert!(!same_question(&request, question_len, &other_type));

        let mut other_name = answer.clone();
        other_name[HEADER_LEN + 2] = b'y';
        assert!(!same_question(&request, question_len, &other_name));

        let mut no_question = answer.clone();
        no_question[5] = 0;
        assert!(!same_question(&request, question_len, &no_question));

        assert!(!same_question(
            &request,
            question_len,
            &answer[..HEADER_LEN + 3]
        ));
    }
}
