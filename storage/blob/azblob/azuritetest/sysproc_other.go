//go:build !linux

package azuritetest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
