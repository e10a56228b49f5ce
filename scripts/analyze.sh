#!/usr/bin/env bash
# gcc's static analyzer (-fanalyzer) over the project's own C sources (library,
# shared code, daemon, tools): any finding fails.  Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
# lib/redis.c includes the Redis function, generated at build time.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
python3 lib/embed.py lib/global.lua "$gen/global_lua.h" global_lua
for f in lib/*.c common/*.c daemon/*.c tools/*.c; do
	if out=$(gcc -std=c11 -D_GNU_SOURCE -mcx16 -O1 -fanalyzer -Wall -Wextra -Werror \
		-DEVT_PACKAGE_VERSION='"analyzer"' -Iinclude -Ilib -Icommon -Idaemon -Itools -I"$gen" \
		-c "$f" -o /dev/null 2>&1); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "analyzer: $f"
		echo "$out" | grep -E "warning|error" | head -5
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
