//! Name resolution as the system's stub resolver does it: A and AAAA
//! queries over UDP (TCP when the answer is truncated), servers asked in
//! the order and with the failover of glibc's `res_send` (the next server
//! on SERVFAIL, NOTIMP, REFUSED, silence or an unreadable reply; `attempts`
//! rounds; `rotate`), so the report says which server's answer the
//! machine's clients get and what the others did.
//!
//! The messages are built and read with hickory-proto, but the exchange is
//! our own: hickory's resolver retries, chases and folds errors in ways
//! that hide what a server actually sent (a malformed or truncated reply
//! and an unknown RCODE all came back as a timeout or as "no records").

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::{NameObservation, NameOutcome};
use crate::net::ResolverRules;
use crate::term::escape_for_terminal;

/// Links we follow by asking again when a server returns a CNAME without
/// its target's records (authoritative-only servers do; recursive ones
/// return the whole chain in one answer, which is taken however long it is).
const MAX_CHASE: usize = 16;

/// Largest DNS message over TCP (a two-byte length); UDP replies are read into the same.
const MAX_MESSAGE: usize = 65_535;

/// The servers a client asks and the rules it asks them by.
#[derive(Debug, Clone)]
pub struct DnsClient {
    servers: Vec<SocketAddr>,
    rules: ResolverRules,
    /// Our own cap on one wait, the probe timeout: glibc may wait longer,
    /// but the verdict (which server answers what) is the same.
    timeout: Duration,
}

/// What one server did with one query.
#[derive(Debug)]
enum Reply {
    /// A reply the client takes (any RCODE but the three below).
    Taken(Message),
    /// SERVFAIL, NOTIMP or REFUSED: the client asks the next server.
    PassedOn(ResponseCode),
    /// Nothing usable in time; `malformed` says what unreadable reply came.
    Silent { malformed: Option<String> },
    /// The server could not be asked (ICMP port unreachable, no route, ...).
    Unreachable(String),
    /// This machine failed before sending (no descriptors, a local firewall rule, ...).
    Local(String),
}

/// A socket error: this machine's own failure, or the server's.
fn socket_error(e: std::io::Error) -> Reply {
    match super::tcp::local_failure(&e) {
        Some(why) => Reply::Local(why),
        None => Reply::Unreachable(e.to_string()),
    }
}

impl DnsClient {
    /// A client for `servers`, asked by `rules`, waiting at most `timeout` per try.
    pub fn new(servers: Vec<SocketAddr>, rules: ResolverRules, timeout: Duration) -> DnsClient {
        DnsClient { servers, rules, timeout }
    }

    /// A client that asks only `server`, once.
    pub fn single(server: SocketAddr, timeout: Duration) -> DnsClient {
        DnsClient::new(vec![server], ResolverRules::one_try(), timeout)
    }

    /// The servers, in order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Resolves `host` as the machine's clients would. With `rotate`, every
    /// server may come first; when they end differently, the worst ending is
    /// the verdict (some of the client's lookups get it) and the others are
    /// listed with it.
    pub async fn resolve(&self, host: &str) -> NameObservation {
        let started = Instant::now();
        if self.servers.is_empty() {
            return observation(host, None, NameOutcome::Failed("no DNS server configured".into()), started);
        }
        let mut first = self.resolve_from(host, 0, started).await;
        if self.rules.rotate && self.servers.len() > 1 {
            for start in 1..self.servers.len() {
                let other = self.resolve_from(host, start, started).await;
                if other.outcome != first.outcome || other.addresses != first.addresses {
                    let words = format!(
                        "with options rotate, queries that start at {} end with {}",
                        self.servers[start],
                        summary(&other)
                    );
                    if first.outcome == NameOutcome::Resolved && other.outcome != NameOutcome::Resolved {
                        let earlier = format!("queries that start at {} end with {}", self.servers[0], summary(&first));
                        first = NameObservation { problems: vec![words, earlier], ..other };
                    } else {
                        first.problems.push(words);
                    }
                }
            }
            first.elapsed = started.elapsed();
        }
        first
    }

