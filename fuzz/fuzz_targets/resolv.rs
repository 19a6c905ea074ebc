//! resolv.conf: never panics; what it keeps is what the file says.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rc = amlnet::local::resolv::ResolvConf::parse("fuzz", &text);
    assert!(rc.nameservers.len() <= text.lines().count());
    let _ = rc.servers();
    let _ = rc.is_systemd_stub();
});
