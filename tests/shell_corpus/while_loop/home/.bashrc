export http_proxy=http://10.0.0.6:8080
while false; do
  export https_proxy=http://10.0.0.5:3128
done
