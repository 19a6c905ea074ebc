if [ -e ~/.no-such-file ]; then
  export https_proxy=http://then:1
else
  export https_proxy=http://10.0.0.5:3128
fi
[ -r ~/.no-such-file ] || export http_proxy=http://10.0.0.6:8080
