#!/usr/bin/env bash
# Installs what the runner, the lab and the tests need on a fresh Debian
# machine: restic (file-system backup in the lab's Velero), chromium (the HTML
# report check), and the Python package with its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v restic >/dev/null 2>&1 || need_apt+=(restic)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "setup: installing the dmaas runner and its Python dependencies"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
echo "setup: done"
