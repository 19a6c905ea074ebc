//! Workspace JSON (`az ml workspace show`, `az resource show`): never panics;
//! an accepted document gives a plan whose every host is a valid host name.
#![no_main]

use amlnet::catalogue::Catalogue;
use amlnet::plan::Plan;
use amlnet::target::{Target, TargetFlags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(target) = Target::resolve(Some(("fuzz.json", text)), &TargetFlags::default(), &|_| None) else { return };
    if let Ok(plan) = Plan::build_checked(Catalogue::builtin(), &target) {
        for host in plan.hosts() {
            amlnet::hostname::validate(host, false).unwrap();
        }
    }
});
