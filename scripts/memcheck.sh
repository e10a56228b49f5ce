#!/usr/bin/env bash
# valgrind memcheck over the daemon and every tool command, on a throttle of its
# own: any memory error or leak fails.  Prints "N passed, N failed".
#   scripts/memcheck.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
name="memcheck.$$"
conf=$(mktemp)
run=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null; wait 2>/dev/null; "$b/daemon/evthrottled" --remove "$name" --run-dir "$run" >/dev/null 2>&1; rm -rf "$conf" "$run"' EXIT
cat > "$conf" <<CONF
daemon = { housekeeping = "100ms"; summary = "1s"; run_dir = "$run"; user = "root"; };
throttles = ( { name = "$name"; window = "10s"; capacity = 1024; } );
CONF
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
vg() { "${VG[@]}" "$@"; }

"${VG[@]}" "$b/daemon/evthrottled" -c "$conf" -f 2>/tmp/memcheck-daemon.$$ &
daemon=$! # valgrind itself, so signals reach the daemon
for _ in $(seq 200); do "$b/tools/evthrottle-inspect" -n "$name" stats >/dev/null 2>&1 && break; sleep 0.1; done
"$b/examples/usage_example" "$name" >/dev/null

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...: exit 99 is a valgrind error
	vg "$@" >/dev/null 2>/tmp/memcheck-err.$$
	if [ $? -eq 99 ]; then
		failed=$((failed + 1)); echo "memcheck: FAIL: ${*:2}"; cat /tmp/memcheck-err.$$
	else
		passed=$((passed + 1)); echo "memcheck: ok: ${*:2}"
	fi
}
ctl="$b/tools/evthrottlectl -n $name"
ins="$b/tools/evthrottle-inspect -n $name"
check x $ctl status
check x $ctl window
check x $ctl window 250ms
check x $ctl clear user1 user2
check x $ctl window 0s
check x $ins stats
check x $ins --json stats
check x $ins --prometheus
check x $ins keys --limit 5
check x $ins --json keys --prefix user
check x $ins clients
check x $ins check
check x $ins --watch 100ms --count 2 stats
check x $ctl clear
check x "$b/tools/evthrottle-inspect" -n no-such-throttle stats
check x "$b/daemon/evthrottled" -c "$conf" --check-config
kill -HUP "$daemon"; sleep 0.5
kill -TERM "$daemon"; wait "$daemon"; rc=$?
if [ "$rc" -eq 99 ]; then failed=$((failed + 1)); echo "memcheck: FAIL: evthrottled"; cat /tmp/memcheck-daemon.$$
else passed=$((passed + 1)); echo "memcheck: ok: evthrottled (start, reload, stop)"; fi
rm -f /tmp/memcheck-err.$$ /tmp/memcheck-daemon.$$
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
