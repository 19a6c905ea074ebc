#!/usr/bin/env bash
# amlnet in an Azure Machine Learning compute instance's setup script.
#
# Installs amlnet from a path or URL the admin gives, runs `amlnet check`
# for the workspace this instance belongs to (amlnet reads it from the
# instance's environment: MLFLOW_TRACKING_URI and CI_NAME), and writes the
# JSON and Markdown reports where the user finds them from the studio
# (Notebooks > Files: the workspace file share under cloudfiles/code).
# Findings never fail the instance's creation: amlnet's exit status is
# logged, and only passed on with --strict.
#
# Usage (the setup script's arguments):
#   ci-setup.sh --from PATH|URL [--sha256 HEX] [--report-dir DIR]
#               [--install-dir DIR] [--strict] [-- AMLNET CHECK FLAGS...]
#
#   --from         the amlnet binary, or a dist tarball (amlnet-*-linux-musl.tar.gz),
#                  as a path (e.g. on the file share) or an http(s)/file URL
#   --sha256       refuse the download unless it has this SHA-256 (see dist/SHA256SUMS)
#   --report-dir   where the reports go [default: cloudfiles/code/amlnet-reports/<instance>]
#   --install-dir  where amlnet is installed [default: /usr/local/bin]
#   --strict       exit with amlnet's status (1 on findings): creation then fails on findings
#   after --        more `amlnet check` flags, e.g. --workspace-id GUID (the GUID is not
#                  in the instance's environment) or --vnet-cidr 10.0.0.0/16
set -uo pipefail

log() { echo "amlnet-setup: $*"; }
from="" sha="" report_dir="" install_dir=/usr/local/bin strict=no
while [ "$#" -gt 0 ]; do
  case "$1" in
    --from) from=${2:-}; shift 2 ;;
    --sha256) sha=${2:-}; shift 2 ;;
    --report-dir) report_dir=${2:-}; shift 2 ;;
    --install-dir) install_dir=${2:-}; shift 2 ;;
    --strict) strict=yes; shift ;;
    --) shift; break ;;
    *) log "unknown argument '$1' (see the comment at the top of this script)"; exit 2 ;;
  esac
done
[ -n "$from" ] || { log "--from PATH|URL is required"; exit 2; }

# Install problems are reported like findings: logged, not fatal unless --strict.
give_up() { log "$1"; if [ "$strict" = yes ]; then exit 2; fi; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$from" in
  http://*|https://*|file://*)
    log "downloading $from"
    curl -fsSL --retry 3 -o "$work/download" "$from" || give_up "cannot download $from"
    ;;
  *)
    [ -f "$from" ] || give_up "--from $from: no such file"
    cp "$from" "$work/download" || give_up "cannot read $from"
    ;;
esac
if [ -n "$sha" ]; then
  echo "$sha  $work/download" | sha256sum -c --quiet - >/dev/null 2>&1 || give_up "$from: SHA-256 is not $sha"
fi
if tar -tzf "$work/download" >/dev/null 2>&1; then
  mkdir -p "$work/x"
  tar -xzf "$work/download" -C "$work/x" || give_up "$from: cannot unpack"
  binary=$(find "$work/x" -type f -name amlnet | head -n1)
  [ -n "$binary" ] || give_up "$from: no amlnet in the archive"
else
  binary="$work/download"
fi
mkdir -p "$install_dir" && install -m 0755 "$binary" "$install_dir/amlnet" || give_up "cannot install to $install_dir"
amlnet="$install_dir/amlnet"
"$amlnet" --version >/dev/null 2>&1 || give_up "$from: not an amlnet for this machine"
log "installed $("$amlnet" --version) as $amlnet"

# The instance's identity: from the environment, or /etc/environment when
# the setup script's own environment lacks it (read, never sourced).
for var in MLFLOW_TRACKING_URI CI_NAME; do
  if [ -z "${!var:-}" ] && [ -r /etc/environment ]; then
    value=$(sed -n "s/^${var}=\"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}\$/\\1/p" /etc/environment | tail -n1)
    [ -n "$value" ] && export "$var=$value"
  fi
done
instance=${CI_NAME:-$(hostname)}
if [ -z "$report_dir" ]; then
  if [ -d /home/azureuser/cloudfiles/code ]; then
    report_dir=/home/azureuser/cloudfiles/code/amlnet-reports/$instance
  else
    report_dir=/home/azureuser/amlnet-reports
  fi
fi
mkdir -p "$report_dir" || give_up "cannot create $report_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json="$report_dir/amlnet-$stamp.json" md="$report_dir/amlnet-$stamp.md"

log "amlnet check for ${MLFLOW_TRACKING_URI:-the workspace named by the flags} on $instance"
"$amlnet" check --no-color --save "json:$json" --save "markdown:$md" "$@"
status=$?
cp -f "$json" "$report_dir/amlnet-latest.json" 2>/dev/null
cp -f "$md" "$report_dir/amlnet-latest.md" 2>/dev/null
case "$status" in
  0) log "no findings at error level; reports in $report_dir" ;;
  1) log "findings (exit status 1); reports in $report_dir" ;;
  *) log "amlnet could not run the check (exit status $status); see the line above" ;;
esac
if [ "$strict" = yes ]; then exit "$status"; fi
exit 0
