//! Finding codes: each defined once, with its severity rule and the words
//! `explain` prints and the reports reuse. The codes are a type, so a
//! misspelt code does not compile; their strings are stable once released.

use serde::{Serialize, Serializer};

use super::Severity;

/// How a code's severity is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeverityRule {
    /// An error where the thing is required, a warning where it is situational.
    ByNeed,
    /// Always a warning: it works today, by luck or by a fragile route.
    Warning,
    /// Always worth knowing, never a failure.
    Info,
    /// Always an error: it breaks everything behind it.
    Error,
}

/// Everything amlnet says about one finding code.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    /// The code.
    pub code: Code,
    /// How its severity is decided.
    pub severity: SeverityRule,
    /// A one-line title.
    pub title: &'static str,
    /// The probable cause, in plain words.
    pub cause: &'static str,
    /// What to change.
    pub remedy: &'static str,
    /// Microsoft documentation.
    pub docs: &'static [&'static str],
    /// The studio's "workspace diagnostics" category it maps to.
    pub category: &'static str,
}

/// Defines [`Code`] and its table from one list, so that a code, its string
/// and its words cannot drift apart.
macro_rules! finding_codes {
    ($($variant:ident = $code:literal {
        severity: $rule:ident,
        title: $title:expr,
        cause: $cause:expr,
        remedy: $remedy:expr,
        docs: $docs:expr,
        category: $category:expr $(,)?
    })*) => {
        /// A finding code. The declaration order is the order findings of
        /// the same severity appear in a report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $code] $variant,)*
        }

        impl Code {
            /// Every code, in report order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable kebab-case string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// Its words and severity rule.
            pub const fn info(self) -> &'static CodeInfo {
                match self {
                    $(Code::$variant => &CodeInfo {
                        code: Code::$variant,
                        severity: SeverityRule::$rule,
                        title: $title,
                        cause: $cause,
                        remedy: $remedy,
                        docs: $docs,
                        category: $category,
                    },)*
                }
            }
        }
    };
}

impl Code {
    /// The code for a string, as `explain` takes it.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The severity of a finding with this code where the thing is
    /// `required` (an error) or situational (a warning).
    pub fn severity(self, required: bool) -> Severity {
        match self.info().severity {
            SeverityRule::ByNeed if required => Severity::Error,
            SeverityRule::ByNeed | SeverityRule::Warning => Severity::Warning,
            SeverityRule::Info => Severity::Info,
            SeverityRule::Error => Severity::Error,
        }
    }

