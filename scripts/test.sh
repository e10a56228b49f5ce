#!/usr/bin/env bash
# Run every test: installs what is missing, builds into build/, runs `meson test`
# (every Criterion case), and prints the totals as "N passed, N failed".
#   scripts/test.sh [BUILD_DIR [meson options...]]
# EVT_TEST_ARGS adds arguments to `meson test` (e.g. "--no-suite python").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
evt_install_deps
dir=${1:-build}
[ $# -gt 0 ] && shift
evt_build "$dir" "$@"
rc=0
# shellcheck disable=SC2086 # EVT_TEST_ARGS is a list of words
meson test -C "$dir" --print-errorlogs ${EVT_TEST_ARGS:-} || rc=$?
python3 scripts/tap_totals.py "$dir/meson-logs/testlog.json"
exit $rc
