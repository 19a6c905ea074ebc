set -o allexport
HTTPS_PROXY=http://10.0.0.5:3128
set +o allexport
HTTP_PROXY=http://10.0.0.6:8080
