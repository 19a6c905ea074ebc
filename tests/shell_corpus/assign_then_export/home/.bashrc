https_proxy=http://10.0.0.5:3128
http_proxy=http://10.0.0.6:8080
# later
export https_proxy http_proxy
