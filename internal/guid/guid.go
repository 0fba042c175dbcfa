// Package guid owns the GUIDs (random version-4 UUIDs) that Azure uses for every id:
// object, client and key ids of the directory, subscription ids, role-assignment names,
// correlation ids. The identity and management planes, the server and the CLI make and
// check them here, so that all of them agree on the form.
package guid

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// New returns a random version-4 UUID in its lower-case 8-4-4-4-12 hex form.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Valid reports whether s has the 8-4-4-4-12 hex form of a GUID, in either case.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
