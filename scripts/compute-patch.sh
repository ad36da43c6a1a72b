#!/usr/bin/env bash
# Prints the unified diff of the patched copy of github.com/gomlx/compute
# (vqa/internal/third_party/compute, PATCH.md excluded) against the released
# version named in PATCH.md, from the Go module cache (`go mod download`),
# gofmt-formatted as the copy is (14 upstream files are not gofmt-clean).
# With -check, compares it with the diff in PATCH.md instead and fails if
# they differ: the copy holds exactly the documented change.
set -euo pipefail
cd "$(dirname "$0")/.."
copy=vqa/internal/third_party/compute
version=v0.1.2
upstream=$(cd /tmp && go mod download -json "github.com/gomlx/compute@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
test -d "$upstream" || { echo "github.com/gomlx/compute@$version not in the module cache" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cp -r "$upstream" "$tmp/a" && cp -r "$copy" "$tmp/b" && rm -f "$tmp/b/PATCH.md" && chmod -R u+w "$tmp"
gofmt -w "$tmp/a"
diff=$(cd "$tmp" && git -c core.quotepath=off diff --no-index --no-prefix a b || true)
if [ "${1:-}" = -check ]; then
	documented=$(awk '/^```diff$/ { on = 1; next } /^```$/ { on = 0 } on' "$copy/PATCH.md")
	if [ "$diff" != "$documented" ]; then
		echo "$copy differs from github.com/gomlx/compute@$version + the diff in $copy/PATCH.md:" >&2
		diff <(echo "$documented") <(echo "$diff") >&2 || true
		exit 1
	fi
	echo "$copy = github.com/gomlx/compute@$version + PATCH.md ($(echo "$diff" | grep -c '^[-+][^-+]') lines changed)"
else
	echo "$diff"
fi
