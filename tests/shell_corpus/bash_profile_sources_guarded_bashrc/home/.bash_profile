[[ -f ~/.bashrc ]] && . ~/.bashrc
export no_proxy=localhost
