export no_proxy="$no_proxy,.home"
