#!/usr/bin/env bash
# Builds upstream binaries from the Go module proxy into
#   ${DMAAS_CACHE:-~/.cache/dmaas}/realstack/bin/
# Each component is rebuilt when its own inputs change (its package, cgo, link
# flags with the pinned versions, and its wrapper module's go.mod, go.sum and
# Go files: stamp.<component> holds their hash), so a changed pin rebuilds
# what it pins, adding a component or editing this script relinks nothing
# else, and an unchanged component is a no-op.
#
#   realstack/build.sh [--print-dir] [COMPONENT...]   build (default: every component)
#   realstack/build.sh --check [COMPONENT...]         exit 0 when they are built and current
#
# The lab's tools (scripts/setup.sh builds them; 3-6 min cold):
#   kopia            the CLI of the kopia fork Velero links in (tests, diagnostics)
#   velero-uploader  Velero's own file-system uploader (pkg/uploader/kopia) kept
#                    open for the lab's node-agent (realstack/velero/uploader)
#   versitygw        the S3 server of the lab's bucket profiles
# The real stack: etcd, Kubernetes' control plane and node, kubectl (the
# client of the same release, for people and tests), CoreDNS, the LocalPV
# provisioner, Velero with its AWS plugin, the catalogue's Cortex and the
# Traefik its portal's ingress controller runs; and the
# legacy set (LEGACY_* in versions.env: an older Kubernetes and Velero, in
# bin/legacy/), whose clusters share the rest. Progress goes to stderr, one
# line per component; a failed build prints one line naming the component and
# its log, exits 1.
# Go runs under `nice -n 19` (a shared machine) unless REALSTACK_NICE=0.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

out="${DMAAS_CACHE:-$HOME/.cache/dmaas}/realstack"
bin="$out/bin"
logs="$out/logs"

lab_tools=(kopia velero-uploader versitygw)
stack=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
       coredns local-path-provisioner velero velero-restore-helper velero-plugin-for-aws cortex traefik
       legacy/kube-apiserver legacy/kube-controller-manager legacy/kube-scheduler legacy/kubelet
       legacy/kube-proxy legacy/velero legacy/velero-restore-helper)
all=("${stack[@]}" "${lab_tools[@]}")

mode=build
case "${1:-}" in
    --print-dir) echo "$out"; exit 0 ;;
    --check) mode=check; shift ;;
esac
want=("$@")

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
check_pin versitygw github.com/versity/versitygw "$VERSITYGW_VERSION"
check_pin coredns github.com/coredns/coredns "$COREDNS_VERSION"
check_pin localpv github.com/rancher/local-path-provisioner "$LOCALPV_PROVISIONER_VERSION"
check_pin cortex github.com/cortexproject/cortex "$CORTEX_VERSION"
check_pin traefik github.com/traefik/traefik/v3 "$TRAEFIK_VERSION"
check_pin kube-legacy k8s.io/kubernetes "$LEGACY_K8S_VERSION"
check_pin velero-legacy github.com/vmware-tanzu/velero "$LEGACY_VELERO_VERSION"
for m in velero:$VELERO_KOPIA_REPLACE kopia:$VELERO_KOPIA_REPLACE velero-legacy:$LEGACY_VELERO_KOPIA_REPLACE; do
    replace="${m#*:}"
    grep -q "=> ${replace/@/ }" "$here/${m%%:*}/go.mod" \
        || { echo "realstack: ${m%%:*}/go.mod lacks the kopia replace $replace" >&2; exit 1; }
done
for m in kube:$K8S_STAGING_VERSION kube-legacy:$LEGACY_K8S_STAGING_VERSION; do
    grep -q "=> k8s.io/apiserver ${m#*:}" "$here/${m%%:*}/go.mod" \
        || { echo "realstack: ${m%%:*}/go.mod staging replaces are not at ${m#*:}" >&2; exit 1; }
done

mkdir -p "$bin" "$logs"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
# The kopia fork Velero builds with is served by the proxy but unknown to
# sum.golang.org; go.sum (committed) still pins its hash.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/project-velero/kopia"
nice=(nice -n 19)
[[ "${REALSTACK_NICE:-1}" == 0 ]] && nice=()

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kube_ldflags() {   # version git-commit
    local version="$1" commit="$2" major minor x
    major="${version#v}"; major="${major%%.*}"
    minor="${version#v*.}"; minor="${minor%%.*}"
    # -s -w: no symbol/DWARF tables; linking these binaries is a large share
    # of their build time and nobody debugs them here.
    x="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        x+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        x+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
        [[ -z "$commit" ]] || x+=" -X $pkg.gitCommit=$commit"
    done
    echo "$x"
}

