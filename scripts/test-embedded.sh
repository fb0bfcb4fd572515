#!/usr/bin/env bash
# Builds and runs examples/embedded as a user's package would: it depends on FlatVec by URL and
# version, here a clone of this checkout's files tagged 0.1.0 (uncommitted changes included), so a
# product that SwiftPM would refuse to a dependent package (unsafe flags, say) fails here. Runs the
# example twice on one data directory: the second run is a restart that must find every write.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
work="$(mktemp -d /tmp/flatvec-embedded.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The tagged clone: the files git knows of (tracked, and new ones not ignored), as one commit.
mkdir -p "$work/flatvec"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$work/flatvec"
(
    cd "$work/flatvec"
    git init -q
    git -c user.name=test -c user.email=test@localhost add -A
    git -c user.name=test -c user.email=test@localhost commit -q -m "FlatVec under test"
    git tag 0.1.0
)

# A copy of the example, as it would sit in its own repository.
cp -R examples/embedded "$work/example"
rm -rf "$work/example/.build"
cd "$work/example"
export FLATVEC_URL="file://$work/flatvec"
swift build 2>&1 | tee "$work/build.log"
if grep -E "^$work/example/[^:]+:[0-9]+:[0-9]+: warning:" "$work/build.log"; then
    echo "test-embedded.sh: the example builds with warnings" >&2
    exit 1
fi
binary="$(swift build --show-bin-path)/EmbeddedExample"
"$binary" write "$work/data"
"$binary" check "$work/data"
echo "test-embedded.sh: the embedded example built against a tagged clone and found its data after a restart"
