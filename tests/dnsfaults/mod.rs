//! DNS servers that misbehave on purpose, each a real UDP socket (and a TCP
//! listener on the same port) on a loopback address: REFUSED, SERVFAIL, an
//! RCODE nobody defined, silence, replies too short to be DNS, truncated
//! replies, lame answers, and a healthy server with a small zone of test
//! names (under `t.test`) that the faulty ones fall back on.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// What a server does with every query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answers from the test zone.
    Healthy,
    /// Answers this RCODE, no records.
    Rcode(u8),
    /// Never answers.
    Silent,
    /// Silent to the first `n` queries, healthy after.
    SilentFirst(usize),
    /// Five bytes: shorter than a DNS header.
    Undersized,
    /// A header with the right id and no question.
    HeaderOnly,
    /// The TC bit over UDP; the full answer over TCP.
    Truncated,
    /// The TC bit over UDP, and no TCP listener.
    TruncatedNoTcp,
    /// NOERROR, no records, neither authoritative nor recursive: "lame".
    Lame,
}

/// The test zone: what the healthy server knows.
pub fn zone(name: &str, rtype: RecordType) -> Option<Vec<Record>> {
    let n = |s: &str| Name::from_ascii(s).unwrap();
    let a = |owner: &str, ip: [u8; 4]| Record::from_rdata(n(owner), 60, RData::A(A(Ipv4Addr::from(ip))));
    let aaaa = |owner: &str, ip: Ipv6Addr| Record::from_rdata(n(owner), 60, RData::AAAA(AAAA(ip)));
    let cname = |owner: &str, to: &str| Record::from_rdata(n(owner), 60, RData::CNAME(CNAME(n(to))));
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let v6 = |last: u16| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last);
    let records = match name.as_str() {
        "ok.t.test" => vec![a("ok.t.test.", [10, 1, 0, 5])],
        "v6only.t.test" => vec![aaaa("v6only.t.test.", v6(5))],
        "both.t.test" => vec![a("both.t.test.", [10, 1, 0, 6]), aaaa("both.t.test.", v6(6))],
        // A CNAME whose target the server leaves out, as a server that does not follow it does.
        "stub.t.test" => vec![cname("stub.t.test.", "ok.t.test.")],
        "mixed.t.test" => vec![a("mixed.t.test.", [10, 1, 0, 7]), a("mixed.t.test.", [203, 0, 113, 7])],
        "long.t.test" => {
            // Fourteen links in one answer, as a recursive server returns them.
            let mut v: Vec<Record> = (0..14)
                .map(|i| {
                    let from = if i == 0 { "long.t.test.".to_string() } else { format!("l{i}.t.test.") };
                    cname(&from, &format!("l{}.t.test.", i + 1))
                })
                .collect();
            v.push(a("l14.t.test.", [10, 1, 0, 8]));
            v
        }
        _ => return None,
    };
    Some(records.into_iter().filter(|r| r.record_type() == rtype || r.record_type() == RecordType::CNAME).collect())
}

/// A running server; it stops when dropped (its threads end at the next query).
pub struct FaultyServer {
    pub addr: SocketAddr,
    pub queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts a server with `fault` on `addr` (port 0 picks one free for UDP and TCP).
pub fn start(addr: SocketAddr, fault: Fault) -> FaultyServer {
    let (udp, tcp) = bind_both(addr);
    let addr = udp.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    udp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    {
        let (queries, stop) = (queries.clone(), stop.clone());
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                let Ok((len, from)) = udp.recv_from(&mut buf) else { continue };
                let seen = queries.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = udp_reply(&buf[..len], fault, seen) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
    }
    if fault != Fault::TruncatedNoTcp {
        tcp.set_nonblocking(false).unwrap();
        let stop = stop.clone();
        thread::spawn(move || {
            for stream in tcp.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = stream else { continue };
                // A client may send several queries on one connection (glibc sends A and AAAA).
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                loop {
                    let mut len = [0u8; 2];
                    if s.read_exact(&mut len).is_err() {
                        break;
                    }
                    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                    if s.read_exact(&mut q).is_err() {
                        break;
                    }
                    let Some(reply) = answer(&q, Fault::Healthy) else { break };
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend(reply);
                    if s.write_all(&framed).is_err() {
                        break;
                    }
                }
            }
        });
    } else {
        drop(tcp);
    }
    FaultyServer { addr, queries, stop }
}

fn bind_both(addr: SocketAddr) -> (UdpSocket, TcpListener) {
    if addr.port() != 0 {
        return (UdpSocket::bind(addr).unwrap(), TcpListener::bind(addr).unwrap());
    }
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on {}", addr.ip());
}

fn udp_reply(query: &[u8], fault: Fault, seen: usize) -> Option<Vec<u8>> {
    match fault {
        Fault::Silent => None,
        Fault::SilentFirst(n) if seen < n => None,
        Fault::SilentFirst(_) => answer(query, Fault::Healthy),
        Fault::Undersized => Some(vec![query[0], query[1], 0x81, 0x80, 0]),
        Fault::HeaderOnly => Some(vec![query[0], query[1], 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]),
        Fault::Truncated | Fault::TruncatedNoTcp => {
            let mut r = answer(query, Fault::Rcode(0))?;
            r[2] |= 0x02;
            Some(r)
        }
        other => answer(query, other),
    }
}

/// The reply to `query` for a fault that answers in DNS.
fn answer(query: &[u8], fault: Fault) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = fault != Fault::Lame;
    r.add_query(question.clone());
    match fault {
        Fault::Rcode(code) => r.metadata.response_code = ResponseCode::from_low(code),
        Fault::Lame => {}
        _ => match zone(&question.name().to_ascii(), question.query_type()) {
            Some(records) => {
                r.add_answers(records);
            }
            None => r.metadata.response_code = ResponseCode::NXDomain,
        },
    }
    r.to_vec().ok()
}

/// An address for a test's server: loopback, port 0 (any) or 53 in a namespace.
pub fn loopback(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port)
}
