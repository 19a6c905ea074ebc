export https_proxy=http://10.0.0.5:3128
