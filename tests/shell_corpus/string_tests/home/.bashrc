SITE=corp-east
[ "$SITE" = corp-east ] && export https_proxy=http://10.0.0.5:3128
[[ $SITE == corp-* ]] && export http_proxy=http://10.0.0.6:8080
[ -z "$SITE" ] && export no_proxy=wrong
[ -n "$SITE" ] && export NO_PROXY=.right
[[ $SITE != corp-* ]] && export ALL_PROXY=http://wrong:1
