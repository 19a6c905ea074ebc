( export https_proxy=http://subshell:1 )
export http_proxy=http://piped:1 | cat
export no_proxy=http://bg:1 &
wait
export NO_PROXY=.kept
