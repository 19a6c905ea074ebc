//! The lab: a private network simulated in-process on loopback, with real
//! protocols. A hickory DNS server on 127.0.0.1 answers the workspace's
//! names the way Azure private DNS would (public name -> privatelink CNAME
//! -> private address), and real sockets stand in for the endpoints.
//! `--connect-to` rules map every address the DNS hands out to one of
//! those sockets, so nothing ever leaves loopback. Used by `amlnet demo`
//! and the integration tests.

pub mod listeners;
pub mod proxy;
pub mod scenario;
pub mod tls;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, CNAME, SOA};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use ipnet::IpNet;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::catalogue::{Expect, Protocol};
use crate::plan::Plan;
use crate::probe::ConnectTo;
use crate::target::{Cloud, Target};
pub use scenario::{DnsFault, PathFault, RevocationFault, Scenario, find, scenarios};

/// The workspace the lab simulates.
pub fn lab_target() -> Target {
    Target {
        cloud: Cloud::Public,
        workspace_id: Some("3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42".into()),
        workspace_name: Some("mlw-contoso-lab".into()),
        region: Some("eastus".into()),
        storage_accounts: vec!["stcontosomllab".into()],
        key_vault: Some("kv-contoso-ml-lab".into()),
        container_registry: Some("crcontosomllab".into()),
        app_insights: Some("appi-contoso-ml-lab".into()),
        compute_instance: Some("ci-lab-01".into()),
        notebook_host: None,
        sources: vec!["lab".into()],
    }
}

