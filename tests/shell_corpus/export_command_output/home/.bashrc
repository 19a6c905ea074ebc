export $(grep -v '^#' ~/.env | xargs)
