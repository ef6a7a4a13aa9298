//! Batched UDP sends and receives through Linux's `sendmmsg` and `recvmmsg`, so that one
//! system call moves many DNS datagrams.
//!
//! The calls go through tokio's `try_io`, which clears the socket's readiness when the
//! kernel reports `EWOULDBLOCK`, so the caller can wait on `poll_recv_ready` and
//! `poll_send_ready` as with tokio's own methods.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams moved by one system call at most.
pub(crate) const BATCH: usize = 32;

/// Bytes of each receive buffer: any UDP datagram fits, so no answer is cut short. Only the
/// bytes of each datagram received are touched, so the pages behind the rest stay unmapped.
const DATAGRAM_MAX: usize = 65_535;

/// A socket address in the form the kernel takes.
#[derive(Clone, Copy)]
pub(crate) struct RawAddress {
    storage: libc::sockaddr_storage,
    length: libc::socklen_t,
}

impl RawAddress {
    pub(crate) fn new(address: SocketAddr) -> RawAddress {
        // SAFETY: sockaddr_storage is plain data, valid when zeroed.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let length = match address {
            SocketAddr::V4(address) => {
                let raw = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: address.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(address.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
                unsafe { std::ptr::write((&raw mut storage).cast(), raw) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(address) => {
                let raw = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: address.port().to_be(),
                    sin6_flowinfo: address.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: address.ip().octets(),
                    },
                    sin6_scope_id: address.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
                unsafe { std::ptr::write((&raw mut storage).cast(), raw) };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddress {
            storage,
            length: length as libc::socklen_t,
        }
    }

    /// The address, or `None` for a family other than IPv4 and IPv6.
    fn to_socket_address(self) -> Option<SocketAddr> {
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in for this family.
                let raw: libc::sockaddr_in =
                    unsafe { std::ptr::read((&raw const self.storage).cast()) };
                let ip = Ipv4Addr::from(raw.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddrV4::new(ip, u16::from_be(raw.sin_port)).into())
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 for this family.
                let raw: libc::sockaddr_in6 =
                    unsafe { std::ptr::read((&raw const self.storage).cast()) };
                let ip = Ipv6Addr::from(raw.sin6_addr.s6_addr);
                let port = u16::from_be(raw.sin6_port);
                Some(SocketAddrV6::new(ip, port, raw.sin6_flowinfo, raw.sin6_scope_id).into())
            }
            _ => None,
        }
    }
}

/// Sends the first [`BATCH`] of `datagrams` (bytes and destination) in one `sendmmsg` call
/// and returns how many the kernel took. An error means that the first datagram was not
/// sent.
pub(crate) fn send_batch<'a>(
    socket: &UdpSocket,
    datagrams: impl Iterator<Item = (&'a [u8], &'a RawAddress)>,
) -> io::Result<usize> {
    let mut count = 0;
    let mut iovecs: [libc::iovec; BATCH] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; BATCH];
    // SAFETY: mmsghdr is plain data, valid when zeroed.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
    for (index, (bytes, address)) in datagrams.take(BATCH).enumerate() {
        count += 1;
        iovecs[index] = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let header = &mut headers[index].msg_hdr;
        header.msg_name = (&raw const address.storage) as *mut libc::c_void;
        header.msg_namelen = address.length;
        header.msg_iov = &raw mut iovecs[index];
        header.msg_iovlen = 1;
    }

    let descriptor = socket.as_raw_fd();
    socket.try_io(Interest::WRITABLE, || {
        // SAFETY: every header points to a live iovec, buffer and address for `count`
        // entries, and the kernel only reads them.
        let sent = unsafe {
            libc::sendmmsg(
                descriptor,
                headers.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    })
}

/// Buffers for receiving up to [`BATCH`] datagrams in one `recvmmsg` call.
pub(crate) struct Receiver {
    buffers: Vec<u8>,
    lengths: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
}

impl Receiver {
    pub(crate) fn new() -> Receiver {
        Receiver {
            buffers: vec![0; BATCH * DATAGRAM_MAX],
            lengths: [0; BATCH],
            sources: [None; BATCH],
        }
    }

    /// Receives the datagrams waiting on `socket`, up to [`BATCH`], and returns how many.
    /// A datagram cut short or from an unknown address family is kept with no source, so
    /// that callers drop it.
    pub(crate) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let mut iovecs: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: plain data, valid when zeroed.
        let mut addresses: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: plain data, valid when zeroed.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for (index, chunk) in self.buffers.chunks_exact_mut(DATAGRAM_MAX).enumerate() {
            iovecs[index] = libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            };
            let header = &mut headers[index].msg_hdr;
            header.msg_name = (&raw mut addresses[index]).cast();
            header.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = &raw mut iovecs[index];
            header.msg_iovlen = 1;
        }

        let descriptor = socket.as_raw_fd();
        let count = socket.try_io(Interest::READABLE, || {
            // SAFETY: every header points to a live buffer of DATAGRAM_MAX bytes and a
            // sockaddr_storage, both owned by this frame or self for the whole call.
            let received = unsafe {
                libc::recvmmsg(
                    descriptor,
                    headers.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if received < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(received as usize)
            }
        })?;

        for index in 0..count {
            let header = &headers[index];
            self.lengths[index] = header.msg_len as usize;
            let cut_short = header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            let address = RawAddress {
                storage: addresses[index],
                length: header.msg_hdr.msg_namelen,
            };
            self.sources[index] = if cut_short {
                None
            } else {
                address.to_socket_address()
            };
        }
        Ok(count)
    }

    /// The bytes and source address of datagram `index` of the last call.
    pub(crate) fn datagram(&self, index: usize) -> (&[u8], Option<SocketAddr>) {
        let start = index * DATAGRAM_MAX;
        let bytes = &self.buffers[start..start + self.lengths[index]];
        (bytes, self.sources[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batch_round_trip_keeps_bytes_and_sources() {
        let receiver_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let destination = RawAddress::new(receiver_socket.local_addr().unwrap());
        let payloads: Vec<Vec<u8>> = (0..5u8)
            .map(|index| vec![index; 10 + index as usize])
            .collect();
        let datagrams = payloads
            .iter()
            .map(|payload| (payload.as_slice(), &destination));

        sender.writable().await.unwrap();
        assert_eq!(send_batch(&sender, datagrams).unwrap(), 5);

        let mut receiver = Receiver::new();
        let mut seen = Vec::new();
        while seen.len() < 5 {
            receiver_socket.readable().await.unwrap();
            let count = match receiver.receive(&receiver_socket) {
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => panic!("recvmmsg failed: {error}"),
            };
            for index in 0..count {
                let (bytes, source) = receiver.datagram(index);
                assert_eq!(source, Some(sender.local_addr().unwrap()));
                seen.push(bytes.to_vec());
            }
        }
        assert_eq!(seen, payloads);
    }

    #[test]
    fn raw_address_round_trip() {
        for text in ["127.0.0.1:5353", "[::1]:53", "[2001:db8::1]:65535"] {
            let address: SocketAddr = text.parse().unwrap();
            assert_eq!(RawAddress::new(address).to_socket_address(), Some(address));
        }
    }
}
