//! How the system's stub resolver asks its servers: glibc's rules
//! (`resolv/res_send.c`, `resolv/res_init.c`, resolv.conf(5)), so that
//! amlnet's verdict on a name is the one `getaddrinfo` reaches on the same
//! resolv.conf. Shared by `local` (which reads the options) and `probe`
//! (which follows them).

use std::time::Duration;

/// glibc uses at most this many `nameserver` lines (MAXNS in resolv.h).
pub const MAX_NAMESERVERS: usize = 3;

/// The options of resolv.conf that change which server's answer a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverRules {
    /// `options timeout:N`: the wait for the first try (glibc: default 5 s, at most 30).
    pub timeout: Duration,
    /// `options attempts:N`: rounds over all servers (glibc: default 2, at most 5).
    pub attempts: u32,
    /// `options rotate`: each query starts at the next server, so any server may be first.
    pub rotate: bool,
    /// `options edns0`: queries carry an OPT record (glibc sends none by default).
    pub edns0: bool,
    /// `options use-vc`: queries go over TCP only.
    pub tcp_only: bool,
}

impl Default for ResolverRules {
    fn default() -> ResolverRules {
        ResolverRules { timeout: Duration::from_secs(5), attempts: 2, rotate: false, edns0: false, tcp_only: false }
    }
}

impl ResolverRules {
    /// One try per server, in order: for servers named on the command line,
    /// which are asked for what they say now rather than as a client would.
    pub fn one_try() -> ResolverRules {
        ResolverRules { attempts: 1, ..ResolverRules::default() }
    }

    /// The rules an `options` list sets, read as glibc's `res_setoptions` does:
    /// later words win, out-of-range numbers are clamped, unknown words ignored.
    pub fn from_options<S: AsRef<str>>(words: &[S]) -> ResolverRules {
        let mut rules = ResolverRules::default();
        for word in words {
            let word = word.as_ref();
            if let Some(n) = word.strip_prefix("timeout:").and_then(leading_number) {
                rules.timeout = Duration::from_secs(n.clamp(1, 30));
            } else if let Some(n) = word.strip_prefix("attempts:").and_then(leading_number) {
                rules.attempts = n.clamp(1, 5) as u32;
            } else {
                match word {
                    "rotate" => rules.rotate = true,
                    "edns0" => rules.edns0 = true,
                    "use-vc" | "usevc" => rules.tcp_only = true,
                    _ => {}
                }
            }
        }
        rules
    }

    /// How long glibc waits for one try of one server: `timeout`, the same
    /// on every round. (res_send.c reads as if later rounds waited longer;
    /// glibc 2.36 measured here waits `timeout` each time, and
    /// tests/dns.rs holds amlnet to what glibc does, not to what it reads as.)
    pub fn wait(&self) -> Duration {
        self.timeout
    }
}

/// glibc reads the digits after `timeout:` with `atoi`: a number prefix, 0 when none.
fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).take(6).collect();
    Some(digits.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_as_glibc_reads_them() {
        let r = ResolverRules::from_options(&["timeout:1", "attempts:9", "rotate", "ndots:2"]);
        assert_eq!(r.timeout, Duration::from_secs(1));
        assert_eq!(r.attempts, 5);
        assert!(r.rotate);
        assert_eq!(ResolverRules::from_options(&["timeout:0"]).timeout, Duration::from_secs(1));
        assert_eq!(ResolverRules::from_options(&["timeout:99"]).timeout, Duration::from_secs(30));
        assert_eq!(ResolverRules::from_options::<&str>(&[]), ResolverRules::default());
    }
}
