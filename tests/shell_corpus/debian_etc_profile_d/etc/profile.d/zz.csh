setenv http_proxy http://csh:1
