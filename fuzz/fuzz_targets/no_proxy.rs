//! NO_PROXY as curl, Python requests and Go read it: never panics, and a
//! `*` entry bypasses every host for every client.
#![no_main]

use amlnet::local::proxy::{Client, bypasses};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // First line: the NO_PROXY value; second: the host.
    let (no_proxy, host) = text.split_once('\n').unwrap_or((&text, "x.workspace.eastus.api.azureml.ms"));
    for client in Client::ALL {
        let direct = bypasses(client, no_proxy, host);
        if no_proxy.split(',').any(|e| e.trim() == "*") {
            assert!(direct, "{client:?}: '*' bypasses everything");
        }
        let _ = bypasses(client, &format!("{no_proxy},*"), host);
    }
});
