. ~/.proxyrc
export NO_PROXY=.bashrc
