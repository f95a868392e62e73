//go:build tools

// Package tools pins the main package this module builds (see ../build.sh):
// versitygw, the S3 gateway the lab serves its bucket profiles with.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
