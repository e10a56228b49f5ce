#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the examples (the seed's
# example, then several processes sharing one throttle), showing what they decided.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
evt_install_deps
evt_build build
./build/examples/usage_example
