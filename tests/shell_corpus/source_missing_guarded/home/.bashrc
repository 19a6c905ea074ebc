[ -f ~/.nope ] && . ~/.nope
if [ -f ~/.proxyrc ]; then
    . ~/.proxyrc
fi
export http_proxy=http://10.0.0.6:8080
