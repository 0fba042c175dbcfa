package azuritetest

import "syscall"

// sysProcAttr has the kernel kill Azurite when the test binary dies, even by SIGKILL (a
// test timeout), so no emulator outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