    /// Whether the detail should name the privatelink zone of the host.
    pub fn names_zone(self) -> bool {
        matches!(
            self,
            Code::DnsPublicAnswer
                | Code::DnsNxdomain
                | Code::DnsNoPrivatelink
                | Code::DnsOutsideVnet
                | Code::DnsNoAddress
                | Code::DnsCustomNoForwarder
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

const DNS_DOC: &str = "https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns";
const PE_DNS_DOC: &str = "https://learn.microsoft.com/azure/private-link/private-endpoint-dns";
const TS_DOC: &str =
    "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-secure-connection-workspace";
const FW_DOC: &str = "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall";
const NET_DOC: &str = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet";
const WIRE_DOC: &str = "https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16";

finding_codes! {
    DnsNxdomain = "dns-nxdomain" {
        severity: ByNeed,
        title: "Name does not exist",
        cause: "The resolver says the name (or a name its CNAME chain points to) does not exist. For a private endpoint this usually means the A record is missing from the privatelink zone (the private endpoint's DNS zone group is empty or points at another zone), or the resource name is misspelt.",
        remedy: "Check the record in the private DNS zone named in the detail. If the private endpoint has no DNS zone group, add one (or recreate the private endpoint with private DNS integration). Check the resource name against `az ml workspace show`.",
        docs: &[DNS_DOC, TS_DOC],
        category: "DNS resolution",
    }
    DnsTimeout = "dns-timeout" {
        severity: ByNeed,
        title: "No DNS server answered",
        cause: "Every configured DNS server stayed silent until the timeout: the server is down, unreachable from here, or a firewall drops DNS (UDP and TCP 53).",
        remedy: "Check that the DNS servers in /etc/resolv.conf (or given with --dns-server) are running and reachable on port 53. In an Azure VNet, 168.63.129.16 is Azure DNS; a custom DNS server must forward the privatelink zones to it.",
        docs: &[DNS_DOC, WIRE_DOC],
        category: "DNS resolution",
    }
    DnsServerError = "dns-server-error" {
        severity: ByNeed,
        title: "DNS server answered with an error",
        cause: "The DNS server answered SERVFAIL or REFUSED: it could not reach its forwarder, refuses recursion for this client, or a DNSSEC check failed.",
        remedy: "Check the DNS server's forwarders (conditional forwarders to 168.63.129.16 for the privatelink zones) and that it allows queries from this machine's network.",
        docs: &[DNS_DOC],
        category: "DNS resolution",
    }
    DnsNoAddress = "dns-no-address" {
        severity: ByNeed,
        title: "Name exists but has no address",
        cause: "The name exists in DNS but has no A record: the zone holds other record types only, a CNAME points at a name without an address, or the CNAME chain loops back on itself.",
        remedy: "Add the A record for the private endpoint in its privatelink zone (the private endpoint's network interface shows the address); remove any CNAME in that zone that points back at the public name.",
        docs: &[PE_DNS_DOC],
        category: "DNS resolution",
    }
    DnsPublicAnswer = "dns-public-answer" {
        severity: ByNeed,
        title: "Private endpoint name resolves to a public address",
        cause: "The name went through its privatelink CNAME but ended on a public address. The privatelink zone exists in Azure but is not visible to the resolver this machine uses: the private DNS zone is not linked to the VNet of the DNS server, the machine does not use the intended DNS server, or a custom DNS server does not forward the privatelink zone to Azure DNS (168.63.129.16). Traffic then goes to the public endpoint, where public network access is usually disabled.",
        remedy: "Link each private DNS zone listed at the end to the VNet whose DNS server this machine uses (Private DNS zone > Virtual network links). With a custom DNS server, add a conditional forwarder for each zone to 168.63.129.16. With a VPN or on-premises client, forward to a DNS resolver inside the VNet.",
        docs: &[DNS_DOC, PE_DNS_DOC, TS_DOC],
        category: "DNS resolution",
    }
    DnsNoPrivatelink = "dns-no-privatelink" {
        severity: ByNeed,
        title: "Name resolves without a privatelink CNAME",
        cause: "The name resolves straight to an address without passing through a privatelink CNAME: the resource has no private endpoint, or its private endpoint connection is not approved.",
        remedy: "Create a private endpoint for the resource in the workspace's VNet (or approve the pending connection under Networking > Private endpoint connections), with private DNS integration.",
        docs: &[NET_DOC, PE_DNS_DOC],
        category: "DNS resolution",
    }
    DnsZoneOverride = "dns-zone-override" {
        severity: Warning,
        title: "Private address without the privatelink CNAME",
        cause: "The name resolves to a private address, but not through the privatelink CNAME: a DNS zone for the public name itself (e.g. blob.core.windows.net) or a hosts entry answers. It works for this name, but such a zone answers for every resource under that suffix and breaks those without a record.",
        remedy: "Prefer the privatelink zone (privatelink.<service>) linked to the VNet, or conditional forwarders to 168.63.129.16, over zones named after the public suffix.",
        docs: &[PE_DNS_DOC],
        category: "DNS resolution",
    }
    DnsOutsideVnet = "dns-outside-vnet" {
        severity: ByNeed,
        title: "Private address outside the VNet",
        cause: "The name resolves to a private address that is not inside any --vnet-cidr: a stale record (an old or deleted private endpoint), a record from another VNet's zone, or an on-premises override.",
        remedy: "Compare the address with the private endpoint's network interface in the portal and correct the A record in the privatelink zone. If the address range is right, add it with --vnet-cidr.",
        docs: &[PE_DNS_DOC, TS_DOC],
        category: "DNS resolution",
    }
    DockerBridgeOverlap = "docker-bridge-overlap" {
        severity: ByNeed,
        title: "Address inside Docker's bridge range 172.17.0.0/16",
        cause: "An address falls in 172.17.0.0/16, the range of Docker's default bridge on Azure ML compute. Traffic to it from a compute node goes into the local docker0 bridge instead of the VNet, so jobs and image builds cannot reach it.",
        remedy: "Move the VNet, subnet or private endpoint out of 172.17.0.0/16, or give the Docker daemon on your own machines another bridge range (\"bip\" in /etc/docker/daemon.json).",
        docs: &[NET_DOC],
        category: "Other",
    }
    TcpTimeout = "tcp-timeout" {
        severity: ByNeed,
        title: "Connection attempts time out (filtered)",
        cause: "The SYN got no answer: a network security group, a user-defined route into a firewall, or the firewall itself drops the traffic silently.",
        remedy: "Allow the port outbound in the NSG of this machine's subnet (service tag in the detail), check the route table for a next hop that drops it, and add an application or network rule on the firewall.",
        docs: &[NET_DOC, FW_DOC],
        category: "Network security rules",
    }
    TcpRefused = "tcp-refused" {
        severity: ByNeed,
        title: "Connection refused",
        cause: "Something at the address answered with a reset: the host is reachable but nothing listens on the port, or a firewall rejects the connection actively.",
        remedy: "Check that the address is the service's (private endpoint or public) and not a stale record, and whether a firewall rule rejects this port.",
        docs: &[FW_DOC],
        category: "Network security rules",
    }
    TcpUnreachable = "tcp-unreachable" {
        severity: ByNeed,
        title: "No route to the host",
        cause: "The kernel or a router reported that the address cannot be reached: no route from this machine (a missing VPN route, a user-defined route, a peering that is not connected), or an ICMP unreachable from a router on the way.",
        remedy: "Check this machine's routes (ip route) and, in Azure, the effective routes of its network interface; check the VPN or peering that should carry the private range.",
        docs: &[NET_DOC, TS_DOC],
        category: "User-defined routes",
    }
    LocalDialFailed = "local-dial-failed" {
        severity: ByNeed,
        title: "This machine failed the connection before sending anything",
        cause: "The operating system refused to open the socket or send the query or connection: a local firewall rule (iptables/nftables OUTPUT, a host-based firewall or security policy gives EPERM/EACCES), no file descriptors left for this process or machine (EMFILE/ENFILE: a low `ulimit -n`), or no socket buffers. Nothing reached the network, so nothing is known about the path itself.",
        remedy: "Check this machine's own firewall (`iptables -S OUTPUT`, `nft list ruleset`, endpoint security software) and its limits (`ulimit -n`; raise it, or run amlnet with a lower --concurrency), then run the check again.",
        docs: &[NET_DOC, TS_DOC],
        category: "Other",
    }
    UdpRejected = "udp-rejected" {
        severity: ByNeed,
        title: "UDP datagram rejected",
        cause: "An ICMP port-unreachable came back for the datagram: the host or a firewall on the way actively rejects this UDP port.",
        remedy: "Allow the UDP port outbound (service tag in the detail) in the NSG and on the firewall.",
        docs: &[NET_DOC, FW_DOC],
        category: "Network security rules",
    }
    TlsUntrusted = "tls-untrusted" {
        severity: ByNeed,
        title: "Certificate not trusted",
        cause: "The TLS handshake completed up to the certificate, which does not verify against this machine's trust store. When the issuer is not the service's own CA, a firewall or proxy is inspecting TLS and re-signing with its own CA; otherwise this machine's CA store is missing or outdated.",
        remedy: "With TLS inspection: exempt the Azure ML, storage, Key Vault and registry names from inspection on the firewall (Microsoft does not support inspecting them), or install the firewall's CA on this machine (and in the Python CA bundle: REQUESTS_CA_BUNDLE, PIP_CERT, conda's ssl_verify). Otherwise update the CA certificates package.",
        docs: &[FW_DOC, TS_DOC],
        category: "Other",
    }
    TlsInspected = "tls-inspected" {
        severity: Info,
        title: "TLS is inspected (trusted here)",
        cause: "The certificate verified, but its issuer is not the service's CA: a firewall or proxy inspects TLS with a CA this machine trusts. Tools with their own CA bundle (Python's certifi used by pip and requests, conda, Java, Node.js) do not see that CA and fail with certificate errors.",
        remedy: "Exempt these names from TLS inspection, or point each tool at the inspection CA (REQUESTS_CA_BUNDLE, PIP_CERT, conda config --set ssl_verify <file>, NODE_EXTRA_CA_CERTS).",
        docs: &[FW_DOC],
        category: "Other",
    }
    TlsReset = "tls-reset" {
        severity: ByNeed,
        title: "Connection reset after the ClientHello",
        cause: "TCP opened, then the connection was reset or closed as soon as the TLS ClientHello was sent: a firewall filters by the name in the ClientHello (SNI, an FQDN or application rule) and this name is not allowed.",
        remedy: "Add an application rule (or FQDN rule) on the firewall that allows these names on port 443 for this machine's subnet.",
        docs: &[FW_DOC],
        category: "Network security rules",
    }
    TlsTimeout = "tls-timeout" {
        severity: ByNeed,
        title: "TLS handshake never completes",
        cause: "TCP opened, but the handshake did not complete within the timeout. When no ServerHello came back at all: a filter that drops instead of resetting, or an MTU black hole. When the ServerHello came and the rest stalled: the large certificate packets are lost (an MTU black hole, common over VPNs, because ICMP 'fragmentation needed' is blocked), or the link is too slow for the certificate chain; the detail says how many bytes arrived.",
        remedy: "Check the firewall's application rules for these names. On a VPN, lower the MTU of the tunnel interface (e.g. 1350) or allow ICMP type 3 code 4, and try again.",
        docs: &[FW_DOC, TS_DOC],
        category: "Network security rules",
    }
    TlsClockSkew = "tls-clock-skew" {
        severity: ByNeed,
        title: "Certificate outside its validity period",
        cause: "The certificate is expired or not yet valid by this machine's clock. Azure's certificates are renewed well ahead of time, so the usual cause is this machine's clock (a VM without time sync, a laptop after sleep), or an inspection proxy re-signing with a stale certificate.",
        remedy: "Check the clock (timedatectl; chrony or systemd-timesyncd against time.windows.com or the host's time source). If the clock is right, look at who issued the certificate.",
        docs: &[TS_DOC],
        category: "Other",
    }
    TlsFailed = "tls-failed" {
        severity: ByNeed,
        title: "TLS handshake failed",
        cause: "The TLS handshake failed for another reason (an alert from the server, a protocol or version mismatch); the detail gives the message.",
        remedy: "Compare with `openssl s_client -connect HOST:443 -servername HOST` from the same machine; a proxy or firewall that only speaks old TLS versions is the usual cause.",
        docs: &[FW_DOC],
        category: "Other",
    }
    HttpBlocked = "http-blocked" {
        severity: ByNeed,
        title: "A firewall or proxy answered with a denial",
        cause: "The request was answered, but not by the service: a firewall or proxy refused it. Azure Firewall answers status 470 with its action and reason ('Action: Deny. Reason: No rule matched'); a proxy refuses CONNECT with 403 (or another 4xx) of its own; an inspecting proxy or firewall answers with its block page and its own Server header. A Via header alone is not taken for a denial (CDNs such as Fastly add one to every answer), nor is a service's own 403 over a certificate from the service's CA.",
        remedy: "Allow these names in the firewall's or proxy's policy (application rules, URL categories) for this machine.",
        docs: &[FW_DOC, NET_DOC],
        category: "Network security rules",
    }
    HttpFailed = "http-failed" {
        severity: ByNeed,
        title: "No HTTP answer after a good handshake",
        cause: "TLS completed, but the HTTP request got no answer (timeout, connection closed): a proxy or firewall that lets the handshake through but cuts the request, or a server-side problem.",
        remedy: "Retry with curl -v https://HOST/ from this machine and compare; check the firewall's logs for this name.",
        docs: &[FW_DOC],
        category: "Other",
    }
    DnsCustomNoForwarder = "dns-custom-no-forwarder" {
        severity: ByNeed,
        title: "Custom DNS server does not forward the privatelink zone",
        cause: "The configured DNS server answers a private-endpoint name publicly (or says it does not exist), while Azure DNS (168.63.129.16), asked from this machine's VNet, gives the private one: the private DNS zone exists and is linked to this VNet, but the custom DNS server does not get it. Either it has no conditional forwarder to Azure DNS for the zone, or (the usual case with an Azure Firewall DNS proxy or a Private DNS Resolver in a hub) it forwards to Azure DNS from the hub's VNet, where the zone is not linked: linking the zone only to the spoke that holds the workspace is not enough.",
        remedy: "If the DNS server is an Azure Firewall DNS proxy or a Private DNS Resolver inbound endpoint in a hub, link each privatelink zone listed to the hub's VNet (the VNet of the firewall or resolver). Otherwise, on the custom DNS server, add a conditional forwarder to 168.63.129.16 for each zone listed (the public zone, e.g. blob.core.windows.net, or the privatelink zone), from a DNS server inside a VNet linked to the zone. With a VPN gateway and custom DNS, 168.63.129.16 must also be in the VNet's DNS list.",
        docs: &[DNS_DOC, PE_DNS_DOC],
        category: "DNS resolution",
    }
    DnsHostsOverride = "dns-hosts-override" {
        severity: ByNeed,
        title: "/etc/hosts pins an Azure name",
        cause: "A hosts-file entry decides the address of this name before DNS is asked. It was probably added to work around DNS once; it does not follow the private endpoint when its address changes, and it hides what DNS would say.",
        remedy: "Remove the entry and fix DNS instead (privatelink zone link, or a conditional forwarder); if it must stay, check the address against the private endpoint's network interface.",
        docs: &[DNS_DOC, TS_DOC],
        category: "DNS resolution",
    }
    ProxyUnreachable = "proxy-unreachable" {
        severity: Error,
        title: "The configured proxy does not accept connections",
        cause: "A proxy variable names a proxy, and the TCP connection to it failed (refused, timed out or no route), so nothing that honours the variable can reach the internet.",
        remedy: "Check the proxy's address and port in the variable, and that this subnet may reach it (NSG, route table).",
        docs: &[FW_DOC],
        category: "Network security rules",
    }
    HttpProxyAuth = "http-proxy-auth" {
        severity: ByNeed,
        title: "The proxy requires authentication",
        cause: "The proxy answered 407 Proxy Authentication Required: it wants credentials the request did not carry (none in the proxy URL, or wrong ones).",
        remedy: "Put the proxy user in the URL (http://user:password@proxy:port, percent-encoding special characters), or ask for this machine's address to be exempted from proxy authentication; prefer a credential store to a password in ~/.bashrc.",
        docs: &[FW_DOC],
        category: "Network security rules",
    }
    ProxyUpstreamFailed = "proxy-upstream-failed" {
        severity: ByNeed,
        title: "The proxy could not reach the destination",
        cause: "The proxy took the request but could not complete it: it answered CONNECT with a gateway error (502 Bad Gateway, 504 Gateway Timeout, or 500/503 from proxies that use them for a failed connection, such as tinyproxy's 500 'Unable to connect' and squid's 503), or it gave no answer at all within the timeout while it kept trying. The proxy is reached and does not refuse; its own way out is the problem: its DNS cannot resolve the name, or a firewall between the proxy and the service drops or rejects the connection.",
        remedy: "On the proxy: check that it resolves the name and may connect to it on this port (its outbound firewall rules, the firewall's application rules for the proxy's address, the route from the proxy's subnet). The proxy's own log names the failed connection. Nothing on this machine needs to change.",
        docs: &[FW_DOC],
        category: "Network security rules",
    }
    ProxyProtocolError = "proxy-protocol-error" {
        severity: ByNeed,
        title: "The proxy's answer is not usable HTTP",
        cause: "The proxy accepted the connection but its answer to CONNECT could not be used: it was not HTTP (the variable points at another service's port), its header never ended (more than amlnet reads, or not within the timeout), or the connection was closed or reset without an answer. Clients fail the same way, with a protocol or 'connection reset' error rather than a status.",
        remedy: "Check that the proxy variable names the proxy's HTTP port (often 3128 or 8080) and an http:// URL; compare with `curl -v -x http://PROXY:PORT https://HOST/` from this machine; the proxy's log says what it did with the request.",
        docs: &[FW_DOC],
        category: "Other",
    }
    ProxyNotExported = "proxy-not-exported" {
        severity: Warning,
        title: "Proxy variable set but not exported",
        cause: "~/.bashrc assigns a proxy variable without `export`: the shell itself has it, but no program started from the shell (pip, conda, az, python, curl) sees it.",
        remedy: "Write `export HTTPS_PROXY=...` (and the same for HTTP_PROXY and NO_PROXY), or add `export NAME` after the assignment.",
        docs: &[NET_DOC],
        category: "Other",
    }
    ProxyEnvMismatch = "proxy-env-mismatch" {
        severity: Warning,
        title: "Proxy settings differ between ~/.bashrc and this run",
        cause: "The live environment of this run does not have the proxy values ~/.bashrc sets (or the upper- and lower-case variables disagree). A compute instance's setup script, cron and systemd services run non-interactive shells that never read ~/.bashrc, and Ubuntu's default bashrc returns early for them.",
        remedy: "Set the variables where every process sees them: /etc/environment, or export them in the setup script itself before the commands that need them; put them before the 'If not running interactively, don't do anything' guard in ~/.bashrc. Keep HTTPS_PROXY and https_proxy equal.",
        docs: &[NET_DOC, "https://learn.microsoft.com/azure/machine-learning/how-to-customize-compute-instance"],
        category: "Other",
    }
    ProxyMalformed = "proxy-malformed" {
        severity: ByNeed,
        title: "Proxy variable is not a usable URL",
        cause: "At least one client cannot use the value, or the clients read it as different proxies. curl, Python requests (pip, conda, az) and Go (azcopy, docker) each parse it their own way; the detail names each client that rejects it, ignores it (Go then connects directly) or dials another host or port. For example, `localhost:3128` without a scheme works in curl and Go but fails in requests, which reads `localhost` as the scheme, while `127.0.0.1:7890` works in all three; curl dials port 1080 when an http:// value has no port, the others port 80; Go reads `socks5h://p:1080` as the host `socks5h`.",
        remedy: "Use the form http://host:port (or http://user:password@host:port, the password percent-encoded), with the port written out and without quotes or spaces inside the value.",
        docs: &[NET_DOC],
        category: "Other",
    }
    ProxyCredentialsInClear = "proxy-credentials-in-clear" {
        severity: Warning,
        title: "Proxy password in clear text",
        cause: "A proxy URL carries a password. Every process on the machine can read it from the environment, and it ends up in shell history, logs and support tickets.",
        remedy: "Use a proxy that authenticates the machine (by address or Kerberos), or keep the password out of ~/.bashrc (a file readable only by you, sourced at login). amlnet masks it as *** in every output.",
        docs: &[NET_DOC],
        category: "Other",
    }
    NoProxyMissingPrivate = "no-proxy-missing-private" {
        severity: Error,
        title: "Private-endpoint names would be sent to the proxy",
        cause: "A proxy is set and NO_PROXY does not cover these private-endpoint names, so clients send them to the proxy, which reaches the public endpoint (public access disabled: 403) or cannot resolve the private name at all. Clients read NO_PROXY differently; the detail says which send what.",
        remedy: "Add the private-endpoint suffixes to NO_PROXY in a form every client understands: a leading dot (.api.azureml.ms,.notebooks.azure.net,.blob.core.windows.net,.file.core.windows.net,.vault.azure.net,.azurecr.io) or the VNet's address range (CIDR); not '*.suffix', which only Go understands.",
        docs: &[NET_DOC, FW_DOC],
        category: "Other",
    }
    NoProxyMissingMetadata = "no-proxy-missing-metadata" {
        severity: Warning,
        title: "Azure's metadata addresses would be sent to the proxy",
        cause: "A proxy is set and NO_PROXY does not cover 168.63.129.16 (Azure DNS / WireServer) or 169.254.169.254 (the instance metadata service, which serves managed-identity tokens). Requests to them must never go through a proxy.",
        remedy: "Add 168.63.129.16,169.254.169.254 to NO_PROXY (and no_proxy).",
        docs: &["https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service", WIRE_DOC],
        category: "Other",
    }
    TlsRevocationUnreachable = "tls-revocation-unreachable" {
        severity: Warning,
        title: "Certificate revocation endpoints are blocked",
        cause: "The certificates the services presented name CRL distribution points and OCSP responders (plain HTTP on port 80), and this machine cannot fetch them (filtered, refused, or denied by the proxy or firewall). Clients that check revocation online wait for them: Windows and .NET take about 15 seconds per connection and then fail or carry on depending on their policy, and Java with revocation checking enabled fails. Python, curl and Go do not check, so they work.",
        remedy: "Allow outbound HTTP (port 80) to the revocation hosts listed in the detail (they are named in the certificates themselves) in the firewall's application rules or the proxy's allow list; Microsoft publishes the CRL and OCSP hosts of Azure's certificate authorities in its Azure CA details article.",
        docs: &[FW_DOC, "https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details"],
        category: "Network security rules",
    }
    RunDeadlineExceeded = "run-deadline-exceeded" {
        severity: ByNeed,
        title: "Some probes did not finish before the deadline",
        cause: "The whole run is bounded by --deadline; the probes listed had not finished when it passed, so their verdict is unknown. A run that could not judge a required endpoint is an error: it cannot be called healthy.",
        remedy: "Run again with a longer --deadline, a shorter --timeout, or a higher --concurrency.",
        docs: &[],
        category: "Other",
    }
    RunInterrupted = "run-interrupted" {
        severity: ByNeed,
        title: "The run was interrupted before some probes finished",
        cause: "Ctrl-C or SIGTERM came while the probes listed were still waiting, so their verdict is unknown. Everything that finished is in the report.",
        remedy: "Run again and let it finish: --timeout shortens the wait on filtered ports, and --deadline bounds the whole run.",
        docs: &[],
        category: "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_distinct_kebab_case_and_parse_back() {
        for (i, code) in Code::ALL.iter().enumerate() {
            let s = code.as_str();
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{s}");
            assert_eq!(Code::parse(s), Some(*code));
            assert_eq!(code.info().code, *code);
            assert!(Code::ALL[..i].iter().all(|c| c.as_str() != s), "{s} twice");
        }
        assert_eq!(Code::parse("dns-nxdomian"), None);
    }

    #[test]
    fn severity_follows_the_rule() {
        assert_eq!(Code::TcpTimeout.severity(true), Severity::Error);
        assert_eq!(Code::TcpTimeout.severity(false), Severity::Warning);
        assert_eq!(Code::DnsZoneOverride.severity(true), Severity::Warning);
        assert_eq!(Code::TlsInspected.severity(true), Severity::Info);
        assert_eq!(Code::ProxyUnreachable.severity(false), Severity::Error);
    }
}
