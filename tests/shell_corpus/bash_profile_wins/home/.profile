export no_proxy=profile
