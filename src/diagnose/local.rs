//! Rules about the rest of this machine: where Docker's bridge really is
//! and what of the workspace's network falls inside it.
//!
//! Docker routes its bridge subnet (172.17.0.0/16 unless "bip" moved it) to
//! docker0 on the machine where containers run, so an address the
//! workspace needs inside that subnet is unreachable from there. Being a
//! container on such a bridge (eth0 in 172.17.0.0/16, no docker0), or a
//! route broader than the bridge (a VPN's 172.16.0.0/12), is not a conflict:
//! the more specific docker0 route wins on the host, and inside a container
//! the bridge is the way out.

use ipnet::IpNet;

use super::{Code, Collector, Hit};
use crate::local::Machine;
use crate::net::DOCKER_BRIDGE;

/// Docker's bridge on this machine: docker0's own subnet, when docker0 is here.
pub fn bridge_here(machine: &Machine) -> Option<IpNet> {
    machine.interfaces.iter().find(|a| a.interface == "docker0").map(|a| a.address.trunc())
}

/// Adds this machine's address findings to `out`; `vnet` is the `--vnet-cidr` list.
pub(super) fn judge(machine: &Machine, vnet: &[IpNet], out: &mut Collector) {
    let code = Code::DockerBridgeOverlap;
    let here = bridge_here(machine);
    if let Some(bridge) = here {
        for a in machine.interfaces.iter().filter(|a| a.interface != "docker0") {
            if bridge.contains(&a.address.addr()) {
                let label = format!("{} ({})", a.address, a.interface);
                let evidence = format!(
                    "this machine's address {} on {} is inside docker0's subnet {bridge}: replies to it go to the bridge",
                    a.address, a.interface
                );
                out.add(code, code.severity(true), Hit::new(label, evidence));
            }
        }
        for r in machine.routes.iter().filter(|r| r.interface != "docker0") {
            if r.destination.prefix_len() > 0 && bridge.contains(&r.destination) {
                let label = format!("route {} ({})", r.destination, r.interface);
                let evidence = format!(
                    "a route to {} via {} lies inside docker0's subnet {bridge}: containers cannot reach it",
                    r.destination, r.interface
                );
                out.add(code, code.severity(true), Hit::new(label, evidence));
            }
        }
    }
    // The VNet itself: compute in it runs Docker on 172.17.0.0/16 (or this machine's bridge).
    for net in vnet {
        let bridges: Vec<IpNet> = here.into_iter().chain([DOCKER_BRIDGE]).collect();
        if let Some(bridge) = bridges.iter().find(|b| b.contains(&net.network()) || net.contains(&b.network())) {
            let label = format!("--vnet-cidr {net}");
            let evidence = format!(
                "the VNet range {net} overlaps Docker's bridge {bridge}: compute there sends that traffic into docker0"
            );
            out.add(code, code.severity(true), Hit::new(label, evidence));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::interfaces::{InterfaceAddress, Route};

    fn iface(name: &str, net: &str) -> InterfaceAddress {
        InterfaceAddress { interface: name.into(), address: net.parse().unwrap() }
    }

    fn route(name: &str, net: &str) -> Route {
        Route { interface: name.into(), destination: net.parse().unwrap(), gateway: None }
    }

    fn findings(machine: &Machine, vnet: &[&str]) -> Vec<String> {
        let vnet: Vec<IpNet> = vnet.iter().map(|v| v.parse().unwrap()).collect();
        let mut out = Collector::default();
        judge(machine, &vnet, &mut out);
        out.into_findings().into_iter().flat_map(|f| f.hosts).collect()
    }

    #[test]
    fn an_address_or_route_inside_docker0_s_subnet_is_an_overlap() {
        let machine = Machine {
            interfaces: vec![
                iface("docker0", "172.17.0.1/16"),
                iface("eth1", "172.17.5.4/24"),
                iface("eth0", "10.0.0.4/24"),
            ],
            routes: vec![route("docker0", "172.17.0.0/16"), route("vpn0", "172.17.8.0/24"), route("eth0", "0.0.0.0/0")],
            ..Machine::default()
        };
        assert_eq!(findings(&machine, &[]), vec!["172.17.5.4/24 (eth1)", "route 172.17.8.0/24 (vpn0)"]);
    }

    #[test]
    fn a_container_on_the_bridge_and_a_broader_vpn_route_are_not() {
        let container = Machine {
            interfaces: vec![iface("eth0", "172.17.0.2/16")],
            routes: vec![route("eth0", "172.17.0.0/16"), route("eth0", "0.0.0.0/0")],
            ..Machine::default()
        };
        assert!(findings(&container, &[]).is_empty());
        let vpn = Machine {
            interfaces: vec![iface("docker0", "172.17.0.1/16"), iface("vpn0", "10.8.0.2/24")],
            routes: vec![route("vpn0", "172.16.0.0/12"), route("docker0", "172.17.0.0/16")],
            ..Machine::default()
        };
        assert!(findings(&vpn, &[]).is_empty());
    }

    #[test]
    fn docker0_s_real_subnet_counts_and_a_vnet_inside_the_bridge_is_named() {
        let moved = Machine {
            interfaces: vec![iface("docker0", "192.168.200.1/24"), iface("eth0", "192.168.200.9/24")],
            ..Machine::default()
        };
        assert_eq!(findings(&moved, &[]), vec!["192.168.200.9/24 (eth0)"]);
        assert_eq!(findings(&Machine::default(), &["172.17.0.0/20", "10.0.0.0/16"]), vec!["--vnet-cidr 172.17.0.0/20"]);
    }
}
