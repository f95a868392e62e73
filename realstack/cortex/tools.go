//go:build tools

// Package tools pins the main package this module builds (see ../build.sh).
package tools

import _ "github.com/cortexproject/cortex/cmd/cortex"
