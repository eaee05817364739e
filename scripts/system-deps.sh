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

# fal-js (@fal-ai/client), the real peer of the proxy tests (tests/proxy/test_fal_js.py), on the
# machine's Node.js, and esbuild, which bundles it for the browser that runs the proxy guide's
# JavaScript (tests/proxy/test_docs_browser.py). Installed into a cache folder outside the
# repository, never into the tree; the tests read the versions from these lines and look in the
# same folder.
FAL_JS_VERSION=1.10.1
ESBUILD_VERSION=0.28.2
FAL_JS_PREFIX="${FAL_TYPED_NODE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/fal-typed/node}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
npm_version() {
  # npm_version PACKAGE: the version installed in the cache folder, or nothing.
  node -p "require('$FAL_JS_PREFIX/node_modules/$1/package.json').version" 2>/dev/null || true
}
if [ "$(npm_version @fal-ai/client)" != "$FAL_JS_VERSION" ] || [ "$(npm_version esbuild)" != "$ESBUILD_VERSION" ]; then
  mkdir -p "$FAL_JS_PREFIX"
  npm install --prefix "$FAL_JS_PREFIX" --no-audit --no-fund --loglevel=error \
    "@fal-ai/client@$FAL_JS_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
fi

# PostgreSQL (initdb, pg_ctl): tests/batch start a server of their own for the PostgreSQL journal
# and its multi-worker kill test.
have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}
if ! have_postgres; then
  apt_install postgresql
fi

# Chromium: tests/batch/test_report.py opens the batch gallery (index.html) headless and checks
# its screenshot; tests/docs/test_site.py searches the built documentation site and screenshots
# an endpoint page.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
