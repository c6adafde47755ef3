//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Live-capture defaults (LiveConfig zero values).
const (
	DefaultLiveSnaplen      = 65535
	DefaultLiveRingSizeMB   = 64
	DefaultLiveBlockTimeout = 10 * time.Millisecond
	DefaultLivePollTimeout  = 50 * time.Millisecond
	// DefaultLiveDrainLimit bounds the drain after Stop on a link that
	// never goes quiet.
	DefaultLiveDrainLimit = 2 * time.Second
)

// ErrIdle is returned by LiveSource.Next when no frame arrived within the
// poll timeout. It is not an end of input: the caller may use the pause to
// advance its clock and call Next again.
var ErrIdle = errors.New("capture: no frame within the poll timeout")

// LiveConfig configures OpenLive.
type LiveConfig struct {
	// Interface is the network interface to capture on (required).
	Interface string
	// Workers is the number of sockets; with more than one they join one
	// PACKET_FANOUT group (hash of the flow with IPv4 defragmentation), so
	// both directions of a connection reach the same socket. <1 means 1.
	Workers int
	// Snaplen is the largest number of bytes kept of a frame (0 = 65535).
	Snaplen int
	// RingSizeMB is the TPACKET_V3 ring size of each socket in MiB (0 = 64).
	RingSizeMB int
	// FanoutGroup is the PACKET_FANOUT group id (used when Workers > 1).
	FanoutGroup uint16
	// Promiscuous puts the interface in promiscuous mode while the sockets
	// are open.
	Promiscuous bool
	// BlockTimeout is the TPACKET_V3 block retire timeout: the longest a
	// frame waits in a partly filled block (0 = 10 ms).
	BlockTimeout time.Duration
	// PollTimeout is how long Next waits for a frame before returning
	// ErrIdle (0 = 50 ms). It must exceed BlockTimeout so that an empty poll
	// after Stop proves the ring drained.
	PollTimeout time.Duration
	// DrainLimit is the longest Next keeps returning frames after Stop
	// when the link never goes quiet (0 = 2 s).
	DrainLimit time.Duration
	// Filter, when set, is attached in the kernel to every socket: frames
	// it rejects never reach the ring. Frames that arrived before it was
	// attached are discarded.
	Filter *Filter
}

// LiveStats are the running totals of one live socket.
type LiveStats struct {
	// Packets and Bytes count frames returned by Next (Bytes: wire length).
	Packets, Bytes uint64
	// KernelDrops counts frames the kernel dropped because the ring was
	// full; QueueFreezes counts the times the ring froze (TPACKET_V3). Both
	// are running totals (the kernel resets its counters on every read).
	KernelDrops, QueueFreezes uint64
}

// LiveSource is one AF_PACKET TPACKET_V3 socket. Next, Close must be called
// from one goroutine; Stop and Stats are safe from any goroutine.
type LiveSource struct {
	iface   string
	index   int
	tp      *afpacket.TPacket
	drain   time.Duration
	stopAt  atomic.Int64 // Unix ns of Stop; 0 while running
	packets atomic.Uint64
	bytes   atomic.Uint64

	mu     sync.Mutex // guards the fields below
	closed bool
	// lastDrops and lastFreezes are TPacket's 32-bit running totals at the
	// last read; drops and queueFreezes are ours, 64-bit.
	lastDrops, lastFreezes uint32
	drops, queueFreezes    uint64
}

var _ Source = (*LiveSource)(nil)

// OpenLive opens cfg.Workers AF_PACKET sockets on cfg.Interface. On error
// every socket already opened is closed.
func OpenLive(cfg LiveConfig) ([]*LiveSource, error) {
	if cfg.Interface == "" {
		return nil, errors.New("capture: live: no interface given")
	}
	if _, err := net.InterfaceByName(cfg.Interface); err != nil {
		return nil, fmt.Errorf("capture: live: interface %q: %w", cfg.Interface, err)
	}
	workers := max(cfg.Workers, 1)
	snaplen := cfg.Snaplen
	if snaplen <= 0 {
		snaplen = DefaultLiveSnaplen
	}
	ringMB := cfg.RingSizeMB
	if ringMB <= 0 {
		ringMB = DefaultLiveRingSizeMB
	}
	blockTimeout := cfg.BlockTimeout
	if blockTimeout <= 0 {
		blockTimeout = DefaultLiveBlockTimeout
	}
	pollTimeout := cfg.PollTimeout
	if pollTimeout <= 0 {
		pollTimeout = DefaultLivePollTimeout
	}
	if pollTimeout <= blockTimeout {
		pollTimeout = 2 * blockTimeout
	}
	drain := cfg.DrainLimit
	if drain <= 0 {
		drain = DefaultLiveDrainLimit
	}
	frameSize, blockSize, numBlocks := ringGeometry(snaplen, ringMB)
	var prog []bpf.RawInstruction
	if cfg.Filter != nil {
		var err error
		if prog, err = programFor(cfg.Filter); err != nil {
			return nil, fmt.Errorf("capture: live: %w", err)
		}
	}

	sources := make([]*LiveSource, 0, workers)
	fail := func(err error) ([]*LiveSource, error) {
		for _, s := range sources {
			s.Close()
		}
		return nil, err
	}
	for i := range workers {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(cfg.Interface),
			afpacket.TPacketVersion3,
			afpacket.OptFrameSize(frameSize),
			afpacket.OptBlockSize(blockSize),
			afpacket.OptNumBlocks(numBlocks),
			afpacket.OptBlockTimeout(blockTimeout),
			afpacket.OptPollTimeout(pollTimeout),
			afpacket.OptAddVLANHeader(false),
		)
		if err != nil {
			return fail(fmt.Errorf("capture: live: socket %d on %s: %w", i, cfg.Interface, err))
		}
		s := &LiveSource{iface: cfg.Interface, index: i, tp: tp, drain: drain}
		sources = append(sources, s)
		if prog != nil {
			// Reject everything until the ring is emptied of what came
			// before the filter (as libpcap does), then filter.
			if err := tp.SetBPF(rejectAll); err != nil {
				return fail(fmt.Errorf("capture: live: attaching a filter to socket %d on %s: %w", i, cfg.Interface, err))
			}
		}
		if workers > 1 {
			if err := tp.SetFanout(afpacket.FanoutHashWithDefrag, cfg.FanoutGroup); err != nil {
				return fail(fmt.Errorf("capture: live: joining fanout group %d on %s (is another capture using that id?): %w",
					cfg.FanoutGroup, cfg.Interface, err))
			}
		}
		if cfg.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fail(fmt.Errorf("capture: live: promiscuous mode on %s: %w", cfg.Interface, err))
			}
		}
	}
	if prog != nil {
		for i, s := range sources {
			if err := s.discardQueued(); err != nil {
				return fail(err)
			}
			if err := s.tp.SetBPF(prog); err != nil {
				return fail(fmt.Errorf("capture: live: attaching filter %q to socket %d on %s: %w", cfg.Filter, i, cfg.Interface, err))
			}
		}
	}
	return sources, nil
}

