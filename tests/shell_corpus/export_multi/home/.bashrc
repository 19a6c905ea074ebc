export https_proxy=http://10.0.0.5:3128 http_proxy=http://10.0.0.6:8080 no_proxy=localhost # all three
export ALL_PROXY=http://proxy.corp.example:3129; export all_proxy=http://proxy.corp.example:3129
