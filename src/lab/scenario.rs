//! Lab scenarios: the healthy network plus declared faults, read from
//! `scenarios.toml` (data, like the catalogue).

use std::sync::OnceLock;

use ipnet::IpNet;
use serde::Deserialize;

/// How a name is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsFault {
    /// privatelink CNAME continues to a public address.
    ZoneUnlinked,
    /// No privatelink CNAME; public address.
    NoPrivateEndpoint,
    /// privatelink name absent.
    RecordMissing,
    /// The name itself absent.
    NameMissing,
    /// A hostile zone: the privatelink name points back at the public name.
    CnameLoop,
    /// Private address in 172.17.0.0/16.
    DockerBridge,
    /// Private address outside the scenario's VNet.
    OutsideVnet,
    /// Private address straight on the public name.
    ZoneOverride,
}

/// How a path is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathFault {
    /// SYNs dropped (a listener whose accept queue is full).
    Filtered,
    /// Reset (a bound port nobody listens on).
    Refused,
    /// ICMP port unreachable for UDP.
    UdpClosed,
    /// TCP opens, the connection is reset after the ClientHello (SNI filter).
    TlsReset,
    /// TCP opens, no ServerHello ever comes.
    TlsSilent,
    /// TCP opens, the ServerHello comes, the rest of the server's flight is lost.
    TlsStalled,
    /// TCP opens and the ClientHello is answered with plain HTTP, not TLS.
    TlsPlaintext,
    /// A firewall re-signs with its own CA, which this machine does not trust.
    TlsInspection,
    /// The same, with the firewall's CA in this machine's trust store.
    TlsInspectionTrusted,
    /// The service presents a certificate outside its validity period.
    TlsExpired,
    /// An inspecting firewall (trusted CA) answers with its block page.
    HttpBlocked,
    /// The handshake completes, the HTTP request gets no answer.
    HttpHangUp,
    /// Azure Firewall Premium inspects TLS (CA trusted) and answers 470.
    HttpAzureFirewall,
    /// The service itself answers 403 through its CDN (`Via: 1.1 varnish`).
    HttpCdnForbidden,
    /// The service's chain carries hundreds of certificates (over 64 KiB).
    TlsHugeChain,
}

/// How the lab's revocation endpoints (the CRL and OCSP URLs in its
/// certificates) are broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationFault {
    /// HTTP to them is dropped (SYNs unanswered).
    Filtered,
    /// HTTP to them is refused (reset).
    Refused,
}

impl PathFault {
    /// Whether the scenario's client trusts the inspection CA.
    pub fn trusts_inspection(self) -> bool {
        matches!(self, PathFault::TlsInspectionTrusted | PathFault::HttpBlocked)
    }
}

/// One fault.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Catalogue ids; a trailing `*` matches a prefix.
    pub endpoints: Vec<String>,
    /// DNS fault.
    pub dns: Option<DnsFault>,
    /// Path fault.
    pub path: Option<PathFault>,
    /// Limit the path fault to this port.
    pub port: Option<u16>,
}

impl Fault {
    /// Whether the fault applies to the catalogue entry `id` (storage ids carry `[account]`).
    pub fn matches(&self, id: &str) -> bool {
        let base = id.split('[').next().unwrap_or(id);
        self.endpoints.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => base.starts_with(prefix),
            None => base == p,
        })
    }
}

/// A named network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `--scenario` name.
    pub name: String,
    /// One line for `demo --list`.
    pub summary: String,
    /// What counts as the VNet in this scenario.
    #[serde(default)]
    pub vnet_cidr: Vec<IpNet>,
    /// `silent`: the DNS server never answers; `refusing`: it answers REFUSED.
    pub server: Option<String>,
    /// Also run a healthy "Azure DNS" next to the scenario's (custom) server.
    #[serde(default)]
    pub azure_dns: bool,
    /// A corporate proxy in front of the public endpoints.
    pub proxy: Option<ProxySpec>,
    /// The revocation endpoints named by the lab's certificates are broken.
    pub revocation: Option<RevocationFault>,
    /// Faults.
    #[serde(default)]
    pub fault: Vec<Fault>,
}

/// The lab proxy of a scenario and how the client is set up for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    /// Host names the proxy refuses (403).
    #[serde(default)]
    pub deny: Vec<String>,
    /// The proxy requires `amlnet:lab-password`.
    #[serde(default)]
    pub requires_auth: bool,
    /// The client's proxy URL carries those credentials.
    #[serde(default)]
    pub client_sends_credentials: bool,
    /// Nothing listens where the client's proxy variable points.
    #[serde(default)]
    pub down: bool,
    /// The client's http_proxy names it too (plain `http://` URLs go through it).
    #[serde(default)]
    pub http: bool,
    /// Host names it answers 502 Bad Gateway for (it cannot connect).
    #[serde(default)]
    pub bad_gateway: Vec<String>,
    /// Host names it answers 504 Gateway Timeout for.
    #[serde(default)]
    pub gateway_timeout: Vec<String>,
    /// Host names whose CONNECT it never answers.
    #[serde(default)]
    pub silent: Vec<String>,
    /// Host names it answers with a header that never ends.
    #[serde(default)]
    pub endless_header: Vec<String>,
    /// The client's NO_PROXY.
    pub no_proxy: String,
}

#[derive(Deserialize)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// All scenarios, `healthy` first.
pub fn scenarios() -> &'static [Scenario] {
    static ALL: OnceLock<Vec<Scenario>> = OnceLock::new();
    ALL.get_or_init(|| {
        // Compiled-in data covered by tests; a parse failure is a build defect.
        toml::from_str::<ScenarioFile>(include_str!("scenarios.toml")).expect("scenarios.toml parses").scenario
    })
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    scenarios().iter().find(|s| s.name == name)
}
