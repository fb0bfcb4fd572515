#!/usr/bin/env bash
# Installs FlatVec's system packages, builds the release binary, and runs the server on its embedded
# default: 127.0.0.1:7070, no authentication, in memory, with the sample catalogue in data/ loaded as
# the collection "products" (600 products x 5 photos, 512-d embeddings). Debian bookworm, Swift 6.3.
# Stop it with Ctrl-C (it finishes requests in flight and exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    libblas-dev libopenblas-dev liblapacke-dev libpq-dev pkg-config python3 python3-pip python3-venv passwd openssl >/dev/null

swift build -c release --product flatvec
.build/release/flatvec info
echo
echo "In another terminal, try:"
echo "  .build/release/flatvec search --collection products --queries data/queries.npy --k 3 --group-by-label"
echo
exec .build/release/flatvec serve "$@"
