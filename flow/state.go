package flow

import (
	"net/netip"
	"time"

	"github.com/netbased/netbased/classify"
)

// History masks (Session/TCP_Endpoint HIST_*); the responder's are shifted
// left by 16.
const (
	histSYNPkt      uint32 = 0x1
	histFINPkt      uint32 = 0x2
	histRSTPkt      uint32 = 0x4
	histFINRSTPkt   uint32 = 0x8
	histDataPkt     uint32 = 0x10
	histACKPkt      uint32 = 0x20
	histMultiFlag   uint32 = 0x40
	histOrigDataPkt uint32 = 0x100
	histRespDataPkt uint32 = 0x200
	// histUnknownPkt is Session's HIST_UNKNOWN_PKT: 'X', "connection
	// analysis partial", added once (tunnel depth exceeded, an analyzer
	// limit reached).
	histUnknownPkt uint32 = 0x400
)

// conn is one live connection, in a slot of the tracker's connTable. Slots
// are recycled through the table's free list, so a steady packet stream
// allocates nothing.
type conn struct {
	key        connKey
	ref        connRef // this slot
	orig, resp netip.Addr
	origPort   uint16
	respPort   uint16
	proto      uint8

	start, lastTime int64 // Unix ns
	serial          uint64
	uid             uid
	parents         []uid // UIDs of the tunnels that carried it (tunnel.go)
	removed         bool

	prev, next connRef // recency list

	// ConnSize counters, [0] originator, [1] responder.
	pkts, ipBytes [2]uint64

	hist     []byte
	histSeen uint32
	missed   uint64

	// UDP/ICMP sizes (request_len/reply_len; −1 = nothing seen yet) and
	// UDP checksum-error history counters.
	size      [2]int64
	chkCnt    [2]uint32
	chkThresh [2]uint32

	// TCP.
	tcp              *tcpEndpoints // allocated the first time the struct carries TCP
	eo, er           *endpoint
	isActive         bool
	isPartial        bool
	firstPacketSeen  uint8 // 1 orig, 2 resp
	closeDeferred    bool
	deferredGenEvent bool
	establishedEvent bool // connection_established raised by this packet

	// Timers. The generations come from genNext, which goes on across
	// the connections of a slot: a timer of an earlier connection never
	// matches.
	inactTimeout   time.Duration
	inactGen       uint32
	anaGen         uint32
	genNext        uint32
	longInactivity bool

	// Services.
	cls             classify.State
	clsStarted      bool
	tunnelSvc       string
	tunnelDirs      uint8
	tunnelConfirmed bool
}

func (c *conn) reset() {
	hist := c.hist[:0]
	parents := c.parents[:0]
	tcp := c.tcp
	gen, ref := c.genNext, c.ref
	*c = conn{}
	c.ref = ref
	c.genNext = gen + 2
	c.inactGen, c.anaGen = gen+1, gen+2
	c.hist = hist
	c.parents = parents
	c.tcp = tcp
	c.size = [2]int64{-1, -1}
	c.chkThresh = [2]uint32{1, 1}
}

// newGen returns a generation no timer of the slot has.
func (c *conn) newGen() uint32 {
	c.genNext++
	return c.genNext
}

// addSize adds n to the UDP/ICMP size of side (0 originator, 1 responder),
// which starts at −1 for "nothing seen yet".
func (c *conn) addSize(side int, n int64) {
	if c.size[side] < 0 {
		c.size[side] = n
	} else {
		c.size[side] += n
	}
}

// maxHistory bounds the history string: Zeek's has no bound, but a
// connection repeating FIN or RST at new sequence numbers would make it
// grow with every packet. Real connections stay far below it.
const maxHistory = 1024

// maxTunnelParents bounds the tunnel flows remembered per connection.
const maxTunnelParents = 64

func (c *conn) addHistory(code byte) {
	if len(c.hist) < maxHistory {
		c.hist = append(c.hist, code)
	}
}

// checkHistory adds code the first time mask is seen and reports whether
// it had been seen before (Session::CheckHistory).
func (c *conn) checkHistory(mask uint32, code byte) bool {
	if c.histSeen&mask == 0 {
		c.histSeen |= mask
		c.addHistory(code)
		return false
	}
	return true
}

// scaledHistory adds code on the 1st, 10th, 100th, … call
// (Session::ScaledHistoryEntry with base 10).
func (c *conn) scaledHistory(code byte, counter, threshold *uint32) bool {
	*counter++
	if *counter == *threshold {
		c.addHistory(code)
		nt := *threshold * 10
		if nt <= *threshold {
			*counter = 0
		} else {
			*threshold = nt
		}
		return true
	}
	return false
}

// noteTunnel records the tunnel service of an outer tunnel packet. Teredo
// confirms only once both directions carried it
// (Tunnel::delay_teredo_confirmation); the others at once.
func (c *conn) noteTunnel(svc string, isOrig bool) {
	if c.tunnelSvc == "" {
		c.tunnelSvc = svc
	}
	if isOrig {
		c.tunnelDirs |= 1
	} else {
		c.tunnelDirs |= 2
	}
	if svc != "teredo" || c.tunnelDirs == 3 {
		c.tunnelConfirmed = true
	}
}

// addParent records the UID of a tunnel flow that carried this connection.
func (c *conn) addParent(u uid) {
	for _, p := range c.parents {
		if p == u {
			return
		}
	}
	if len(c.parents) < maxTunnelParents {
		c.parents = append(c.parents, u)
	}
}
