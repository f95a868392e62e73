#!/usr/bin/env bash
# Builds the real stack's upstream binaries from the Go module proxy into
#   ${DMAAS_CACHE:-~/.cache/dmaas}/realstack/<key>/bin/
# where <key> hashes versions.env, this script and every wrapper go.mod/go.sum,
# so a changed pin builds into a fresh directory and an unchanged one is a no-op.
#
#   realstack/build.sh [--print-dir] [COMPONENT...]   (default: every component)
#
# Components: etcd kube-apiserver kube-controller-manager kubectl velero
# velero-plugin-for-aws kopia (kubectl: the client of the same release, for
# people and tests; machines here need not have one. kopia: the CLI of the
# kopia fork Velero links in, the lab's file-system uploader; built alone by
# scripts/setup.sh, 2-4 min cold). Progress goes to stderr, one line per component; a
# failed build prints one line naming the component and its log, exits 1.
# Go runs under `nice -n 19` (a shared machine) unless REALSTACK_NICE=0.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

key="$(cat "$here/versions.env" "$here/build.sh" "$here"/*/go.mod "$here"/*/go.sum | sha256sum | cut -c1-12)"
out="${DMAAS_CACHE:-$HOME/.cache/dmaas}/realstack/$key"
bin="$out/bin"
logs="$out/logs"

all=(etcd kube-apiserver kube-controller-manager kubectl velero velero-plugin-for-aws kopia)

if [[ "${1:-}" == "--print-dir" ]]; then
    echo "$out"
    exit 0
fi
want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=("${all[@]}")

# The go.mod files are what Go builds; versions.env is what people read. A pin
# changed in one and not the other would build something nobody asked for.
check_pin() {   # module-dir module version
    grep -qE "^[[:space:]]*(require )?$2 $3( |$)" "$here/$1/go.mod" \
        || { echo "realstack: $1/go.mod does not require $2 $3 as versions.env says" >&2; exit 1; }
}
check_pin kube k8s.io/kubernetes "$K8S_VERSION"
check_pin kube go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin velero github.com/vmware-tanzu/velero "$VELERO_VERSION"
check_pin velero-aws github.com/vmware-tanzu/velero-plugin-for-aws "$VELERO_AWS_VERSION"
for m in velero kopia; do
    grep -q "=> ${VELERO_KOPIA_REPLACE/@/ }" "$here/$m/go.mod" \
        || { echo "realstack: $m/go.mod lacks the kopia replace $VELERO_KOPIA_REPLACE" >&2; exit 1; }
done
grep -q "=> k8s.io/apiserver $K8S_STAGING_VERSION" "$here/kube/go.mod" \
    || { echo "realstack: kube/go.mod staging replaces are not at $K8S_STAGING_VERSION" >&2; exit 1; }

mkdir -p "$bin" "$logs"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
# The kopia fork Velero builds with is served by the proxy but unknown to
# sum.golang.org; go.sum (committed) still pins its hash.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/project-velero/kopia"
nice=(nice -n 19)
[[ "${REALSTACK_NICE:-1}" == 0 ]] && nice=()

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kube_ldflags() {
    local major minor x
    major="${K8S_VERSION#v}"; major="${major%%.*}"
    minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
    # -s -w: no symbol/DWARF tables; linking these binaries is a large share
    # of their build time and nobody debugs them here.
    x="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        x+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        x+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
        [[ -z "$K8S_GIT_COMMIT" ]] || x+=" -X $pkg.gitCommit=$K8S_GIT_COMMIT"
    done
    echo "$x"
}

build_one() {   # component
    local c="$1" dir pkg ldflags="-s -w" start
    case "$c" in
        etcd) dir=kube; pkg=go.etcd.io/etcd/server/v3
              ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" ;;
        kube-apiserver|kube-controller-manager|kubectl)
              dir=kube; pkg=k8s.io/kubernetes/cmd/$c; ldflags="$(kube_ldflags)" ;;
        velero) dir=velero; pkg=github.com/vmware-tanzu/velero/cmd/velero
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$VELERO_VERSION"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitSHA=$VELERO_GIT_COMMIT"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitTreeState=clean" ;;
        velero-plugin-for-aws) dir=velero-aws
              pkg=github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws ;;
        # kopia unstamped, as inside Velero (its repository format blob records the build)
        kopia) dir=kopia; pkg=github.com/kopia/kopia ;;
        *) echo "realstack: unknown component '$c' (one of: ${all[*]})" >&2; exit 2 ;;
    esac
    if [[ -x "$bin/$c" && -f "$out/stamp.$c" ]]; then
        echo "realstack: $c up to date" >&2
        return 0
    fi
    start=$SECONDS
    echo "realstack: building $c ($pkg) ..." >&2
    # go build downloads what it needs from the proxy on the way (go.sum pins it)
    if ! (cd "$here/$dir" && "${nice[@]}" go build -ldflags "$ldflags" -o "$bin/$c.tmp" "$pkg" \
            && mv "$bin/$c.tmp" "$bin/$c") >"$logs/$c.log" 2>&1; then
        echo "realstack: building $c failed; see $logs/$c.log" >&2
        exit 1
    fi
    echo "build: $((SECONDS - start))s" >>"$logs/$c.log"
    date -u +%FT%TZ >"$out/stamp.$c"
    echo "realstack: built $c in $((SECONDS - start))s" >&2
}

for c in "${want[@]}"; do build_one "$c"; done
if [[ ${#want[@]} -eq ${#all[@]} ]]; then
    # the whole set is in: the stamp dmaas realstack up looks for
    cp "$here/versions.env" "$out/stamp"
fi
echo "$bin"
