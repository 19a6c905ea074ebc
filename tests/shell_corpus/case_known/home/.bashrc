SITE=west2
case "$SITE" in
  east|east2) export https_proxy=http://east:1 ;;
  west*|central) export https_proxy=http://10.0.0.5:3128 ;;
  *) export https_proxy=http://other:1 ;;
esac
