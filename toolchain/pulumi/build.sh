#!/usr/bin/env bash
# The Pulumi CLI for this project's real-engine tests and for `pulumi up` by hand, as a folder of
# plugins: <repo>/.partman/pulumi/bin (pulumi, its Node.js language host, the dynamic-provider host).
# A `pulumi` on PATH (a user's machine) is used as it is. Otherwise the pinned CLI is built from its
# Go modules (go.mod beside this script) once, into a cache keyed by its version; later runs only
# link it. What cannot be built here, and what stands in for it, is in the README ("The Pulumi CLI").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="$(sed -n 's/.*github.com\/pulumi\/pulumi\/pkg\/v3 \(v[0-9.]*\).*/\1/p' "$here/go.mod" | head -1)"
cache="${PARTMAN_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/partman-stack}/pulumi-$version"
out="$repo/.partman/pulumi/bin"
say() { echo "[pulumi toolchain] $*"; }

mkdir -p "$out"
on_path="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$out" | paste -sd:)" command -v pulumi || true)"
if [ -n "$on_path" ]; then
  say "using $on_path ($("$on_path" version)) from PATH"
  rm -f "$out/pulumi-language-nodejs" "$out/pulumi-resource-pulumi-nodejs"
  ln -sfn "$on_path" "$out/pulumi"
  exit 0
fi

if [ ! -x "$cache/bin/pulumi" ]; then
  # Go's own installer puts it in /usr/local/go, which a non-login shell may not have on PATH.
  command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { say "no pulumi on PATH and no Go to build it: install Go 1.25+ or the Pulumi CLI"; exit 1; }
  say "building pulumi $version from its Go modules into $cache (once; about 6 minutes on 2 cores, module downloads included)"
  start=$SECONDS
  # A folder of this run's own, moved into place whole: two runs at once never mix their files.
  mkdir -p "$(dirname "$cache")"
  work="$(mktemp -d "$cache.build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/"
  (cd "$work" && go mod download && say "modules downloaded in $((SECONDS - start)) s" &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
      -o bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  # The dynamic-provider host is a script in the SDK module; the module cache is read-only.
  sdk="$(cd "$work" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdk/nodejs/dist/pulumi-resource-pulumi-nodejs" "$work/bin/"
  chmod 0755 "$work"
  mv -T "$work" "$cache" 2>/dev/null || say "another run finished first; using its build"
  say "built pulumi $version in $((SECONDS - start)) s"
fi

ln -sfn "$cache/bin/pulumi" "$out/pulumi"
ln -sfn "$cache/bin/pulumi-resource-pulumi-nodejs" "$out/pulumi-resource-pulumi-nodejs"
# The language host's module is not served (see language-host.js): this project's own stands in.
cat > "$out/pulumi-language-nodejs" <<SH
#!/bin/sh
exec node "$here/language-host.js" "\$@"
SH
chmod 0755 "$out/pulumi-language-nodejs"
say "pulumi $("$out/pulumi" version) in $out"
