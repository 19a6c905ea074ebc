[ -d /etc ] && { export https_proxy=http://10.0.0.5:3128; export no_proxy=.brace; }
[ -d /nonexistent-dir ] && {
  export http_proxy=http://never:1
}
