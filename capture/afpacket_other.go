//go:build !linux

package capture

import (
	"errors"
	"time"
)

// ErrIdle is returned by LiveSource.Next when no frame arrived within the
// poll timeout (Linux only).
var ErrIdle = errors.New("capture: no frame within the poll timeout")

// errNoLive is OpenLive's error on systems without AF_PACKET.
var errNoLive = errors.New("capture: live capture needs Linux AF_PACKET; replay pcaps instead")

// LiveConfig configures OpenLive; see the Linux implementation.
type LiveConfig struct {
	Interface    string
	Workers      int
	Snaplen      int
	RingSizeMB   int
	FanoutGroup  uint16
	Promiscuous  bool
	BlockTimeout time.Duration
	PollTimeout  time.Duration
	DrainLimit   time.Duration
	Filter       *Filter
}

// LiveStats are the running totals of one live socket.
type LiveStats struct {
	Packets, Bytes            uint64
	KernelDrops, QueueFreezes uint64
}

// LiveSource is an AF_PACKET socket; it cannot be opened on this system.
type LiveSource struct{}

var _ Source = (*LiveSource)(nil)

// OpenLive always fails on systems other than Linux.
func OpenLive(LiveConfig) ([]*LiveSource, error) { return nil, errNoLive }

// Next always fails.
func (*LiveSource) Next() (Frame, error) { return Frame{}, errNoLive }

// Stop does nothing.
func (*LiveSource) Stop() {}

// Stats returns zeros.
func (*LiveSource) Stats() LiveStats { return LiveStats{} }

// Close does nothing.
func (*LiveSource) Close() error { return nil }

// Interface returns "".
func (*LiveSource) Interface() string { return "" }
