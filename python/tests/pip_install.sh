#!/usr/bin/env bash
# pip install of the repository as a Python user does it: a virtual environment of
# Debian's python3 (with its python3-mesonpy), no network, no build isolation; then
# the installed package is imported and used from outside the source tree.
#
#   python/tests/pip_install.sh [SOURCE_ROOT]
#
# Prints TAP.  Needs python3-venv, python3-mesonpy, python3-dev and patchelf
# (scripts/deps.sh installs them).
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
python=${EVT_PIP_PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/evthrottle-pip.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "1..2"
# A copy of what pyproject.toml builds (meson-python writes into the source tree).
mkdir "$work/src"
cp -r "$src/meson.build" "$src/meson_options.txt" "$src/pyproject.toml" "$src/include" \
	"$src/lib" "$src/python" "$work/src/"
rm -rf "$work/src/python/evthrottle/__pycache__"
if "$python" -m venv --system-site-packages "$work/venv" >"$work/log" 2>&1 &&
	"$work/venv/bin/pip" install --no-build-isolation --no-index "$work/src" \
		>>"$work/log" 2>&1; then
	echo "ok 1 - pip install --no-build-isolation --no-index ."
else
	echo "not ok 1 - pip install --no-build-isolation --no-index ."
	sed 's/^/# /' "$work/log" | tail -40
	echo "not ok 2 - the installed package # not installed"
	exit 1
fi

cd "$work" || exit 1
out=$(env -u PYTHONPATH "$work/venv/bin/python" - 2>&1 <<'PY'
import os, sys, evthrottle
from evthrottle import _evthrottle
venv = sys.prefix
assert evthrottle.__file__.startswith(venv), evthrottle.__file__
assert _evthrottle.__file__.startswith(venv), _evthrottle.__file__
assert os.path.isfile(os.path.join(os.path.dirname(evthrottle.__file__), "__init__.pyi"))
t = evthrottle.EventThrottler(window=10)
answers = [t.should_process(1, "e1", "userA"), t.should_process(5, "e2", "userA"),
           t.should_process(12, "e3", "userA"), t.should_process(1, None, 42),
           t.should_process(2, None, (42).to_bytes(8, sys.byteorder, signed=True))]
assert answers == [True, False, True, True, False], answers
many = t.should_process_many([(22, None, "userA"), (23, None, "userA")])
assert many == [True, False], many
print("library", evthrottle.library_path())
PY
)
rc=$?
if [ $rc -eq 0 ]; then
	echo "ok 2 - the installed package decides; $out"
else
	echo "not ok 2 - the installed package"
	printf '%s\n' "$out" | sed 's/^/# /'
	exit 1
fi
