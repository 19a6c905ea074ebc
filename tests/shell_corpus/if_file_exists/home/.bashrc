if [ -f ~/.use-proxy ]; then
  export https_proxy=http://10.0.0.5:3128
elif [ -d /etc ]; then
  export https_proxy=http://elif:1
else
  export https_proxy=http://else:1
fi
