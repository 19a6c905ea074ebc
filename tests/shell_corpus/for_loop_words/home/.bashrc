for v in https_proxy HTTPS_PROXY; do
  export $v=http://10.0.0.5:3128
done
