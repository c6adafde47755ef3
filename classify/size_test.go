package classify

import (
	"testing"
	"unsafe"
)

// TestStateSize keeps the per-connection state small: a connection table
// may hold a million of them.
func TestStateSize(t *testing.T) {
	const max = 64
	if n := unsafe.Sizeof(State{}); n > max {
		t.Errorf("State is %d bytes, want at most %d", n, max)
	}
}
