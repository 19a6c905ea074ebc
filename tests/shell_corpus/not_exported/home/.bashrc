HTTPS_PROXY=http://10.0.0.5:3128
export HTTP_PROXY=http://10.0.0.6:8080
no_proxy=.corp