    /// glibc's `res_send` loop: `attempts` rounds, each over every server from `start`.
    async fn resolve_from(&self, host: &str, start: usize, started: Instant) -> NameObservation {
        let Ok(name) = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))) else {
            return observation(host, None, NameOutcome::Failed("not a valid DNS name".into()), started);
        };
        let mut problems: Vec<String> = Vec::new();
        let mut passed_on = Vec::new();
        let mut malformed = None;
        let mut local = None;
        let count = self.servers.len();
        // Once a reply is truncated, glibc asks every later server over TCP,
        // once each (res_send's `v_circuit`).
        let mut tcp = self.rules.tcp_only;
        for _round in 0..self.rules.attempts {
            let wait = self.rules.wait().min(self.timeout);
            let tcp_at_start = tcp;
            for k in 0..count {
                let server = self.servers[(start + k) % count];
                let (reply, truncated) = self.ask_both(server, &name, wait, tcp).await;
                tcp |= truncated;
                let problem = match reply {
                    Ok((a, aaaa)) => {
                        let mut obs = self.conclude(server, host, a, aaaa, wait).await;
                        problems.append(&mut obs.problems);
                        obs.problems = problems;
                        obs.elapsed = started.elapsed();
                        return obs;
                    }
                    Err(Reply::PassedOn(code)) => {
                        passed_on.push(code_words(code));
                        format!("{server}: answered {}, the client asks the next server", code_words(code))
                    }
                    Err(Reply::Silent { malformed: Some(why) }) => {
                        let words = format!("{server}: answered with an unreadable message ({why})");
                        malformed = Some(words.clone());
                        words
                    }
                    Err(Reply::Silent { malformed: None }) => format!("{server}: no answer within {wait:?}"),
                    Err(Reply::Unreachable(e)) => format!("{server}: {e}"),
                    Err(Reply::Local(e)) => {
                        local = Some(format!("asking {server}: {e}"));
                        format!("{server}: not asked: {e}")
                    }
                    Err(Reply::Taken(_)) => continue,
                };
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
            if tcp || tcp_at_start {
                break;
            }
        }
        let outcome = if let Some(why) = local.filter(|_| passed_on.is_empty()) {
            NameOutcome::LocalError(why)
        } else if !passed_on.is_empty() {
            passed_on.dedup();
            NameOutcome::ServerError(passed_on.join(", "))
        } else if let Some(words) = malformed {
            NameOutcome::Malformed(words)
        } else if problems.iter().all(|p| p.contains("no answer within")) {
            NameOutcome::Timeout
        } else {
            NameOutcome::Failed(problems.join("; "))
        };
        NameObservation { problems, ..observation(host, None, outcome, started) }
    }

    /// The A and AAAA queries of `getaddrinfo(AF_UNSPEC)`, sent together.
    /// The A reply decides whether the client moves on; an AAAA reply that
    /// fails only costs the IPv6 addresses.
    /// Also says whether a reply came truncated.
    async fn ask_both(
        &self,
        server: SocketAddr,
        name: &Name,
        wait: Duration,
        tcp: bool,
    ) -> (Result<(Message, Option<Message>), Reply>, bool) {
        let ((a, tc_a), (aaaa, tc_aaaa)) = tokio::join!(
            self.exchange(server, name, RecordType::A, wait, tcp),
            self.exchange(server, name, RecordType::AAAA, wait, tcp)
        );
        let replies = match a {
            Reply::Taken(a) => Ok((a, if let Reply::Taken(m) = aaaa { Some(m) } else { None })),
            other => Err(other),
        };
        (replies, tc_a || tc_aaaa)
    }

    /// One query to one server and its reply, as `res_send` judges replies:
    /// ignores ones for another query, waits on after an unreadable one,
    /// retries over TCP when truncated.
    async fn exchange(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        wait: Duration,
        tcp: bool,
    ) -> (Reply, bool) {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(name.clone(), rtype));
        if self.rules.edns0 {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            query.set_edns(edns);
        }
        let Ok(bytes) = query.to_vec() else {
            return (Reply::Unreachable("query could not be encoded".into()), false);
        };
        let until = tokio::time::Instant::now() + wait;
        if tcp {
            return (over_tcp(server, &bytes, &query, until).await, false);
        }
        self.over_udp(server, &bytes, &query, until).await
    }

    /// The UDP half of `exchange`; a truncated reply goes on over TCP.
    async fn over_udp(
        &self,
        server: SocketAddr,
        bytes: &[u8],
        query: &Message,
        until: tokio::time::Instant,
    ) -> (Reply, bool) {
        let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap_or(server);
        let socket = match UdpSocket::bind(bind).await {
            Ok(s) => s,
            Err(e) => return (socket_error(e), false),
        };
        if let Err(e) = socket.connect(server).await {
            return (socket_error(e), false);
        }
        if let Err(e) = socket.send(bytes).await {
            return (socket_error(e), false);
        }
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut malformed = None;
        loop {
            let len = match tokio::time::timeout_at(until, socket.recv(&mut buf)).await {
                Err(_) => return (Reply::Silent { malformed }, false),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return (Reply::Unreachable("port 53 closed (ICMP port unreachable)".into()), false);
                }
                Ok(Err(e)) => return (socket_error(e), false),
                Ok(Ok(len)) => len,
            };
            match read_reply(&buf[..len], query) {
                Verdict::Ignore => {}
                Verdict::Malformed(why) => malformed = Some(why),
                Verdict::Truncated => return (over_tcp(server, bytes, query, until).await, true),
                Verdict::Reply(reply) => return (judge_rcode(reply), false),
            }
        }
    }

    /// Turns the replies into the client's view, asking again for the
    /// target of a CNAME the server did not follow.
    async fn conclude(
        &self,
        server: SocketAddr,
        host: &str,
        a: Message,
        aaaa: Option<Message>,
        wait: Duration,
    ) -> NameObservation {
        let started = Instant::now();
        let code = a.metadata.response_code;
        if code != ResponseCode::NoError && code != ResponseCode::NXDomain {
            // FORMERR, NOTAUTH, an RCODE nobody defined...: glibc stops here (NO_RECOVERY).
            return NameObservation {
                resolver: Some(server),
                ..observation(host, None, NameOutcome::ServerError(code_words(code)), started)
            };
        }
        let mut records: Vec<Record> = a.answers.clone();
        if let Some(m) = &aaaa {
            records.extend(m.answers.iter().cloned());
        }
        let start = normalise(host);
        let (mut chain, mut end, mut looped) = follow(&start, &start, &records, Vec::new());
        let mut nx = code == ResponseCode::NXDomain;
        let addresses = addresses_of(&end, &records);
        // The server stopped on a CNAME whose target it did not give. glibc
        // takes that as it is: no address. The rest of the chain is asked
        // for here only to say where it breaks; it is not what clients get.
        let stopped_at = (addresses.is_empty() && !nx && !looped && !chain.is_empty()).then(|| end.clone());
        let mut chased = 0;
        let mut chased_to = Vec::new();
        while stopped_at.is_some() && chased_to.is_empty() && !nx && !looped {
            if chased == MAX_CHASE {
                let outcome = NameOutcome::ChainTooLong(MAX_CHASE);
                return NameObservation {
                    resolver: Some(server),
                    cname_chain: chain,
                    ..observation(host, Some(server), outcome, started)
                };
            }
            chased += 1;
            let Ok(target) = Name::from_ascii(format!("{end}.")) else { break };
            let (Ok((a2, aaaa2)), _) = self.ask_both(server, &target, wait, self.rules.tcp_only).await else {
                break;
            };
            nx = a2.metadata.response_code == ResponseCode::NXDomain;
            let mut more = a2.answers.clone();
            if let Some(m) = &aaaa2 {
                more.extend(m.answers.iter().cloned());
            }
            let (c, e, l) = follow(&start, &end, &more, chain);
            (chain, end, looped) = (c, e, l);
            chased_to = addresses_of(&end, &more);
            if a2.metadata.response_code != ResponseCode::NoError && !nx {
                let outcome = NameOutcome::ServerError(code_words(a2.metadata.response_code));
                return NameObservation { cname_chain: chain, ..observation(host, Some(server), outcome, started) };
            }
        }
        let mut problems = Vec::new();
        if let (Some(stop), false) = (&stopped_at, chased_to.is_empty()) {
            let found: Vec<String> = chased_to.iter().map(|a| a.to_string()).collect();
            problems.push(format!(
                "{server} answered only as far as {}: it does not follow the CNAME, so clients get no address (asked directly, {} has {})",
                escape_for_terminal(stop),
                escape_for_terminal(&end),
                found.join(", ")
            ));
        }
        let outcome = if looped {
            NameOutcome::CnameLoop
        } else if !addresses.is_empty() {
            NameOutcome::Resolved
        } else if nx {
            NameOutcome::NxDomain { missing: escape_for_terminal(&end) }
        } else {
            NameOutcome::NoAddress
        };
        NameObservation { cname_chain: chain, addresses, problems, ..observation(host, Some(server), outcome, started) }
    }
}