recipe() {   # component -> sets dir, pkg, ldflags, tags and cgo
    local c="$1"
    ldflags="-s -w"
    tags=""
    cgo=1       # what runs in the real stack's images is static (CGO_ENABLED=0), as upstream builds it
    case "$c" in
        etcd) dir=kube; pkg=go.etcd.io/etcd/server/v3
              ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" ;;
        kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
              dir=kube; pkg=k8s.io/kubernetes/cmd/$c; ldflags="$(kube_ldflags "$K8S_VERSION" "$K8S_GIT_COMMIT")" ;;
        # 1.24 still links the in-tree cloud providers unless built providerless
        # (upstream's own build tag; nothing here runs in a cloud)
        legacy/kube-*|legacy/kubelet)
              dir=kube-legacy; pkg=k8s.io/kubernetes/cmd/${c#legacy/}; tags=providerless
              ldflags="$(kube_ldflags "$LEGACY_K8S_VERSION" "$LEGACY_K8S_GIT_COMMIT")" ;;
        coredns) dir=coredns; pkg=github.com/coredns/coredns; cgo=0
              ldflags+=" -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_GIT_COMMIT" ;;
        local-path-provisioner) dir=localpv; pkg=github.com/rancher/local-path-provisioner; cgo=0
              ldflags+=" -X main.VERSION=$LOCALPV_PROVISIONER_VERSION" ;;
        velero-restore-helper) dir=velero; pkg=github.com/vmware-tanzu/velero/cmd/velero-restore-helper; cgo=0 ;;
        velero) dir=velero; pkg=github.com/vmware-tanzu/velero/cmd/velero; cgo=0
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$VELERO_VERSION"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitSHA=$VELERO_GIT_COMMIT"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitTreeState=clean" ;;
        legacy/velero-restore-helper) dir=velero-legacy; pkg=github.com/vmware-tanzu/velero/cmd/velero-restore-helper; cgo=0 ;;
        legacy/velero) dir=velero-legacy; pkg=github.com/vmware-tanzu/velero/cmd/velero; cgo=0
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$LEGACY_VELERO_VERSION"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitSHA=$LEGACY_VELERO_GIT_COMMIT"
              ldflags+=" -X github.com/vmware-tanzu/velero/pkg/buildinfo.GitTreeState=clean" ;;
        velero-uploader) dir=velero; pkg=dmaas.local/realstack/velero/uploader ;;
        velero-plugin-for-aws) dir=velero-aws
              pkg=github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws; cgo=0 ;;
        # Cortex's 2022 golang.org/x/net reaches into syscall by go:linkname,
        # which Go 1.23+ refuses by default; -checklinkname=0 links its module
        # graph as released instead of upgrading x/net under it
        cortex) dir=cortex; pkg=github.com/cortexproject/cortex/cmd/cortex; cgo=0
              ldflags+=" -checklinkname=0 -X main.Version=${CORTEX_VERSION#v} -X main.Revision=$CORTEX_GIT_COMMIT"
              ldflags+=" -X main.Branch=HEAD" ;;
        traefik) dir=traefik; pkg=github.com/traefik/traefik/v3/cmd/traefik; cgo=0
              ldflags+=" -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
              ldflags+=" -X github.com/traefik/traefik/v3/pkg/version.BuildDate=$build_date" ;;
        # kopia unstamped, as inside Velero (its repository format blob records the build)
        kopia) dir=kopia; pkg=github.com/kopia/kopia ;;
        versitygw) dir=versitygw; pkg=github.com/versity/versitygw/cmd/versitygw ;;
        *) echo "realstack: unknown component '$c' (one of: ${all[*]})" >&2; exit 2 ;;
    esac
}

# What a component is built from: its package, its link flags (minus the
# build date) and its wrapper module's files.
component_key() {   # component (after recipe)
    { echo "$pkg cgo=$cgo${tags:+ tags=$tags}"; echo "${ldflags//$build_date/}"
      find "$here/$dir" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs cat
    } | sha256sum | cut -c1-16
}

stamp() { echo "$out/stamp.${1//\//.}"; }   # component -> its stamp file (legacy/x: stamp.legacy.x)

current() {   # component (after recipe) -> 0 when built from these inputs
    [[ -x "$bin/$1" && -f "$(stamp "$1")" && "$(cat "$(stamp "$1")")" == "$(component_key)" ]]
}

build_one() {   # component
    local c="$1" start
    recipe "$c"
    if current "$c"; then
        echo "realstack: $c up to date" >&2
        return 0
    fi
    start=$SECONDS
    echo "realstack: building $c ($pkg) ..." >&2
    log="$logs/${c//\//.}.log"
    mkdir -p "$(dirname "$bin/$c")"
    # go build downloads what it needs from the proxy on the way (go.sum pins it)
    if ! (cd "$here/$dir" && CGO_ENABLED=$cgo "${nice[@]}" go build ${tags:+-tags "$tags"} -ldflags "$ldflags" \
            -o "$bin/$c.tmp" "$pkg" && mv "$bin/$c.tmp" "$bin/$c") >"$log" 2>&1; then
        echo "realstack: building $c failed; see $log" >&2
        exit 1
    fi
    echo "build: $((SECONDS - start))s" >>"$log"
    component_key >"$(stamp "$c")"
    echo "realstack: built $c in $((SECONDS - start))s" >&2
}

if [[ "$mode" == check ]]; then
    [[ ${#want[@]} -gt 0 ]] || want=("${stack[@]}")
    missing=()
    for c in "${want[@]}"; do recipe "$c"; current "$c" || missing+=("$c"); done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "realstack: not built for the pinned versions: ${missing[*]} (in $out)" >&2
        exit 1
    fi
    echo "$bin"
    exit 0
fi
[[ ${#want[@]} -gt 0 ]] || want=("${all[@]}")
for c in "${want[@]}"; do build_one "$c"; done
echo "$bin"
