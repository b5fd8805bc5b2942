#!/usr/bin/env bash
# Builds the simulated cluster's binaries into bin/testbin/, cached by version:
#   bin/testbin/k8s-<v>/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   bin/testbin/kubectl-<v>/kubectl
#   bin/testbin/etcd-<v>/etcd
#   bin/testbin/kwok-<v>/{kwok,stages/}
# and points bin/testbin/current/ at them. A cached version is never rebuilt, so a
# warm run takes a second; a cold one about ten minutes on two cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/bin/testbin"
kwok_version="v0.8.0"

cd "$here"
k8s_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd_version="$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"

k8s_dir="$out/k8s-$k8s_version"
etcd_dir="$out/etcd-$etcd_version"
kwok_dir="$out/kwok-$kwok_version"
kubectl_dir="$out/kubectl-$k8s_version"
flags=(-trimpath -ldflags "-s -w")

# build_into DIR PKG... builds into a temporary directory and renames it into
# place, so an interrupted build never leaves a half-filled cache entry.
build_into() {
	local dir="$1"; shift
	[[ -d "$dir" ]] && return 0
	echo "testbin: building $(basename "$dir") (cold builds take minutes)" >&2
	local tmp="$dir.tmp.$$"
	rm -rf "$tmp" && mkdir -p "$tmp"
	go build "${flags[@]}" -o "$tmp/" "$@"
	mv "$tmp" "$dir"
}

build_into "$etcd_dir" ./cmd/etcd
build_into "$k8s_dir" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler
build_into "$kubectl_dir" ./cmd/kubectl

if [[ ! -d "$kwok_dir" ]]; then
	echo "testbin: building kwok-$kwok_version" >&2
	tmp="$kwok_dir.tmp.$$"
	rm -rf "$tmp" && mkdir -p "$tmp"
	(cd "$tmp" && GOBIN="$tmp" GOFLAGS=-mod=mod go install "${flags[@]}" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version")
	src="$(cd "$tmp" && go mod download -json "sigs.k8s.io/kwok@$kwok_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
	cp -r "$src/kustomize/stage" "$tmp/stages"
	chmod -R u+w "$tmp/stages"
	# Only the Stage YAMLs: Go files under bin/ would join the product's ./...
	find "$tmp/stages" -type f ! -name '*.yaml' -delete
	mv "$tmp" "$kwok_dir"
fi

mkdir -p "$out/current"
for bin in "$k8s_dir"/* "$kubectl_dir/kubectl" "$etcd_dir/etcd" "$kwok_dir/kwok"; do
	ln -sfn "$bin" "$out/current/$(basename "$bin")"
done
ln -sfn "$kwok_dir/stages" "$out/current/kwok-stages"
echo "$out/current"