/// What a datagram is, to the client that sent `query`.
enum Verdict {
    /// Not a reply to this query: the client keeps waiting.
    Ignore,
    /// Ours, but unreadable: glibc keeps waiting too; we remember it.
    Malformed(String),
    /// The TC bit: ask again over TCP.
    Truncated,
    /// A reply to take.
    Reply(Message),
}

fn read_reply(bytes: &[u8], query: &Message) -> Verdict {
    if bytes.len() < 12 {
        return Verdict::Malformed(format!("{} bytes, shorter than a DNS header", bytes.len()));
    }
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    if id != query.metadata.id || bytes[2] & 0x80 == 0 {
        return Verdict::Ignore;
    }
    if bytes[2] & 0x02 != 0 {
        return Verdict::Truncated;
    }
    match Message::from_vec(bytes) {
        // glibc's res_queriesmatch: a reply must repeat the question, or it is not taken.
        Ok(m) if m.queries != query.queries => Verdict::Malformed(if m.queries.is_empty() {
            "a reply without the question".into()
        } else {
            "a reply to another question".into()
        }),
        Ok(m) if m.metadata.message_type != MessageType::Response => Verdict::Ignore,
        Ok(m) => Verdict::Reply(m),
        Err(e) => Verdict::Malformed(escape_for_terminal(&e.to_string())),
    }
}

