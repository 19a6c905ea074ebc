export no_proxy="$no_proxy,.azureml.ms"
