// The real Go client's proxy decisions, for tests/no_proxy_clients.rs.
//
// net/http reads the proxy variables once per process (ProxyFromEnvironment
// caches them), so the test starts this program once per environment and
// hands it, as a JSON list on stdin, every URL to decide under that
// environment. Nothing here opens a socket.
//
// For each {"id", "url"} it prints {"id", "proxy"} (the proxy URL
// http.ProxyFromEnvironment returns, "" for a direct request) or
// {"id", "error"}. With "parse": true it also says whether the Transport
// could dial the proxy's address: "port_error" is what net's own port parser
// (the one Dial uses) says of the port the Transport would dial.
package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
)

type query struct {
	ID  int    `json:"id"`
	URL string `json:"url"`
}

type answer struct {
	ID        int    `json:"id"`
	Proxy     string `json:"proxy"`
	Host      string `json:"host,omitempty"`
	Port      string `json:"port,omitempty"`
	PortError string `json:"port_error,omitempty"`
	Error     string `json:"error,omitempty"`
}

// The port the Transport dials for a proxy URL (net/http's canonicalAddr).
var defaultPorts = map[string]string{"http": "80", "https": "443", "socks5": "1080"}

func main() {
	var queries []query
	if err := json.NewDecoder(os.Stdin).Decode(&queries); err != nil {
		os.Stderr.WriteString("bad input: " + err.Error() + "\n")
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	for _, q := range queries {
		a := answer{ID: q.ID}
		u, err := url.Parse(q.URL)
		if err != nil {
			a.Error = "target: " + err.Error()
			out.Encode(a)
			continue
		}
		proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u})
		if err != nil {
			a.Error = err.Error()
		} else if proxy != nil {
			a.Proxy = proxy.String()
			a.Host = proxy.Hostname()
			a.Port = proxy.Port()
			if a.Port == "" {
				a.Port = defaultPorts[proxy.Scheme]
			}
			if _, err := net.LookupPort("tcp", a.Port); err != nil {
				a.PortError = err.Error()
			}
		}
		out.Encode(a)
	}
}
