export http_proxy=http://10.0.0.6:8080
if [ "$(id -u)" -eq 0 ]; then
  export https_proxy=http://10.0.0.5:3128
fi
