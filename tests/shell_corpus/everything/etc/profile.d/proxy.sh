export https_proxy=http://profiled:1
