https_proxy=http://10.0.0.6:8080
