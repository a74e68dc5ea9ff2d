#!/usr/bin/env bash
# Real-browser test of the walkthrough's widgets: starts JupyterLab from the project venv on 127.0.0.1, opens
# nbs/tutorials/01_walkthrough.ipynb in Debian's headless Chromium (driven by npm playwright-core), runs every cell,
# moves the token-ratio slider with the keyboard and checks that the plotly figure and the summary follow.
# Writes tests/browser/out/widget.png; exits non-zero on any failure.
#
# Needs: the venv (`make test` makes it), Chromium (`apt-get install chromium chromium-driver`) and
# `npm ci` in tests/browser with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1. Never `npx playwright install`: the browser is
# Debian's. Environment: FPT_KIT_VENV, CHROMIUM, FPT_KIT_BROWSER_NB (notebook, relative to the repo),
# FPT_KIT_BROWSER_TIMEOUT (seconds, default 600), FPT_DEBUG=1 (print the figure's DOM on failure).
# Nothing in the repo changes: autosave is off, checkpoints, settings and workspaces go to a temporary folder.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${FPT_KIT_VENV:-$REPO/.venv}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
NB="${FPT_KIT_BROWSER_NB:-nbs/tutorials/01_walkthrough.ipynb}"
OUT="$HERE/out"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf "%d.%d" $(( $1 / 1000 )) $(( ($1 % 1000) / 100 )); }
t_start=$(ms)

fail() { echo "browser test: $*" >&2; exit 2; }
[ -x "$VENV/bin/jupyter-lab" ] || fail "no JupyterLab in $VENV: run \`make test\` (or pip install -e '.[dev]') first"
[ -x "$CHROMIUM" ] || fail "no Chromium at $CHROMIUM: apt-get install chromium chromium-driver (or set CHROMIUM)"
[ -f "$HERE/node_modules/playwright-core/package.json" ] || fail "playwright-core missing: (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
[ -f "$REPO/$NB" ] || fail "no notebook $NB"

mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/server.log
WORK="$(mktemp -d)"  # Jupyter config, runtime, settings and workspaces of this run only
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true  # the server's own process group: the server and its kernels
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# JupyterLab settings for a test: no autosave (the notebook in the repo must not change), every cell rendered (no
# windowing, so offscreen outputs exist in the DOM), no news or update checks. Checkpoints go to $WORK too.
mkdir -p "$WORK/settings/@jupyterlab/docmanager-extension" "$WORK/settings/@jupyterlab/notebook-extension" \
         "$WORK/settings/@jupyterlab/apputils-extension" "$WORK/workspaces" "$WORK/config" "$WORK/runtime"
echo '{"autosave": false}' > "$WORK/settings/@jupyterlab/docmanager-extension/plugin.jupyterlab-settings"
echo '{"windowingMode": "none"}' > "$WORK/settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
echo '{"fetchNews": "false", "checkForUpdates": false}' > "$WORK/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"

PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
before="$(sha256sum "$REPO/$NB" | cut -d' ' -f1)"

# setsid: the server leads its own process group, so cleanup can end it and its kernels by that id
env -u IN_TEST HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1 \
    JUPYTER_CONFIG_DIR="$WORK/config" JUPYTER_RUNTIME_DIR="$WORK/runtime" \
    setsid "$VENV/bin/jupyter-lab" --no-browser --ip=127.0.0.1 --port="$PORT" --port-retries=0 \
    --IdentityProvider.token='' --ServerApp.password='' --ServerApp.allow_root=True \
    --ServerApp.root_dir="$REPO" --ServerApp.open_browser=False \
    --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
    --LabApp.expose_app_in_browser=True \
    --LabApp.user_settings_dir="$WORK/settings" --LabApp.workspaces_dir="$WORK/workspaces" \
    --FileCheckpoints.root_dir="$WORK/checkpoints" \
    > "$OUT/server.log" 2>&1 &
SERVER_PID=$!

URL="http://127.0.0.1:$PORT"
"$VENV/bin/python" - "$URL/api/status" <<'PY' || { tail -30 "$OUT/server.log" >&2; fail "JupyterLab did not answer on $URL"; }
import sys, time, urllib.request
for _ in range(240):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            if r.status == 200: sys.exit(0)
    except OSError: time.sleep(0.5)
sys.exit(1)
PY
echo "JupyterLab up at $URL after $(secs $(( $(ms) - t_start ))) s"

rc=0
LAB_URL="$URL" NOTEBOOK="$NB" OUT_DIR="$OUT" CHROMIUM="$CHROMIUM" TIMEOUT_S="${FPT_KIT_BROWSER_TIMEOUT:-600}" \
    timeout --kill-after=10 "$(( ${FPT_KIT_BROWSER_TIMEOUT:-600} + 120 ))" node "$HERE/widget.mjs" || rc=$?

after="$(sha256sum "$REPO/$NB" | cut -d' ' -f1)"
if [ "$before" != "$after" ]; then echo "browser test: $NB changed on disk during the test" >&2; rc=1; fi
echo "browser test wall time: $(secs $(( $(ms) - t_start ))) s (rc=$rc)"
exit $rc
