export https_proxy=$(cat ~/.proxy-url)
export http_proxy=`cat ~/.proxy-url`
export no_proxy=localhost
