//go:build tools

// Package tools pins the main package this module builds (see ../build.sh):
// the local-path provisioner the real stack runs as OpenEBS LocalPV's
// provisioner (openebs.io/local), whose own module the proxy does not serve.
package tools

import _ "github.com/rancher/local-path-provisioner"
