//go:build tools

// Package tools pins the main package this module builds (see ../build.sh):
// CoreDNS, the real stack's cluster DNS.
package tools

import _ "github.com/coredns/coredns"
