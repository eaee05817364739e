#!/usr/bin/env bash
# Installs, when missing, the real programs that parts of the test suite run: each block names the
# tests that need it. Idempotent and quiet when everything is present; CI (.ci/run) runs it first.
set -euo pipefail

apt_install() {
  # apt_install PACKAGE...: install Debian packages, as root or through sudo.
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
