package testenv

import (
	"bytes"
	"sync"
)

// LockedBuffer is a bytes.Buffer one goroutine (a daemon, an output's
// delivery) writes while the test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *LockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// String returns what was written so far.
func (l *LockedBuffer) String() string { return string(l.Bytes()) }
