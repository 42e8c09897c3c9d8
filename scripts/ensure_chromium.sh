#!/usr/bin/env bash
# Installs Debian's chromium (for the book's browser test) when it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "chromium missing: installing Debian's chromium (apt-get install chromium)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "WARNING: /usr/bin/chromium is missing and this user cannot apt-get install it;" \
     "the browser test will fail. Fix: sudo apt-get install chromium" >&2
