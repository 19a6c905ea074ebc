"""The real Python clients' proxy decisions, for tests/no_proxy_clients.rs.

Reads a JSON list of cases on stdin and prints one JSON object a line. Nothing
here opens a socket: requests and urllib are driven up to the point where they
have chosen (and parsed) the proxy, and stopped before they dial.

A "route" case {"id", "url", "env"} replaces the proxy variables of this
process with "env" and asks, for "url":
  requests: the proxy requests' Session would send it to (its own
            merge_environment_settings, then the adapter's select_proxy),
  pip:      the same with the requests that pip vendors, when there is one,
  urllib:   the proxy urllib's ProxyHandler would use (getproxies and
            proxy_bypass with the host and port, as ProxyHandler passes them).
The answer is the proxy string, or null for a direct request.

A "parse" case {"id", "value"} sets https_proxy=value and asks requests'
HTTPAdapter for the connection pool it would dial for an https URL (the path
Session.send takes: get_connection_with_tls_context, proxy_manager_for); the
answer is {"host", "port"} of the proxy, or {"error": exception name}.
"""

import json
import os
import sys
import urllib.request

import requests
import requests.adapters

try:
    from pip._vendor import requests as pip_requests  # noqa: I001
except Exception:  # pip absent or without a vendored requests
    pip_requests = None

def set_env(env):
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            del os.environ[name]
    os.environ.update(env)


def session_proxy(module, url):
    session = module.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    return module.utils.select_proxy(url, settings["proxies"])


def urllib_proxy(url):
    request = urllib.request.Request(url)
    proxies = urllib.request.getproxies()
    scheme = request.type
    if scheme not in proxies:
        return None
    if request.host and urllib.request.proxy_bypass(request.host):
        return None
    return proxies[scheme]


def parse(module, value):
    set_env({"https_proxy": value})
    try:
        prep = module.Request("GET", "https://target.test/").prepare()
        session = module.Session()
        settings = session.merge_environment_settings(prep.url, {}, None, None, None)
        adapter = module.adapters.HTTPAdapter()
        conn = adapter.get_connection_with_tls_context(prep, True, proxies=settings["proxies"])
        proxy = conn.proxy
        if proxy is None:
            return {"direct": True}
        return {"scheme": proxy.scheme, "host": proxy.host, "port": proxy.port}
    except Exception as e:  # the client's own rejection, by name
        return {"error": type(e).__name__}


def pip_parse(value):
    if pip_requests is None:
        return None
    # pip's vendored requests 2.31 has get_connection, not the TLS-context variant.
    set_env({"https_proxy": value})
    try:
        prep = pip_requests.Request("GET", "https://target.test/").prepare()
        settings = pip_requests.Session().merge_environment_settings(prep.url, {}, None, None, None)
        adapter = pip_requests.adapters.HTTPAdapter()
        proxy_url = pip_requests.utils.select_proxy(prep.url, settings["proxies"])
        conn = adapter.get_connection(prep.url, settings["proxies"])
        if proxy_url is None or conn.proxy is None:
            return {"direct": True}
        return {"scheme": conn.proxy.scheme, "host": conn.proxy.host, "port": conn.proxy.port}
    except Exception as e:
        return {"error": type(e).__name__}


def socks_available():
    try:
        import socks  # noqa: F401  (PySocks, which requests needs for socks5://)
    except ImportError:
        return False
    return True


def main():
    cases = json.load(sys.stdin)
    out = sys.stdout
    for case in cases:
        if case["kind"] == "route":
            set_env(case["env"])
            answer = {
                "id": case["id"],
                "requests": session_proxy(requests, case["url"]),
                "urllib": urllib_proxy(case["url"]),
                "pip": session_proxy(pip_requests, case["url"]) if pip_requests else None,
            }
        else:
            answer = {"id": case["id"], "requests": parse(requests, case["value"]), "pip": pip_parse(case["value"])}
        out.write(json.dumps(answer) + "\n")
    out.write(json.dumps({"versions": {"requests": requests.__version__,
                                        "pip_requests": pip_requests.__version__ if pip_requests else None,
                                        "python": sys.version.split()[0],
                                        "socks": socks_available()}}) + "\n")


if __name__ == "__main__":
    main()
