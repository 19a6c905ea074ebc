proxy_on() {
  export https_proxy=http://10.0.0.5:3128
  export http_proxy=http://10.0.0.5:3128
  export no_proxy=localhost,.azureml.ms
}
proxy_off() {
  unset https_proxy http_proxy no_proxy
}
proxy_on
