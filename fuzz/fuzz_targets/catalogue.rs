//! Catalogue TOML (`--probes DIR/*.toml`, and `clouds.toml` there): never
//! panics; an accepted file plans only valid host names for a sample target.
#![no_main]

use amlnet::catalogue::Catalogue;
use amlnet::plan::Plan;
use amlnet::target::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(catalogue) = Catalogue::with_extra_text("fuzz.toml", text, first & 1 == 1) else { return };
    let target = Target {
        workspace_id: Some("6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f".into()),
        workspace_name: Some("mlw".into()),
        region: Some("eastus".into()),
        storage_accounts: vec!["stfuzz".into()],
        key_vault: Some("kv-fuzz".into()),
        container_registry: Some("crfuzz".into()),
        app_insights: Some("ai-fuzz".into()),
        compute_instance: Some("ci-fuzz".into()),
        ..Target::default()
    };
    if let Ok(plan) = Plan::build_checked(&catalogue, &target) {
        for host in plan.hosts() {
            amlnet::hostname::validate(host, false).unwrap();
        }
    }
});
