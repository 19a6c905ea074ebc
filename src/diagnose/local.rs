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
