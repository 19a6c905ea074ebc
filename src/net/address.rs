//! What counts as private: inside `--vnet-cidr` when given; otherwise
//! RFC 1918 and 100.64.0.0/10, which Azure also accepts for a VNet
//! (FACTS.md, [WIRE]). Docker's default bridge is named on its own.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

/// Azure's DNS and WireServer address, the same in every region and cloud.
pub const AZURE_DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16));

/// Docker's default bridge on Azure ML compute, 172.17.0.0/16.
pub const DOCKER_BRIDGE: IpNet = IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(172, 17, 0, 0), 16));

/// Where an address falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Inside Docker's default bridge (also private).
    DockerBridge,
    /// Private by the rule in force.
    Private,
    /// Private by RFC 1918 / 100.64/10, but outside every `--vnet-cidr`.
    OutsideVnet,
    /// Anything else.
    Public,
}

/// The rule used to call an address private, for the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AddressRule {
    /// `vnet-cidr` or `rfc1918`.
    pub rule: &'static str,
    /// The ranges it accepts.
    pub ranges: Vec<String>,
}

/// Classifies addresses by one rule.
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    vnet: Vec<IpNet>,
}

impl AddressPolicy {
    /// The policy for the given `--vnet-cidr` values (none: RFC 1918).
    pub fn new(vnet: Vec<IpNet>) -> Self {
        AddressPolicy { vnet }
    }

    /// The `--vnet-cidr` ranges (empty: none given).
    pub fn vnet(&self) -> &[IpNet] {
        &self.vnet
    }

    /// Where `ip` falls.
    pub fn classify(&self, ip: IpAddr) -> AddressClass {
        if DOCKER_BRIDGE.contains(&ip) {
            return AddressClass::DockerBridge;
        }
        let generic = is_private_range(ip);
        if self.vnet.is_empty() {
            return if generic { AddressClass::Private } else { AddressClass::Public };
        }
        if self.vnet.iter().any(|n| n.contains(&ip)) {
            AddressClass::Private
        } else if generic {
            AddressClass::OutsideVnet
        } else {
            AddressClass::Public
        }
    }

    /// The rule in force, for the report.
    pub fn rule(&self) -> AddressRule {
        if self.vnet.is_empty() {
            AddressRule {
                rule: "rfc1918",
                ranges: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]
                    .map(String::from)
                    .to_vec(),
            }
        } else {
            AddressRule { rule: "vnet-cidr", ranges: self.vnet.iter().map(|n| n.to_string()).collect() }
        }
    }
}

/// RFC 1918, the shared range Azure accepts (100.64.0.0/10), and IPv6 ULA.
pub fn is_private_range(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let p = AddressPolicy::new(vec![]);
        assert_eq!(p.classify("10.1.2.3".parse().unwrap()), AddressClass::Private);
        assert_eq!(p.classify("100.64.0.9".parse().unwrap()), AddressClass::Private);
        assert_eq!(p.classify("100.128.0.9".parse().unwrap()), AddressClass::Public);
        assert_eq!(p.classify("172.17.0.4".parse().unwrap()), AddressClass::DockerBridge);
        assert_eq!(p.classify("203.0.113.5".parse().unwrap()), AddressClass::Public);
        let v = AddressPolicy::new(vec!["10.0.0.0/16".parse().unwrap()]);
        assert_eq!(v.classify("10.0.9.9".parse().unwrap()), AddressClass::Private);
        assert_eq!(v.classify("10.9.0.4".parse().unwrap()), AddressClass::OutsideVnet);
    }
}
