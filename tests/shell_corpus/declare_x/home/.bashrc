declare -x https_proxy=http://10.0.0.5:3128
typeset -x http_proxy=http://10.0.0.6:8080
declare -x NO_PROXY=.a
declare +x NO_PROXY
readonly HTTPS_PROXY=http://proxy.corp.example:3129
export HTTPS_PROXY
