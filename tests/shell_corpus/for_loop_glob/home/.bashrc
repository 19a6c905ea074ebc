for f in ~/.proxy.d/*.sh; do
  . "$f"
done
unset f
