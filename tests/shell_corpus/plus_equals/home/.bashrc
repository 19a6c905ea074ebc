export no_proxy=localhost
no_proxy+=",.azureml.ms"
export NO_PROXY=127.0.0.1
export NO_PROXY+=,.corp
https_proxy=http://10.0.0.5
https_proxy+=:3128
export https_proxy
