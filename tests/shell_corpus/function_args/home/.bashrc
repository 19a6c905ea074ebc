setproxy() {
  local url="$1"
  export https_proxy="$url" HTTPS_PROXY="$url"
}
setproxy http://proxy.corp.example:3129
export no_proxy="${url:-nolocal}"
