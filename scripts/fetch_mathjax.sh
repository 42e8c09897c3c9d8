#!/usr/bin/env bash
# Puts a local copy of MathJax 3 under book/_static/mathjax/ so the book renders its
# formulas with no request to a CDN. MathJax comes from the npm registry (`npm pack`,
# which checks the tarball's integrity); only the files the CommonHTML output needs are
# kept (~3 MB): the combined tex-mml-chtml.js, its woff-v2 fonts, the TeX extensions it
# may autoload, the menu and the accessibility modules. The folder is git-ignored.
set -euo pipefail
VERSION="${MATHJAX_VERSION:-3.2.2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/book/_static/mathjax}"
STAMP="$DEST/.version"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VERSION" ] && [ -f "$DEST/tex-mml-chtml.js" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_mathjax.sh: npm is missing; it is needed once to fetch MathJax $VERSION from the npm registry." >&2
  echo "Fix: apt-get install npm (or install Node.js), then rerun make book." >&2
  exit 1
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "fetching mathjax@$VERSION from the npm registry (once)..."
(cd "$TMP" && npm pack --silent "mathjax@$VERSION" >/dev/null)
tar -xzf "$TMP"/mathjax-"$VERSION".tgz -C "$TMP"
SRC="$TMP/package/es5"
test -f "$SRC/tex-mml-chtml.js" || { echo "fetch_mathjax.sh: mathjax@$VERSION has no es5/tex-mml-chtml.js" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$DEST/output/chtml/fonts" "$DEST/input/tex"
cp "$SRC/tex-mml-chtml.js" "$DEST/"
cp -r "$SRC/output/chtml/fonts/woff-v2" "$DEST/output/chtml/fonts/"
cp -r "$SRC/input/tex/extensions" "$DEST/input/tex/"
cp -r "$SRC/ui" "$SRC/a11y" "$SRC/adaptors" "$DEST/"
cp "$TMP/package/LICENSE" "$DEST/LICENSE" 2>/dev/null || true
echo "$VERSION" > "$STAMP"
echo "MathJax $VERSION is in ${DEST#$ROOT/} ($(du -sh "$DEST" | cut -f1))."
