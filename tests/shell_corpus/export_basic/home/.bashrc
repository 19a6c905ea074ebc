export https_proxy=http://10.0.0.5:3128
export http_proxy=http://10.0.0.6:8080
export no_proxy=localhost,127.0.0.1,.azureml.ms
export HTTPS_PROXY=http://10.0.0.5:3128
export HTTP_PROXY=http://10.0.0.6:8080
export NO_PROXY=localhost,127.0.0.1,.azureml.ms