// discardQueued reads and drops every frame already in the ring, until a
// poll times out. With a reject-all filter attached nothing new arrives.
func (s *LiveSource) discardQueued() error {
	for {
		_, _, err := s.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("capture: live: emptying the ring of %s: %w", s.iface, err)
		}
	}
}

// ringGeometry picks the TPACKET_V3 frame and block sizes and the block
// count for a ring of ringMB MiB that holds frames of up to snaplen bytes.
// Blocks are 256 KiB or more (a block must hold the largest frame), and a
// ring has at least 8 blocks.
func ringGeometry(snaplen, ringMB int) (frameSize, blockSize, numBlocks int) {
	const page = 4096
	frameSize = page
	blockSize = 256 << 10
	// Room for the largest frame plus TPACKET3 and sockaddr_ll headers.
	for blockSize < snaplen+page {
		blockSize *= 2
	}
	numBlocks = max((ringMB<<20)/blockSize, 8)
	return frameSize, blockSize, numBlocks
}

// Next returns the next frame. Its Data points into the ring and is valid
// only until the next call. Next returns ErrIdle when no frame arrived
// within the poll timeout, and io.EOF once Stop was called and the ring is
// drained (a poll found nothing) or the drain limit passed.
func (s *LiveSource) Next() (Frame, error) {
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			if s.stopAt.Load() != 0 {
				return Frame{}, io.EOF
			}
			return Frame{}, ErrIdle
		}
		return Frame{}, fmt.Errorf("capture: live: reading %s: %w", s.iface, err)
	}
	if stop := s.stopAt.Load(); stop != 0 && time.Now().UnixNano()-stop > int64(s.drain) {
		return Frame{}, io.EOF // the link never went quiet
	}
	f := Frame{
		Data:          data,
		Timestamp:     ci.Timestamp,
		CaptureLength: ci.CaptureLength,
		Length:        ci.Length,
		LinkType:      layers.LinkTypeEthernet,
		Origin:        s.iface,
		Offset:        int64(s.packets.Load()),
	}
	for _, a := range ci.AncillaryData {
		if v, ok := a.(afpacket.AncillaryVLAN); ok {
			f.VLAN = uint16(v.VLAN)
		}
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(ci.Length))
	return f, nil
}

// Stop asks the source to end: Next keeps returning what is left in the
// ring (for at most the drain limit) and then io.EOF. Safe to call from any goroutine, more than once.
func (s *LiveSource) Stop() { s.stopAt.CompareAndSwap(0, time.Now().UnixNano()) }

// Stats returns the socket's running totals. Safe from any goroutine, also
// after Close (then the totals are final).
func (s *LiveSource) Stats() LiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readKernelStatsLocked()
	return LiveStats{
		Packets:      s.packets.Load(),
		Bytes:        s.bytes.Load(),
		KernelDrops:  s.drops,
		QueueFreezes: s.queueFreezes,
	}
}

// readKernelStatsLocked adds the kernel counters gathered since the last
// read (reading resets them) to the running totals.
func (s *LiveSource) readKernelStatsLocked() {
	if s.closed {
		return
	}
	// TPacket.SocketStats keeps 32-bit running totals; add their growth
	// (modulo 2^32) to ours.
	if _, v3, err := s.tp.SocketStats(); err == nil {
		drops, freezes := uint32(v3.Drops()), uint32(v3.QueueFreezes())
		s.drops += uint64(drops - s.lastDrops)
		s.queueFreezes += uint64(freezes - s.lastFreezes)
		s.lastDrops, s.lastFreezes = drops, freezes
	}
}

// Close releases the socket and its ring. Call it from the goroutine that
// calls Next, after Next returned for the last time.
func (s *LiveSource) Close() error {
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.readKernelStatsLocked()
	s.closed = true
	s.tp.Close()
	return nil
}

// Interface returns the captured interface's name.
func (s *LiveSource) Interface() string { return s.iface }
