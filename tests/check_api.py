#!/usr/bin/env python3
"""The public API, checked three ways against include/evthrottle.h, so that none
can drift from it (docs/abi.md, docs/api.md):

  * the built library exports exactly the header's functions, each under a
    version node (lib/libevthrottle.map), and a released node holds exactly the
    functions it was released with;
  * docs/api.md has one row per function, whose "since" is the function's node,
    which names every errno the header names for it, and whose thread-safety
    says what the header says.

    check_api.py HEADER LIBRARY API_MD
"""
import re
import subprocess
import sys

# Released nodes never change (docs/abi.md).
RELEASED = {
    "EVTHROTTLE_1.0": {
        "evt_attach", "evt_clear", "evt_clear_key", "evt_close", "evt_create",
        "evt_get_window", "evt_key_count", "evt_now_ns", "evt_should_process",
        "evt_should_process_ex", "evt_stats_get", "evt_strerror", "evt_unlink",
        "evt_update_window",
    },
}

ERRNO = re.compile(r"-E[A-Z0-9]+\b")


def header_functions(path):
    """{name: the comment just before its prototype}."""
    src = open(path).read()
    out = {}
    for m in re.finditer(r"^[A-Za-z_][\w \t*]*?\b(evt_\w+)\s*\(([^;{}]*)\)\s*;", src, re.M):
        before = src[:m.start()].rstrip()
        start = before.rfind("/*")
        if not before.endswith("*/") or start < 0:
            sys.exit(f"{path}: {m.group(1)} has no comment before it")
        out[m.group(1)] = before[start:]
    return out


def exported(lib):
    """{name: version node} of the library's defined dynamic symbols."""
    text = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib],
                          check=True, capture_output=True, text=True).stdout
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] == "A":
            continue
        name, _, node = parts[2].partition("@@")
        out[name] = node or None
    return out


def api_rows(path):
    """{name: (cells, line number)} of the table rows of docs/api.md."""
    rows = {}
    for n, line in enumerate(open(path), 1):
        m = re.match(r"\|\s*`(evt_\w+)\(\)`\s*\|(.*)\|\s*$", line)
        if m is None:
            continue
        if m.group(1) in rows:
            yield f"{path}:{n}: {m.group(1)} has a second row"
        rows[m.group(1)] = ([c.strip() for c in m.group(2).split("|")], n)
    yield rows


def check(header, lib, api):
    fns = header_functions(header)
    syms = exported(lib)
    for f in sorted(fns.keys() - syms.keys()):
        yield f"{f} is in the header but not exported (add it to lib/libevthrottle.map)"
    for s in sorted(syms.keys() - fns.keys()):
        yield f"{s} is exported but not in the header"
    for s, node in sorted(syms.items()):
        if node is None:
            yield f"{s} is exported without a version node"
    for node, names in RELEASED.items():
        now = {s for s, v in syms.items() if v == node}
        for s in sorted(names - now):
            yield f"{s} left the released node {node}"
        for s in sorted(now - names):
            yield f"{s} was added to the released node {node}: give it a new node"
    *dups, rows = api_rows(api)
    yield from dups
    for f in sorted(fns.keys() - rows.keys()):
        yield f"{f} has no row in {api}"
    for f in sorted(rows.keys() - fns.keys()):
        yield f"{api}:{rows[f][1]}: {f} is not in the header"
    for f in sorted(fns.keys() & rows.keys()):
        yield from check_row(f, fns[f], rows[f], syms.get(f), api)


def check_row(f, comment, row, node, api):
    (cells, n) = row
    where = f"{api}:{n}: {f}"
    if len(cells) != 4:
        yield f"{where}: {len(cells) + 1} columns, not 5"
        return
    meaning, errnos, safety, since = cells
    if node is not None and "EVTHROTTLE_" + since != node:
        yield f"{where}: since {since}, but the library exports it as {node}"
    said = comment[comment.find("Errors:"):] if "Errors:" in comment else comment
    missing = set(ERRNO.findall(said)) - set(ERRNO.findall(errnos))
    if missing:
        yield f"{where}: the header names {', '.join(sorted(missing))}, the row does not"
    unsafe = re.search(r"not thread-safe", comment, re.I) is not None
    if unsafe != safety.lower().startswith("no"):
        yield f"{where}: thread-safety '{safety}', the header says " + (
            "not thread-safe" if unsafe else "thread-safe")
    if not meaning:
        yield f"{where}: no meaning"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    problems = list(check(*sys.argv[1:]))
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
