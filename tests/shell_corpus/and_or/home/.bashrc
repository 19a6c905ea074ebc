true && export https_proxy=http://10.0.0.5:3128
false && export http_proxy=http://never:1
false || export http_proxy=http://10.0.0.6:8080
! false && export no_proxy=.bang
true || export NO_PROXY=never
[ -d /etc ] && [ -d /nonexistent-dir ] && export ALL_PROXY=never || export all_proxy=http://proxy.corp.example:3129
