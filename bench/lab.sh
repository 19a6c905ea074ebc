# Sourced by the benchmarks: a private network for them. `bench_enter "$@"`
# re-runs the calling script inside new user, network and mount namespaces
# (unshare; no route out, nothing beyond loopback), where `bench_network`
# starts real dnsmasq answering *.open|closed|filtered.bench.test and the
# listeners of bench/listeners.py, and `bench_catalogue N DIR` writes a
# catalogue of N endpoints, a third of each kind.

bench_enter() {
  if [ "${BENCH_INSIDE:-}" = 1 ]; then return 0; fi
  command -v dnsmasq >/dev/null || { echo "$0 needs dnsmasq (apt-get install dnsmasq-base)" >&2; exit 2; }
  [ -x /usr/bin/time ] || { echo "$0 needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
  cargo build --release --locked --quiet
  BENCH_INSIDE=1 exec unshare --user --map-root-user --net --mount bash "$0" "$@"
}

bench_network() {
  ip link set lo up
  # glibc's getaddrinfo (AI_ADDRCONFIG) returns IPv4 answers only where a
  # non-loopback IPv4 address exists: a veth pair, in this namespace only.
  ip link add bench0 type veth peer name bench1
  ip addr add 10.231.99.1/32 dev bench0
  ip link set bench0 up && ip link set bench1 up
  work=$(mktemp -d)
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
  printf 'nameserver 127.0.0.1\n' >"$work/resolv.conf"
  mount --bind "$work/resolv.conf" /etc/resolv.conf
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
    --user=root --group= --pid-file= --cache-size=10000 \
    --address=/open.bench.test/127.0.0.1 --address=/closed.bench.test/127.0.0.2 \
    --address=/filtered.bench.test/127.0.0.3 2>"$work/dnsmasq.log" &
  coproc LISTENERS { python3 bench/listeners.py; }
  local ready
  read -r ready <&"${LISTENERS[0]}"
  [ "$ready" = ready ] || { echo "listeners did not start" >&2; exit 1; }
  sleep 0.2
}

bench_hosts() { # N: the host names, one a line
  local kinds=(open closed filtered)
  for ((i = 0; i < $1; i++)); do echo "e$i.${kinds[$((i % 3))]}.bench.test"; done
}

bench_catalogue() { # N DIR
  mkdir -p "$2"
  local i=0 host
  bench_hosts "$1" | while read -r host; do
    printf '[[endpoint]]\nid = "bench-%d"\ngroup = "bench"\nhost = "%s"\nports = ["tcp/443"]\nexpect = "public"\nrequired = true\nservice_tag = "Internet"\npurpose = "benchmark"\ndocs = []\ntls = false\n\n' "$i" "$host"
    i=$((i + 1))
  done >"$2/bench.toml"
}

# The amlnet command line for catalogue DIR (only its TCP checks matter
# here), in the array AMLNET.
bench_amlnet() { # DIR TIMEOUT DEADLINE OUT
  AMLNET=("$PWD/target/release/amlnet" check --loopback-only
    --workspace-id 3f6c2a51-8e4b-4d2a-9b7e-5c1d0a9e7f42 --region eastus --probes "$1"
    --dns-server 127.0.0.1 --timeout "$2" --deadline "$3" --skip repos --skip vscode
    --skip udp --skip tls --bashrc /dev/null --hosts-file /dev/null --output json --out "$4")
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
