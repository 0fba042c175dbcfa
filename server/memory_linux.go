package server

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupPages hands back the pages of the executable that start-up touched:
// package initialisation of every linked SDK, the bootstrap, the first key generation.
// Serving touches a small part of the binary, but the kernel maps file pages in 64 KiB
// runs around each fault, so start-up alone leaves tens of megabytes of a large binary
// resident. The pages stay in the page cache; the hot path faults its own back in
// cheaply. Errors are ignored: this only trims the resident set.
func releaseStartupPages() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// address perms offset dev inode path; only read-only (text, rodata) mappings of
		// the executable: writable ones hold data the program changed.
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
