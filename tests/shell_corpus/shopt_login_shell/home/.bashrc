if shopt -q login_shell; then
  export https_proxy=http://10.0.0.5:3128
else
  export https_proxy=http://10.0.0.6:8080
fi
