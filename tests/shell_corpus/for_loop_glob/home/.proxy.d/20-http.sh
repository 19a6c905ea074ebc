export http_proxy=http://10.0.0.6:8080
export https_proxy=http://proxy.corp.example:3129
