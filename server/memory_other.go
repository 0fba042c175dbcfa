//go:build !linux

package server

// releaseStartupPages does nothing where the resident set cannot be trimmed this way.
func releaseStartupPages() {}
