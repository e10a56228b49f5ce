#!/usr/bin/env python3
"""The seed's example in Python, then a Python and a C process sharing one throttle.

    python3 examples/usage_example.py          # creates a throttle for the second part
    python3 examples/usage_example.py NAME     # uses the existing throttle NAME
                                               # (e.g. one evthrottled created)

Run it from a built tree (meson setup build && ninja -C build): it finds the package
in python/ and its C extension in build/python (or an installed evthrottle), and the
C example in build/examples/usage_example (or EVT_USAGE_EXAMPLE).
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import evthrottle
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import evthrottle
from evthrottle import EventThrottler

C_EXAMPLE = os.environ.get("EVT_USAGE_EXAMPLE") or os.path.join(
    REPO, "build", "examples", "usage_example")


def seed_example():
    """The seed README's example, unchanged: a private throttle of this process."""
    throttler = EventThrottler(window=10)
    print("seed example (window %s s):" % throttler.get_window())
    print(throttler.should_process(1, "e1", "userA"))   # True (first event)
    print(throttler.should_process(5, "e2", "userA"))   # False (within 10s window)
    print(throttler.should_process(12, "e3", "userA"))  # True (after window)
    print(throttler.should_process(15, "e4", "userB"))  # True (new user)
    print(throttler.should_process(20, "e5", "userB"))  # False (still within window)
    throttler.close()


def shared_example(name):
    """Python and the C example decide on one named throttle, on the shared clock."""
    with EventThrottler(name=name) as shared:
        print("\nPython and C share throttle '%s' (window %s s)" % (name, shared.get_window()))
        now = evthrottle.now()
        taken = sum(shared.should_process(now, None, "user%d" % k) for k in range(90, 100))
        print("Python processed %d of user90..user99 first" % taken)

        print("C: %s %s" % (os.path.relpath(C_EXAMPLE), name))
        sys.stdout.flush()  # our lines before the child's
        subprocess.run([C_EXAMPLE, name], check=True)

        now = evthrottle.now()
        print("\nback in Python:")
        for key, why in (("user7", "a C process took it"), ("user42", "a C process took it"),
                         ("user95", "Python took it"), ("user100", "never seen")):
            answer = shared.should_process(now, "e-py", key)
            print("  should_process(now, 'e-py', %-9r) -> %-5s  # %s" % (key, answer, why))
        print("  stats():")
        for field, value in shared.stats().items():
            print("    %-10s %d" % (field, value))


def main(argv):
    if len(argv) > 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if not os.access(C_EXAMPLE, os.X_OK):
        print("C example %s not found: build it (meson setup build && ninja -C build) "
              "or set EVT_USAGE_EXAMPLE" % C_EXAMPLE, file=sys.stderr)
        return 1
    seed_example()
    if len(argv) == 2:
        shared_example(argv[1])
        return 0
    name = "example-py.%d" % os.getpid()
    EventThrottler(10, name, create=True).close()  # the throttle outlives the handle
    try:
        shared_example(name)
    finally:
        evthrottle.unlink(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
