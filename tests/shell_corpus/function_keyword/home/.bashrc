function pon {
  export https_proxy=http://10.0.0.5:3128
}
poff()
{
  unset https_proxy
  export http_proxy=http://10.0.0.6:8080
}
pon
poff
pon
