//go:build tools

// Package tools pins the main packages this module builds (see ../build.sh).
package tools

import (
	_ "github.com/vmware-tanzu/velero/cmd/velero"
	_ "github.com/vmware-tanzu/velero/cmd/velero-restore-helper"
)
