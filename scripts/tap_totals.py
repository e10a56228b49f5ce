"""Count the Criterion cases (TAP lines) and plain tests of a `meson test` run:
'N passed, N failed'."""
import json
import re
import sys

passed = failed = 0
with open(sys.argv[1]) as log:
    for line in log:
        entry = json.loads(line)
        cases = 0
        for out in entry.get("stdout", "").splitlines():
            if re.match(r"^ok\b", out) and "# SKIP" not in out:
                passed += 1
                cases += 1
            elif re.match(r"^not ok\b", out):
                failed += 1
                cases += 1
        if cases == 0 and entry.get("result") == "OK":
            passed += 1  # a plain test (exit status only) that passed
        elif cases == 0 and entry.get("result") != "SKIP":
            failed += 1  # a suite that crashed before reporting counts as a failure
print(f"{passed} passed, {failed} failed")
