export https_proxy=http://10.0.0.5:3128
export http_proxy=http://10.0.0.6:8080
[ "$(id -u)" -ne 0 ] && unset https_proxy
