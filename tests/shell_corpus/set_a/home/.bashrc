set -a
https_proxy=http://10.0.0.5:3128
no_proxy=localhost
set +a
http_proxy=http://10.0.0.6:8080
