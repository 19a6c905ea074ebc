//! Name resolution: one query per name against each configured server in
//! turn (so the report can say which server answered), and our own walk of
//! the CNAME chain where hickory would lose it (a dangling CNAME comes back
//! as plain NXDOMAIN).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

use super::{NameObservation, NameOutcome};
use crate::term::escape_for_terminal;

/// Longest CNAME chain we follow; real private-link chains have two or three links.
const MAX_CHAIN: usize = 10;

/// A DNS server and the resolver that asks only it.
pub struct DnsServer {
    addr: SocketAddr,
    resolver: TokioResolver,
    timeout: Duration,
}

impl DnsServer {
    /// A resolver for exactly one server, no cache, no hosts file, one
    /// attempt per query: we want what this server says now.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Result<DnsServer, NetError> {
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.preserve_intermediates = true;
        opts.ndots = 0;
        opts.edns0 = true;
        let resolver =
            Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), TokioRuntimeProvider::default())
                .with_options(opts)
                .build()?;
        Ok(DnsServer { addr, resolver, timeout })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// What one server said about one name.
enum ServerAnswer {
    /// The server answered (positively or negatively).
    Answered { outcome: NameOutcome, chain: Vec<String>, addresses: Vec<IpAddr> },
    /// No answer within the timeout.
    Silent,
    /// Some other failure talking to it.
    Failed(String),
}

/// Resolves `host` with the servers in order, like the system resolver
/// does: the first server that answers decides.
pub async fn resolve(servers: &[DnsServer], host: &str) -> NameObservation {
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut any_failure = false;
    for server in servers {
        match ask(server, host).await {
            ServerAnswer::Answered { outcome, chain, addresses } => {
                return NameObservation {
                    host: host.to_string(),
                    resolver: Some(server.addr),
                    outcome,
                    cname_chain: chain,
                    addresses,
                    elapsed: started.elapsed(),
                    problems,
                    pinned: None,
                    azure_answer: None,
                };
            }
            ServerAnswer::Silent => problems.push(format!("{}: no answer", server.addr)),
            ServerAnswer::Failed(e) => {
                any_failure = true;
                problems.push(format!("{}: {e}", server.addr))
            }
        }
    }
    let outcome = if servers.is_empty() {
        NameOutcome::Failed("no DNS server configured".into())
    } else if any_failure {
        NameOutcome::Failed(problems.join("; "))
    } else {
        NameOutcome::Timeout
    };
    NameObservation {
        host: host.to_string(),
        resolver: None,
        outcome,
        cname_chain: Vec::new(),
        addresses: Vec::new(),
        elapsed: started.elapsed(),
        problems,
        pinned: None,
        azure_answer: None,
    }
}

async fn ask(server: &DnsServer, host: &str) -> ServerAnswer {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    // hickory may retry over TCP after a UDP timeout; the probe timeout is ours to keep.
    let lookup = tokio::time::timeout(server.timeout, server.resolver.lookup(fqdn.as_str(), RecordType::A)).await;
    let Ok(lookup) = lookup else {
        return ServerAnswer::Silent;
    };
    match lookup {
        Ok(lookup) => {
            let (chain, addresses) = chain_and_addresses(host, lookup.answers());
            let outcome = if addresses.is_empty() { NameOutcome::NoAddress } else { NameOutcome::Resolved };
            ServerAnswer::Answered { outcome, chain, addresses }
        }
        Err(e) => match classify(&e) {
            Negative::NxDomain => walk_chain(server, host, false).await,
            Negative::NoData => walk_chain(server, host, true).await,
            Negative::Refused(code) => ServerAnswer::Answered {
                outcome: NameOutcome::ServerError(code.to_string()),
                chain: Vec::new(),
                addresses: Vec::new(),
            },
            Negative::Timeout => ServerAnswer::Silent,
            Negative::Other(msg) => ServerAnswer::Failed(msg),
        },
    }
}

enum Negative {
    NxDomain,
    NoData,
    Refused(ResponseCode),
    Timeout,
    Other(String),
}

fn classify(e: &NetError) -> Negative {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) if nr.response_code == ResponseCode::NXDomain => Negative::NxDomain,
        NetError::Dns(DnsError::NoRecordsFound(_)) => Negative::NoData,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => Negative::NxDomain,
        NetError::Dns(DnsError::ResponseCode(code)) => Negative::Refused(*code),
        NetError::Timeout => Negative::Timeout,
        other => {
            let msg = other.to_string();
            if msg.contains("timed out") { Negative::Timeout } else { Negative::Other(msg) }
        }
    }
}

/// Follows CNAME records from `host`, one query per link, to find which
/// name in the chain does not exist.
async fn walk_chain(server: &DnsServer, host: &str, no_data: bool) -> ServerAnswer {
    let mut chain = Vec::new();
    let start = host.trim_end_matches('.').to_ascii_lowercase();
    let mut current = start.clone();
    let mut looped = false;
    for _ in 0..MAX_CHAIN {
        let fqdn = format!("{current}.");
        let lookup =
            tokio::time::timeout(server.timeout, server.resolver.lookup(fqdn.as_str(), RecordType::CNAME)).await;
        let Ok(lookup) = lookup else {
            return ServerAnswer::Silent;
        };
        match lookup {
            Ok(lookup) => {
                let next = lookup.answers().iter().find_map(|r| match &r.data {
                    RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
                    _ => None,
                });
                match next {
                    // A zone that points a name back into its own chain.
                    Some(n) if n == start || chain.contains(&escape_for_terminal(&n)) => {
                        chain.push(escape_for_terminal(&n));
                        looped = true;
                        break;
                    }
                    Some(n) => {
                        chain.push(escape_for_terminal(&n));
                        current = n;
                    }
                    None => break,
                }
            }
            Err(e) => match classify(&e) {
                Negative::Timeout => return ServerAnswer::Silent,
                _ => break,
            },
        }
    }
    let outcome = if looped {
        NameOutcome::CnameLoop
    } else if no_data {
        NameOutcome::NoAddress
    } else {
        NameOutcome::NxDomain { missing: escape_for_terminal(&current) }
    };
    ServerAnswer::Answered { outcome, chain, addresses: Vec::new() }
}

/// Orders the CNAME records of an answer from `host` onwards and collects
/// the addresses at the end of the chain.
fn chain_and_addresses(host: &str, answers: &[hickory_resolver::proto::rr::Record]) -> (Vec<String>, Vec<IpAddr>) {
    let norm = |s: String| s.trim_end_matches('.').to_ascii_lowercase();
    let mut chain = Vec::new();
    let mut current = norm(host.to_string());
    for _ in 0..MAX_CHAIN {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if norm(r.name.to_ascii()) == current => Some(norm(c.0.to_ascii())),
            _ => None,
        });
        match next {
            // Names from the server are escaped before anything can print them.
            Some(n) if !chain.contains(&escape_for_terminal(&n)) => {
                chain.push(escape_for_terminal(&n));
                current = n;
            }
            _ => break,
        }
    }
    let mut addresses: Vec<IpAddr> = answers
        .iter()
        .filter(|r| norm(r.name.to_ascii()) == current)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    if addresses.is_empty() {
        // Some servers put the terminal records under a name we did not
        // reach (a chain with a loop or a gap): take what is there.
        addresses = answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })
            .collect();
    }
    addresses.dedup();
    (chain, addresses)
}
