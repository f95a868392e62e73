#!/usr/bin/env bash
# Installs what the runner, the lab and the tests need on a fresh Debian
# machine: restic (file-system backup in the lab's Velero before 1.12),
# chromium (the HTML report check), npm (Cucumber's own tools read
# cucumber.json in a test), the Python package with its pinned dependencies,
# those Cucumber tools, and the lab's programs built with Go from their
# modules (realstack/build.sh): Velero's file-system uploader (the lab's
# node-agent data path), versitygw (the lab's S3 server) and the kopia CLI
# (tests and diagnostics); 3-6 min cold, a no-op afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v restic >/dev/null 2>&1 || need_apt+=(restic)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "setup: installing the dmaas runner and its Python dependencies"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# consumers of cucumber.json, for tests/runner/test_cucumber.py (pinned)
npm_dir="${DMAAS_CACHE:-$HOME/.cache/dmaas}/npm"
if [ ! -d "$npm_dir/node_modules/cucumber-junit-convert" ] || [ ! -d "$npm_dir/node_modules/cucumber-html-reporter" ]; then
  echo "setup: installing cucumber-junit-convert and cucumber-html-reporter with npm"
  mkdir -p "$npm_dir"
  npm install --silent --no-audit --no-fund --prefix "$npm_dir" \
    cucumber-junit-convert@2.1.1 cucumber-html-reporter@7.2.0 >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: error: Go is needed to build the lab's uploader and S3 server; install Go 1.24+" >&2
  exit 1
fi
bash realstack/build.sh velero-uploader versitygw kopia >/dev/null
echo "setup: done"