/// A running lab. Dropping it stops every server and frees every port.
pub struct Lab {
    /// The DNS server to ask.
    pub dns: SocketAddr,
    /// Rules that map the lab's addresses to its loopback sockets.
    pub connect_to: Vec<ConnectTo>,
    /// What counts as the VNet here.
    pub vnet_cidr: Vec<IpNet>,
    /// A second DNS server with the healthy answers, standing in for Azure DNS.
    pub azure_dns: Option<SocketAddr>,
    /// The client's proxy variables (`https_proxy`, `no_proxy`), when the scenario has a proxy.
    pub proxy_env: Vec<(String, String)>,
    /// The address each lab host name resolves to.
    pub addresses: BTreeMap<String, IpAddr>,
    /// CA certificates (PEM) the client of this scenario trusts.
    pub trusted_pem: Vec<String>,
    _server: Option<Server<Catalog>>,
    _azure_server: Option<Server<Catalog>>,
    tasks: Vec<JoinHandle<()>>,
    _filtered: Vec<listeners::FilteredPort>,
    _refused: listeners::RefusedPort,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The address of host number `index` in a /24 (documentation and private ranges).
fn take(index: usize, base: [u8; 3]) -> IpAddr {
    let n = 4 + (index % 250) as u8;
    IpAddr::V4(Ipv4Addr::new(base[0], base[1], base[2], n))
}

const PRIVATE: [u8; 3] = [10, 0, 1];
const OUTSIDE_VNET: [u8; 3] = [10, 9, 0];
const DOCKER: [u8; 3] = [172, 17, 0];
const PUBLIC: [u8; 3] = [203, 0, 113];

/// The endpoints' stand-ins: one socket per behaviour, shared by every
/// host that behaves that way.
struct Endpoints {
    open_tcp: SocketAddr,
    genuine: SocketAddr,
    inspection: Option<SocketAddr>,
    expired: Option<SocketAddr>,
    azure_firewall: Option<SocketAddr>,
    cdn_forbidden: Option<SocketAddr>,
    huge_chain: Option<SocketAddr>,
    stalled: Option<SocketAddr>,
    revocation: SocketAddr,
    resetting: SocketAddr,
    silent: SocketAddr,
    plaintext: SocketAddr,
    open_udp: SocketAddr,
    closed_udp: SocketAddr,
    filtered: listeners::FilteredPort,
    refused: listeners::RefusedPort,
    trusted_pem: Vec<String>,
}

/// The path fault of catalogue entry `id` on `port` in `scenario`.
fn path_fault(scenario: &Scenario, id: &str, port: u16) -> Option<PathFault> {
    scenario.fault.iter().filter(|f| f.matches(id) && f.port.is_none_or(|p| p == port)).find_map(|f| f.path)
}

impl Endpoints {
    async fn start(scenario: &Scenario, plan: &Plan, tasks: &mut Vec<JoinHandle<()>>) -> Result<Endpoints> {
        let mut keep = |(addr, task): (SocketAddr, JoinHandle<()>)| {
            tasks.push(task);
            addr
        };
        let mut tls_hosts: Vec<String> = plan.endpoints.iter().filter(|e| e.tls).map(|e| e.host.clone()).collect();
        tls_hosts.sort();
        tls_hosts.dedup();
        let used: Vec<PathFault> = plan.endpoints.iter().filter_map(|e| path_fault(scenario, &e.id, e.port)).collect();
        let lab_ca =
            tls::LabCa::new(tls::LAB_CA_NAME, "Microsoft Corporation (amlnet lab)")?.with_revocation(tls::Revocation {
                crl: format!("http://{CRL_HOST}/amlnet-lab.crl"),
                ocsp: format!("http://{OCSP_HOST}/"),
            });
        let mut trusted_pem = vec![lab_ca.pem.clone()];
        let hang_up: std::collections::BTreeSet<String> = plan
            .endpoints
            .iter()
            .filter(|e| path_fault(scenario, &e.id, e.port) == Some(PathFault::HttpHangUp))
            .map(|e| e.host.clone())
            .collect();
        let responder = if hang_up.is_empty() { tls::Responder::Service } else { tls::Responder::HangUp(hang_up) };
        let genuine = keep(tls::serve(&lab_ca, &tls_hosts, false, responder).await?);
        let inspecting = [PathFault::TlsInspection, PathFault::TlsInspectionTrusted, PathFault::HttpBlocked];
        let inspection = if used.iter().any(|f| inspecting.contains(f)) {
            let ca = tls::LabCa::new(tls::INSPECTION_CA_NAME, "Contoso Ltd")?;
            if used.iter().any(|f| f.trusts_inspection()) {
                trusted_pem.push(ca.pem.clone());
            }
            let blocked = plan
                .endpoints
                .iter()
                .filter(|e| path_fault(scenario, &e.id, e.port) == Some(PathFault::HttpBlocked))
                .map(|e| e.host.clone())
                .collect();
            Some(keep(tls::serve(&ca, &tls_hosts, false, tls::Responder::BlockPage(blocked)).await?))
        } else {
            None
        };
        let expired = if used.contains(&PathFault::TlsExpired) {
            Some(keep(tls::serve(&lab_ca, &tls_hosts, true, tls::Responder::Service).await?))
        } else {
            None
        };
        let canned = |fault: PathFault, answer: &str| -> tls::Responder {
            let hosts = plan.endpoints.iter().filter(|e| path_fault(scenario, &e.id, e.port) == Some(fault));
            tls::Responder::Canned(hosts.map(|e| (e.host.clone(), answer.to_string())).collect())
        };
        let azure_firewall = if used.contains(&PathFault::HttpAzureFirewall) {
            let ca = tls::LabCa::new(tls::INSPECTION_CA_NAME, "Contoso Ltd")?;
            trusted_pem.push(ca.pem.clone());
            let answers = canned(PathFault::HttpAzureFirewall, tls::AZURE_FIREWALL_470);
            Some(keep(tls::serve(&ca, &tls_hosts, false, answers).await?))
        } else {
            None
        };
        let cdn_forbidden = if used.contains(&PathFault::HttpCdnForbidden) {
            let answers = canned(PathFault::HttpCdnForbidden, tls::CDN_FORBIDDEN_403);
            Some(keep(tls::serve(&lab_ca, &tls_hosts, false, answers).await?))
        } else {
            None
        };
        let huge_chain = if used.contains(&PathFault::TlsHugeChain) {
            Some(keep(tls::serve_padded(&lab_ca, &tls_hosts, HUGE_CHAIN_PADDING).await?))
        } else {
            None
        };
        Ok(Endpoints {
            open_tcp: keep(listeners::open_tcp().await.context("lab: open TCP listener")?),
            genuine,
            inspection,
            expired,
            azure_firewall,
            cdn_forbidden,
            huge_chain,
            stalled: match used.contains(&PathFault::TlsStalled) {
                true => Some(keep(tls::after_server_hello(genuine).await.context("lab: stalling relay")?)),
                false => None,
            },
            revocation: keep(tls::revocation_responder().await.context("lab: revocation responder")?),
            resetting: keep(tls::resetting().await.context("lab: resetting listener")?),
            silent: keep(tls::silent().await.context("lab: silent listener")?),
            plaintext: keep(tls::plaintext().await.context("lab: plaintext listener")?),
            open_udp: keep(listeners::open_udp().await.context("lab: open UDP socket")?),
            closed_udp: listeners::closed_udp().context("lab: closed UDP port")?,
            filtered: listeners::FilteredPort::bind().context("lab: filtered listener")?,
            refused: listeners::RefusedPort::bind().context("lab: refused port")?,
            trusted_pem,
        })
    }

