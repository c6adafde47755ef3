package aggregate

import (
	"net/netip"
	"strings"

	"github.com/netbased/netbased/flow"
)

// evFlags describe a classified connection.
type evFlags uint16

const (
	evApplyOrig evFlags = 1 << iota // update the originator's record
	evApplyResp                     // update the responder's record
	evOutbound
	evInternal
	evInbound
	evSF
	evREJ
	evService // any service at all
	evSelf    // originator == responder
	evPCR     // the PCR is defined
)

// event is a connection reduced to what the update rules read, classified
// once on the accumulating goroutine.
type event struct {
	orig, resp netip.Addr
	origBytes  uint64
	respBytes  uint64
	origPkts   uint64
	respPkts   uint64
	pcr        float64
	port       PortKey
	flags      evFlags
	services   uint8 // bit s set: service s (DNS..RDP) is in the service set
}

// serviceMask returns the bits of the counted services in names, matched
// case-insensitively, and whether any service name is present at all.
func serviceMask(names []string) (mask uint8, named bool) {
	for _, n := range names {
		if n == "" {
			continue
		}
		named = true
		for s := Service(0); s < NumServices; s++ {
			if strings.EqualFold(n, serviceNames[s]) {
				mask |= 1 << s
			}
		}
	}
	return mask, named
}

// classify turns a connection into an event; ok is false when neither
// endpoint is monitored (nothing to update).
func (m *monitor) classify(c *flow.Conn) (ev event, ok bool) {
	o, r := c.Orig.Unmap().WithZone(""), c.Resp.Unmap().WithZone("")
	lo, lr := m.isLocal(o), m.isLocal(r)
	monO, monR := m.isMonitored(o, lo), m.isMonitored(r, lr)
	if !monO && !monR {
		return ev, false
	}
	ev = event{
		orig: o, resp: r,
		origBytes: c.OrigBytes, respBytes: c.RespBytes,
		origPkts: c.OrigPkts, respPkts: c.RespPkts,
		port: MakePortKey(c.IPProto, c.RespPort),
	}
	if monO {
		ev.flags |= evApplyOrig
	}
	if monR {
		ev.flags |= evApplyResp
	}
	switch {
	case lo && !lr:
		ev.flags |= evOutbound
	case lo && lr:
		ev.flags |= evInternal
	case !lo && lr:
		ev.flags |= evInbound
	}
	switch c.ConnState {
	case "SF":
		ev.flags |= evSF
	case "REJ":
		ev.flags |= evREJ
	}
	mask, anyService := serviceMask(c.Services)
	ev.services = mask
	if anyService {
		ev.flags |= evService
	}
	if o == r {
		ev.flags |= evSelf
	}
	if c.OrigBytes != 0 || c.RespBytes != 0 {
		ob, rb := float64(c.OrigBytes), float64(c.RespBytes)
		ev.pcr = (ob - rb) / (ob + rb)
		ev.flags |= evPCR
	}
	return ev, true
}
