#!/usr/bin/env bash
# Installs FlatVec's system packages, builds the release binary, and runs an exact search over the
# sample catalogue in data/ (600 products x 5 photos, 512-d embeddings). Debian bookworm, Swift 6.3.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    libblas-dev libopenblas-dev liblapacke-dev libpq-dev pkg-config >/dev/null

swift build -c release --product flatvec
FLATVEC=.build/release/flatvec

$FLATVEC info
echo
echo "Top 5 catalogue photos for each of 20 checkout-camera queries (exact, inner product):"
$FLATVEC knn --base data/products.npy --queries data/queries.npy --k 5 \
    --out /tmp/flatvec-quickstart-ids.ivecs --scores /tmp/flatvec-quickstart-scores.fvecs --verbose
echo "wrote /tmp/flatvec-quickstart-ids.ivecs (row numbers of data/products.npy) and scores"
