#!/usr/bin/env bash
# Fail if the contract in protos/ breaks the one at a git revision (default HEAD~1: the
# previous commit). The older contract is built with today's buf.yaml and vendored
# copies, so it compiles even from a commit that predates them. Skips, with a message,
# when there is nothing to compare with (a fresh shallow clone, or no protos/ back then).
set -euo pipefail

against="${1:-HEAD~1}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
buf="$root/tools/buf/node_modules/.bin/buf"
cd "$root"

if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
    echo "contract-breaking: skipped: no revision $against to compare with (first commit or shallow clone)"
    exit 0
fi
if ! git cat-file -e "$against:protos" 2>/dev/null; then
    echo "contract-breaking: skipped: $against has no protos/"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git archive "$against" protos | tar -x -C "$work"
cp buf.yaml "$work/"
mkdir -p "$work/third_party"
cp -R third_party/. "$work/third_party/"
"$buf" breaking --against "$work"
echo "contract-breaking: protos/ is compatible with $against ($(git rev-parse --short "$against"))"
