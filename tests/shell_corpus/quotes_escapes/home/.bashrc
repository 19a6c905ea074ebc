export https_proxy="http://10.0.0.5:3128"
export http_proxy='http://10.0.0.6:8080'
export no_proxy=$'localhost,.corp'
export NO_PROXY=local\host,\
.azureml.ms
export ALL_PROXY="http://proxy\"q:1"
