#!/usr/bin/env bash
# Real-browser test of the docs site: serves _docs/ (built by `make docs`) on 127.0.0.1 and drives it with Debian's
# headless Chromium (tests/browser/docs.mjs). Writes tests/browser/out/docs-*.png; exits non-zero on any failure.
# Needs: `make docs` first, Chromium, and `npm ci` in tests/browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${FPT_KIT_VENV:-$REPO/.venv}"
SITE_DIR="${FPT_KIT_DOCS:-$REPO/_docs}"
OUT="$HERE/out"
fail() { echo "docs browser test: $*" >&2; exit 2; }
[ -f "$SITE_DIR/index.html" ] || fail "no site in $SITE_DIR: run \`make docs\` first"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "no Chromium: apt-get install chromium (or set CHROMIUM)"
[ -f "$HERE/node_modules/playwright-core/package.json" ] || fail "playwright-core missing: (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
mkdir -p "$OUT"; rm -f "$OUT"/docs-*.png
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$VENV/bin/python" -m http.server "$PORT" --bind 127.0.0.1 -d "$SITE_DIR" > "$OUT/docs-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
"$VENV/bin/python" - "http://127.0.0.1:$PORT/index.html" <<'PY' || fail "the site server did not answer"
import sys, time, urllib.request
for _ in range(100):
    try: urllib.request.urlopen(sys.argv[1], timeout=2); sys.exit(0)
    except OSError: time.sleep(0.1)
sys.exit(1)
PY
SITE_URL="http://127.0.0.1:$PORT" OUT_DIR="$OUT" timeout 300 node "$HERE/docs.mjs"
