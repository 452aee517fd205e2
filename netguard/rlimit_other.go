//go:build !unix

package netguard

// RaiseFileLimit does nothing on this platform and reports no limit.
func RaiseFileLimit() (soft, hard uint64, err error) { return 0, 0, nil }
