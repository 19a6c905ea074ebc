cat > /dev/null <<EOF
export https_proxy=http://heredoc:1
EOF
cat > /dev/null <<-'END'
	export http_proxy=http://heredoc:2
	END
export no_proxy=after-heredocs
