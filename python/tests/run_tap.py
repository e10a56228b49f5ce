#!/usr/bin/env python3
"""Run the unittest suite of this directory and report it as TAP, one line per test:

    ok 1 - test_throttler.EventThrottlerTests.test_basic_throttling
    not ok 2 - ...
    1..N

A failure's traceback follows its line as '#' diagnostics.  Exits 1 if any test
failed or errored (or nothing ran).  Standard library only; used by `meson test`
with protocol: 'tap'.

    python3 python/tests/run_tap.py [unittest discovery pattern]
"""
import os
import sys
import time
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.count = 0
        self.bad = 0

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()  # before any fork, so no child repeats it

    def _report(self, ok, test, directive="", detail=None):
        self.count += 1
        if not ok:
            self.bad += 1
        name = test.id() if hasattr(test, "id") else str(test)
        self._line("%s %d - %s%s" % ("ok" if ok else "not ok", self.count,
                                     name.replace("#", "\\#"), directive))
        if detail:
            for line in detail.rstrip("\n").splitlines():
                self._line("# " + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._report(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report(False, test, detail=self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._report(False, test, detail=self.errors[-1][1])

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            detail = (self.failures if failed else self.errors)[-1][1]
            self._report(False, subtest, detail=detail)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._report(True, test, " # SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._report(False, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._report(False, test, " # unexpected success")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    pattern = argv[1] if len(argv) > 1 else "test*.py"
    suite = unittest.TestLoader().discover(here, pattern=pattern, top_level_dir=here)
    result = TapResult(sys.stdout)
    start = time.monotonic()
    suite.run(result)
    result._line("1..%d" % result.count)
    result._line("# %d tests, %d not ok, %d skipped, %.1f s"
                 % (result.count, result.bad, len(result.skipped), time.monotonic() - start))
    return 1 if result.bad or result.count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
