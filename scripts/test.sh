#!/usr/bin/env bash
# Runs every test, with nothing skipped: the Swift suites, including the PostgreSQL ones against a
# PostgreSQL 18 + pgvector that this script starts for them (scripts/dev-postgres.sh, its own state
# directory) and stops afterwards, then the Python client's pytest suite against the built binary,
# the embedded example (a separate package depending on a tagged clone of this one, run twice: the
# second run is a restart that must find the first run's data), and the benchmark package's build.
# The debug and release builds must print no warning from FlatVec's own sources.
# If a part cannot run, the script fails and says why.
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh --filter Store  # only `swift test --filter Store` (arguments go to swift test)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in swift python3 pkg-config; do
    command -v "$tool" >/dev/null || { echo "test.sh: '$tool' is missing; run scripts/quickstart.sh (or .ci/run) first" >&2; exit 1; }
done
pkg-config --exists libpq || { echo "test.sh: libpq-dev is missing; run scripts/quickstart.sh first" >&2; exit 1; }

export FLATVEC_PG_DIR="${FLATVEC_TEST_PG_DIR:-/tmp/flatvec-test-postgres}"
if ! url="$(bash scripts/dev-postgres.sh start)"; then
    echo "test.sh: could not start PostgreSQL with pgvector (scripts/dev-postgres.sh start failed, see above);" \
         "the PostgreSQL tests need it, so nothing was run" >&2
    exit 1
fi
trap 'bash scripts/dev-postgres.sh stop >/dev/null 2>&1 || true' EXIT
export FLATVEC_TEST_POSTGRES_URL="$url"
# With this set, a PostgreSQL test that finds no server fails instead of skipping.
export FLATVEC_REQUIRE_POSTGRES=1

# Fails on any warning from FlatVec's own files in a build log (dependencies' warnings are theirs).
no_warnings() {
    local log="$1" what="$2" root
    root="$(pwd)"
    if grep -E "^($root/)?(Sources|Tests|Benchmarks|examples)/[^:]+:[0-9]+:[0-9]+: warning:" "$log" | sort -u | grep .; then
        echo "test.sh: the $what build printed the warnings above; FlatVec's sources build without warnings" >&2
        exit 1
    fi
}

# The kernels are C (CFlatVecKernels): at -O0 they are 20-50x slower and the tests search hundreds
# of thousands of vectors, so the test build optimises C code. The package itself carries no unsafe
# flags, so that other packages can depend on it.
mkdir -p .build
swift build --build-tests -Xcc -O2 2>&1 | tee .build/test-build.log
no_warnings .build/test-build.log "test"
swift test -Xcc -O2 "$@"

# The Python client's tests, against the flatvec binary the Swift build just made, in a venv of their own.
if [ "$#" -eq 0 ]; then
    venv=.build/python-venv
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" || { echo "test.sh: cannot create a Python venv (install python3-venv)" >&2; exit 1; }
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -e "clients/python[test]" fastapi httpx \
        || { echo "test.sh: cannot install the Python tests' dependencies (numpy, pytest, fastapi, httpx) from PyPI" >&2; exit 1; }
    "$venv/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests examples/checkout-service

    swift build -c release 2>&1 | tee .build/release-build.log
    no_warnings .build/release-build.log "release"
    bash scripts/test-embedded.sh
    # The benchmark suite builds from any directory (it depends on this package by path), and its
    # report is what the harnesses' latest reports make it.
    (cd Benchmarks && swift package benchmark list)
    python3 Benchmarks/compare/report.py --check
fi
