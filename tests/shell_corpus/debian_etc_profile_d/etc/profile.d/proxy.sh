export https_proxy=http://10.0.0.5:3128
export no_proxy=localhost,.azureml.ms
