//! Rules about the rest of this machine: local addresses and routes inside
//! Docker's bridge range that are not Docker's own.

use super::{Code, Collector, Hit};
use crate::local::Machine;
use crate::net::DOCKER_BRIDGE;

/// Adds this machine's address findings to `out`.
pub(super) fn judge(machine: &Machine, out: &mut Collector) {
    let code = Code::DockerBridgeOverlap;
    let docker_own = |iface: &str| iface == "docker0";
    for a in &machine.interfaces {
        if DOCKER_BRIDGE.contains(&a.address.addr()) && !docker_own(&a.interface) {
            let label = format!("{} ({})", a.address, a.interface);
            let evidence = format!("this machine's address {} on {} is inside 172.17.0.0/16", a.address, a.interface);
            out.add(code, code.severity(true), Hit::new(label, evidence));
        }
    }
    for r in &machine.routes {
        let overlaps = r.destination.prefix_len() > 0
            && (DOCKER_BRIDGE.contains(&r.destination) || r.destination.contains(&DOCKER_BRIDGE.network()));
        if overlaps && !docker_own(&r.interface) {
            let label = format!("route {} ({})", r.destination, r.interface);
            let evidence = format!("a route to {} via {} overlaps 172.17.0.0/16", r.destination, r.interface);
            out.add(code, code.severity(true), Hit::new(label, evidence));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::interfaces::{InterfaceAddress, Route};

    fn findings(machine: &Machine) -> Vec<String> {
        let mut out = Collector::default();
        judge(machine, &mut out);
        out.into_findings().into_iter().flat_map(|f| f.hosts).collect()
    }

    #[test]
    fn docker_s_own_bridge_is_not_an_overlap() {
        let iface = |name: &str, net: &str| InterfaceAddress { interface: name.into(), address: net.parse().unwrap() };
        let route =
            |name: &str, net: &str| Route { interface: name.into(), destination: net.parse().unwrap(), gateway: None };
        let machine = Machine {
            interfaces: vec![
                iface("docker0", "172.17.0.1/16"),
                iface("eth1", "172.17.5.4/24"),
                iface("eth0", "10.0.0.4/24"),
            ],
            routes: vec![route("docker0", "172.17.0.0/16"), route("vpn0", "172.17.8.0/24"), route("eth0", "0.0.0.0/0")],
            ..Machine::default()
        };
        assert_eq!(findings(&machine), vec!["172.17.5.4/24 (eth1)", "route 172.17.8.0/24 (vpn0)"]);
    }
}
