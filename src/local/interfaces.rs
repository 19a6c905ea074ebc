//! This machine's addresses and IPv4 routes, read from the kernel
//! (getifaddrs, /proc/net/route): no `ip` binary needed.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceAddress {
    /// Interface name (`eth0`, `docker0`).
    pub interface: String,
    /// Address with prefix length.
    pub address: IpNet,
}

/// One IPv4 route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Interface.
    pub interface: String,
    /// Destination network.
    pub destination: IpNet,
    /// Next hop, when not on-link.
    pub gateway: Option<IpAddr>,
}

/// The machine's addresses.
pub fn addresses() -> Vec<InterfaceAddress> {
    let Ok(list) = if_addrs::get_if_addrs() else { return Vec::new() };
    list.into_iter()
        .filter_map(|i| {
            let (ip, prefix) = match &i.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), prefix_len(IpAddr::V4(v4.netmask))),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), prefix_len(IpAddr::V6(v6.netmask))),
            };
            Some(InterfaceAddress { interface: i.name.clone(), address: IpNet::new(ip, prefix).ok()? })
        })
        .collect()
}

fn prefix_len(mask: IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(m).count_ones() as u8,
        IpAddr::V6(m) => u128::from(m).count_ones() as u8,
    }
}

/// The IPv4 routing table (main table) from /proc/net/route.
pub fn routes() -> Vec<Route> {
    std::fs::read_to_string("/proc/net/route").map(|t| parse_proc_route(&t)).unwrap_or_default()
}

/// Parses /proc/net/route: hexadecimal, little-endian addresses.
pub fn parse_proc_route(text: &str) -> Vec<Route> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(|v| Ipv4Addr::from(v.to_le_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, gw, mask) = (f.first()?, hex(f.get(1)?)?, hex(f.get(2)?)?, hex(f.get(7)?)?);
            let prefix = u32::from(mask).count_ones() as u8;
            Some(Route {
                interface: iface.to_string(),
                destination: IpNet::V4(Ipv4Net::new(dest, prefix).ok()?),
                gateway: (!gw.is_unspecified()).then_some(IpAddr::V4(gw)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_proc_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\ndocker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = super::parse_proc_route(text);
        assert_eq!(r[0].destination.to_string(), "0.0.0.0/0");
        assert_eq!(r[0].gateway.unwrap().to_string(), "10.0.0.1");
        assert_eq!(r[1].destination.to_string(), "172.17.0.0/16");
        assert_eq!(r[1].interface, "docker0");
    }
}