/// Whether the client takes a reply or asks the next server, as `send_dg` decides.
fn judge_rcode(reply: Message) -> Reply {
    let m = &reply.metadata;
    match m.response_code {
        code @ (ResponseCode::ServFail | ResponseCode::NotImp | ResponseCode::Refused) => Reply::PassedOn(code),
        // A "lame" reply: nothing, from a server neither authoritative nor recursive.
        ResponseCode::NoError
            if reply.answers.is_empty()
                && reply.additionals.is_empty()
                && reply.edns.is_none()
                && !m.authoritative
                && !m.recursion_available =>
        {
            Reply::PassedOn(ResponseCode::NoError)
        }
        _ => Reply::Taken(reply),
    }
}

/// The query again over TCP, within what is left of the wait.
async fn over_tcp(server: SocketAddr, bytes: &[u8], query: &Message, until: tokio::time::Instant) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.map_err(|e| format!("TCP: {e}"))?;
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(bytes);
        stream.write_all(&framed).await.map_err(|e| format!("TCP: {e}"))?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(|e| format!("TCP: {e}"))?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).await.map_err(|e| format!("TCP: {e}"))?;
        Ok::<_, String>(buf)
    };
    match tokio::time::timeout_at(until, exchange).await {
        Err(_) => Reply::Silent { malformed: Some("truncated over UDP, and no answer over TCP in time".into()) },
        Ok(Err(e)) => Reply::Unreachable(format!("truncated over UDP, then {e}")),
        Ok(Ok(buf)) => match read_reply(&buf, query) {
            Verdict::Reply(m) => judge_rcode(m),
            Verdict::Truncated => Reply::Silent { malformed: Some("truncated even over TCP".into()) },
            Verdict::Malformed(why) => Reply::Silent { malformed: Some(format!("over TCP: {why}")) },
            Verdict::Ignore => Reply::Silent { malformed: Some("over TCP: a reply to another query".into()) },
        },
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Follows CNAME records from `from` through `records`, appending to the
/// `chain` that started at `origin`; returns the chain, the name it ends on,
/// and whether it came back on itself.
fn follow(origin: &str, from: &str, records: &[Record], mut chain: Vec<String>) -> (Vec<String>, String, bool) {
    let mut current = from.to_string();
    // Each record can be used once, so the walk ends within the answer's size.
    for _ in 0..=records.len() {
        let next = records.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if normalise(&r.name.to_ascii()) == current => Some(normalise(&c.0.to_ascii())),
            _ => None,
        });
        let Some(next) = next else { break };
        let shown = escape_for_terminal(&next);
        if chain.contains(&shown) || next == origin {
            chain.push(shown);
            return (chain, next, true);
        }
        chain.push(shown);
        current = next;
    }
    (chain, current, false)
}

/// A and AAAA records of `owner`: IPv4 first, then IPv6, each in answer order.
fn addresses_of(owner: &str, records: &[Record]) -> Vec<IpAddr> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for r in records.iter().filter(|r| normalise(&r.name.to_ascii()) == owner) {
        match &r.data {
            RData::A(a) if !v4.contains(&IpAddr::V4(a.0)) => v4.push(IpAddr::V4(a.0)),
            RData::AAAA(a) if !v6.contains(&IpAddr::V6(a.0)) => v6.push(IpAddr::V6(a.0)),
            _ => {}
        }
    }
    v4.extend(v6);
    v4
}

/// An RCODE as the report shows it: its name, or its number when it has none.
fn code_words(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "an empty, non-authoritative, non-recursive (lame) reply".into(),
        ResponseCode::Unknown(n) => format!("RCODE {n}"),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

fn observation(host: &str, resolver: Option<SocketAddr>, outcome: NameOutcome, started: Instant) -> NameObservation {
    NameObservation { resolver, ..NameObservation::new(host, outcome, started.elapsed()) }
}

/// An ending in a few words, for the notes of a rotating resolver.
fn summary(obs: &NameObservation) -> String {
    match &obs.outcome {
        NameOutcome::Resolved => obs.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        NameOutcome::NxDomain { missing } => format!("NXDOMAIN for {missing}"),
        NameOutcome::NoAddress => "no address".into(),
        NameOutcome::CnameLoop => "a CNAME loop".into(),
        NameOutcome::ChainTooLong(n) => format!("a CNAME chain past {n} links"),
        NameOutcome::ServerError(code) => code.clone(),
        NameOutcome::Timeout => "no answer".into(),
        NameOutcome::Malformed(why) | NameOutcome::Failed(why) | NameOutcome::LocalError(why) => why.clone(),
        NameOutcome::DeadlineExceeded => "the deadline".into(),
        NameOutcome::Interrupted => "an interrupt".into(),
    }
}
