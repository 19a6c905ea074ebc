//! NO_PROXY as curl, Python requests and Go read it: never panics; `*` as
//! the whole value bypasses every host for every client, and a `*` entry
//! anywhere in the list does for Go.
#![no_main]

use amlnet::local::proxy::{Client, bypasses, bypasses_at, route_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // First line: the NO_PROXY value; second: the host.
    let (no_proxy, host) = text.split_once('\n').unwrap_or((&text, "x.workspace.eastus.api.azureml.ms"));
    for client in Client::ALL {
        let direct = bypasses(client, no_proxy, host);
        if no_proxy == "*" || (client == Client::Go && no_proxy.split(',').any(|e| e.trim() == "*")) {
            assert!(direct, "{client:?}: '*' bypasses everything");
        }
        let _ = bypasses(client, &format!("{no_proxy},*"), host);
        let _ = bypasses_at(client, no_proxy, host, Some(8080), 80);
        let get = |name: &str| match name {
            "https_proxy" => Some(host.to_string()),
            "NO_PROXY" => Some(no_proxy.to_string()),
            _ => None,
        };
        let _ = route_for(client, "https", host, None, &get);
    }
});
