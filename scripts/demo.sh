#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts evthrottled with the
# example configuration, runs the example clients against its 'default' throttle
# (4 processes sharing it), shows what happened with the operator tools, then
# stops the daemon and removes the demo's regions.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
evt_install_deps
evt_build build
b=build
conf=examples/evthrottled.conf

echo "== evthrottled --check-config"
# As root, without the packaged "evthrottle" user: --user root keeps root.
$b/daemon/evthrottled -c "$conf" --check-config --user root

echo "== starting evthrottled (foreground, in the background of this script)"
$b/daemon/evthrottled -c "$conf" --foreground --user root &
daemon=$!
cleanup() {
	kill -TERM "$daemon" 2>/dev/null && wait "$daemon" || true
	for n in default orders; do $b/daemon/evthrottled --remove "$n" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for _ in $(seq 100); do
	$b/tools/evthrottle-inspect -n orders stats >/dev/null 2>&1 && break
	kill -0 "$daemon" 2>/dev/null || { echo "evthrottled failed to start"; exit 1; }
	sleep 0.1
done

echo; echo "== the example clients"
$b/examples/usage_example default

echo; echo "== evthrottlectl status"
$b/tools/evthrottlectl -n default status
echo; echo "== evthrottle-inspect keys (5 newest)"
$b/tools/evthrottle-inspect -n default keys --limit 5
echo; echo "== evthrottlectl window 2s, then clear user7"
$b/tools/evthrottlectl -n default window 2s
$b/tools/evthrottlectl -n default window
$b/tools/evthrottlectl -n default clear user7
echo; echo "== evthrottle-inspect --json stats"
$b/tools/evthrottle-inspect -n default --json stats
echo
echo "== stopping evthrottled (the regions would stay for clients; the demo removes them)"