    /// One `--connect-to` rule per planned endpoint: its address to the
    /// socket that behaves as the scenario says.
    fn rules(&self, scenario: &Scenario, plan: &Plan, addresses: &BTreeMap<String, IpAddr>) -> Vec<ConnectTo> {
        let mut rules = Vec::new();
        for e in &plan.endpoints {
            let Some(ip) = addresses.get(&e.host) else { continue };
            let to = match (e.protocol, path_fault(scenario, &e.id, e.port)) {
                (Protocol::Tcp, Some(PathFault::Filtered)) => self.filtered.addr,
                (Protocol::Tcp, Some(PathFault::Refused)) => self.refused.addr,
                (Protocol::Tcp, _) if !e.tls => self.open_tcp,
                (Protocol::Tcp, Some(PathFault::TlsReset)) => self.resetting,
                (Protocol::Tcp, Some(PathFault::TlsSilent)) => self.silent,
                (Protocol::Tcp, Some(PathFault::TlsPlaintext)) => self.plaintext,
                (
                    Protocol::Tcp,
                    Some(PathFault::TlsInspection | PathFault::TlsInspectionTrusted | PathFault::HttpBlocked),
                ) => self.inspection.unwrap_or(self.genuine),
                (Protocol::Tcp, Some(PathFault::TlsExpired)) => self.expired.unwrap_or(self.genuine),
                (Protocol::Tcp, Some(PathFault::HttpAzureFirewall)) => self.azure_firewall.unwrap_or(self.genuine),
                (Protocol::Tcp, Some(PathFault::HttpCdnForbidden)) => self.cdn_forbidden.unwrap_or(self.genuine),
                (Protocol::Tcp, Some(PathFault::TlsHugeChain)) => self.huge_chain.unwrap_or(self.genuine),
                (Protocol::Tcp, Some(PathFault::TlsStalled)) => self.stalled.unwrap_or(self.genuine),
                (Protocol::Tcp, _) => self.genuine,
                (Protocol::Udp, Some(PathFault::UdpClosed)) => self.closed_udp,
                (Protocol::Udp, _) => self.open_udp,
            };
            rules.push(ConnectTo { host: Some(ip.to_string()), port: Some(e.port), to });
        }
        // The revocation endpoints the lab's certificates name, on port 80.
        let to = match scenario.revocation {
            None => self.revocation,
            Some(RevocationFault::Filtered) => self.filtered.addr,
            Some(RevocationFault::Refused) => self.refused.addr,
        };
        for (_, ip) in REVOCATION_HOSTS {
            rules.push(ConnectTo { host: Some(ip.to_string()), port: Some(80), to });
        }
        rules
    }
}

/// The lab's CRL distribution point host (a reserved `.test` name: never a real host).
const CRL_HOST: &str = "crl.lab.test";
/// The lab's OCSP responder host.
const OCSP_HOST: &str = "ocsp.lab.test";
/// Where the lab's DNS puts them (documentation range; `--connect-to` maps them to loopback).
const REVOCATION_HOSTS: [(&str, Ipv4Addr); 2] =
    [(CRL_HOST, Ipv4Addr::new(203, 0, 113, 250)), (OCSP_HOST, Ipv4Addr::new(203, 0, 113, 251))];
/// How many CA certificates follow the leaf in a huge chain: 600 in all,
/// some 250 KiB, far over rustls' 64 KiB and OpenSSL's 100 KiB.
const HUGE_CHAIN_PADDING: usize = 599;

/// The lab proxy's credentials, when a scenario's proxy asks for them.
const PROXY_CREDENTIALS: (&str, &str) = ("amlnet", "lab-password");

impl Lab {
    /// Starts the servers for `scenario`, with names from `plan`.
    pub async fn start(scenario: &Scenario, plan: &Plan) -> Result<Lab> {
        let (records, addresses) = zone_records(plan, &scenario.fault)?;
        let mut tasks = Vec::new();
        let endpoints = Endpoints::start(scenario, plan, &mut tasks).await?;
        let connect_to = endpoints.rules(scenario, plan, &addresses);
        let mut filtered = Vec::new();
        let (dns, server) = match scenario.server.as_deref() {
            Some("silent") => {
                let (addr, task, tcp) = listeners::silent_dns().await.context("lab: silent DNS server")?;
                tasks.push(task);
                filtered.push(tcp);
                (addr, None)
            }
            Some("refusing") => serve_catalog(Catalog::new()).await.map(|(a, s)| (a, Some(s)))?,
            _ => serve_dns(records).await.map(|(a, s)| (a, Some(s)))?,
        };
        // A second server with the healthy records stands in for Azure DNS
        // (168.63.129.16) when the scenario's own server is a custom one.
        let (azure_dns, azure_server) = if scenario.azure_dns {
            let (addr, server) = serve_dns(zone_records(plan, &[])?.0).await?;
            (Some(addr), Some(server))
        } else {
            (None, None)
        };
        let proxy_env = match &scenario.proxy {
            None => Vec::new(),
            Some(spec) => start_proxy(spec, &endpoints, &addresses, &connect_to, &mut tasks).await?,
        };
        filtered.push(endpoints.filtered);
        Ok(Lab {
            proxy_env,
            dns,
            connect_to,
            vnet_cidr: scenario.vnet_cidr.clone(),
            addresses,
            trusted_pem: endpoints.trusted_pem,
            azure_dns,
            _server: server,
            _azure_server: azure_server,
            tasks,
            _filtered: filtered,
            _refused: endpoints.refused,
        })
    }
}

/// Starts the scenario's proxy (or points at nothing when it is down) and
/// returns the client's proxy variables for it.
async fn start_proxy(
    spec: &scenario::ProxySpec,
    endpoints: &Endpoints,
    addresses: &BTreeMap<String, IpAddr>,
    connect_to: &[ConnectTo],
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Vec<(String, String)>> {
    let (user, password) = PROXY_CREDENTIALS;
    let addr = if spec.down {
        endpoints.refused.addr
    } else {
        let mut faults = BTreeMap::new();
        for (hosts, fault) in [
            (&spec.bad_gateway, proxy::ProxyFault::BadGateway),
            (&spec.gateway_timeout, proxy::ProxyFault::GatewayTimeout),
            (&spec.silent, proxy::ProxyFault::Silent),
            (&spec.endless_header, proxy::ProxyFault::EndlessHeader),
        ] {
            faults.extend(hosts.iter().map(|h| (h.clone(), fault)));
        }
        let policy = proxy::ProxyPolicy {
            faults,
            deny: spec.deny.iter().cloned().collect(),
            credentials: spec.requires_auth.then(|| format!("{user}:{password}")),
            addresses: addresses.clone(),
            connect_to: connect_to.to_vec(),
        };
        let (addr, task) = proxy::serve(policy).await.context("lab: proxy")?;
        tasks.push(task);
        addr
    };
    let auth = if spec.client_sends_credentials { format!("{user}:{password}@") } else { String::new() };
    let mut env = vec![
        ("https_proxy".to_string(), format!("http://{auth}{addr}")),
        ("no_proxy".to_string(), spec.no_proxy.clone()),
    ];
    if spec.http {
        env.insert(1, ("http_proxy".to_string(), format!("http://{auth}{addr}")));
    }
    Ok(env)
}

impl Lab {
    /// The machine of this scenario's client: its proxy variables (when the
    /// scenario has a proxy) and nothing else; never this machine's own.
    pub fn machine(&self) -> crate::local::Machine {
        let env_proxy =
            self.proxy_env.iter().map(|(name, value)| (name.clone(), crate::local::Secret(value.clone()))).collect();
        crate::local::Machine { env_proxy, simulated: true, ..crate::local::Machine::default() }
    }

    /// The trusted CA certificates as `--ca-file` contents would give them.
    pub fn trusted_roots(&self) -> Vec<(String, Vec<u8>)> {
        self.trusted_pem
            .iter()
            .enumerate()
            .map(|(i, pem)| (format!("lab CA {}", i + 1), pem.as_bytes().to_vec()))
            .collect()
    }
}

/// The DNS records of the lab's network with `faults` applied, and the
/// address each host ends on. Addresses depend only on the host's place in
/// the plan, so two servers built with different faults agree on them.
fn zone_records(plan: &Plan, faults: &[scenario::Fault]) -> Result<(Vec<Record>, BTreeMap<String, IpAddr>)> {
    let hosts = plan.hosts();
    let mut records: Vec<Record> = Vec::new();
    let mut addresses = BTreeMap::new();
    let mut private_link_addresses: BTreeMap<Name, IpAddr> = BTreeMap::new();

    for e in &plan.endpoints {
        if addresses.contains_key(&e.host) {
            continue;
        }
        let dns_fault = faults.iter().filter(|f| f.matches(&e.id)).find_map(|f| f.dns);
        let index = hosts.iter().position(|h| *h == e.host).unwrap_or(0);
        let host = name(&e.host)?;
        // A public edge name of its own per host, as Azure's would be.
        let label: String = e.host.split('.').next().unwrap_or("edge").chars().take(40).collect();
        let edge = name(&format!("{label}-{}.edge.lab.trafficmanager.net", index + 1))?;
        let ip = match (e.expect, dns_fault) {
            (_, Some(DnsFault::NameMissing)) => None,
            (_, Some(DnsFault::CnameLoop)) => {
                let pl = name(e.privatelink_name.as_deref().unwrap_or("loop.lab.test"))?;
                records.push(cname(host.clone(), pl.clone()));
                records.push(cname(pl, host.clone()));
                None
            }
            (Expect::Public, _) => {
                let ip = take(index, PUBLIC);
                records.push(a(host.clone(), ip));
                Some(ip)
            }
            (Expect::Private, fault) => {
                let pl = name(e.privatelink_name.as_deref().unwrap_or(&e.host))?;
                match fault {
                    Some(DnsFault::NoPrivateEndpoint) => {
                        let ip = take(index, PUBLIC);
                        records.push(cname(host.clone(), edge.clone()));
                        records.push(a(edge.clone(), ip));
                        Some(ip)
                    }
                    Some(DnsFault::ZoneUnlinked) => {
                        let ip = take(index, PUBLIC);
                        records.push(cname(host.clone(), pl.clone()));
                        records.push(cname(pl.clone(), edge.clone()));
                        records.push(a(edge.clone(), ip));
                        Some(ip)
                    }
                    Some(DnsFault::RecordMissing) => {
                        records.push(cname(host.clone(), pl.clone()));
                        None
                    }
                    Some(DnsFault::ZoneOverride) => {
                        let ip = take(index, PRIVATE);
                        records.push(a(host.clone(), ip));
                        Some(ip)
                    }
                    other => {
                        let base = match other {
                            Some(DnsFault::DockerBridge) => DOCKER,
                            Some(DnsFault::OutsideVnet) => OUTSIDE_VNET,
                            _ => PRIVATE,
                        };
                        records.push(cname(host.clone(), pl.clone()));
                        // Names that share a private endpoint (a compute instance and
                        // its workspace) share its one address.
                        let ip = match private_link_addresses.get(&pl) {
                            Some(ip) => *ip,
                            None => {
                                let ip = take(index, base);
                                records.push(a(pl.clone(), ip));
                                private_link_addresses.insert(pl.clone(), ip);
                                ip
                            }
                        };
                        Some(ip)
                    }
                }
            }
        };
        if let Some(ip) = ip {
            addresses.insert(e.host.clone(), ip);
        }
    }
    for (host, ip) in REVOCATION_HOSTS {
        records.push(a(name(host)?, IpAddr::V4(ip)));
        addresses.insert(host.to_string(), IpAddr::V4(ip));
    }

    Ok((records, addresses))
}

fn name(s: &str) -> Result<Name> {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).with_context(|| format!("lab: '{s}' is not a DNS name"))
}

fn a(n: Name, ip: IpAddr) -> Record {
    let IpAddr::V4(v4) = ip else { unreachable!("the lab hands out IPv4 only") };
    Record::from_rdata(n, 60, RData::A(A(v4)))
}

fn cname(n: Name, target: Name) -> Record {
    Record::from_rdata(n, 60, RData::CNAME(CNAME(target)))
}

/// A UDP socket and a TCP listener on the same loopback port, as a DNS
/// server needs. The kernel picks the UDP port; the same TCP port may be
/// taken by another socket, so a few ports are tried.
async fn udp_and_tcp_on_one_port() -> Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.context("lab: DNS UDP socket")?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "lab: no loopback port free for both UDP and TCP: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// One authoritative root zone holding every record, served over UDP and
/// TCP on a random loopback port.
async fn serve_dns(records: Vec<Record>) -> Result<(SocketAddr, Server<Catalog>)> {
    let origin = Name::root();
    let mut zone: InMemoryZoneHandler = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let soa = SOA::new(name("ns.lab.test")?, name("hostmaster.lab.test")?, 1, 3600, 600, 86400, 60);
    zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
    for r in records {
        zone.upsert_mut(r, 1);
    }
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone)]);
    serve_catalog(catalog).await
}

/// A DNS server on loopback (UDP and TCP on one port) answering from
/// `catalog`; an empty catalog answers REFUSED to every query, as a server
/// that does not serve this client does.
async fn serve_catalog(catalog: Catalog) -> Result<(SocketAddr, Server<Catalog>)> {
    let (udp, tcp) = udp_and_tcp_on_one_port().await?;
    let addr = udp.local_addr()?;
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 4096);
    Ok((addr, server))
}
