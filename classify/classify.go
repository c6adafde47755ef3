// Package classify recognizes a connection's application services from its
// payload, the way Zeek's dynamic protocol detection does: a service is named
// only when the payload confirms it (a DNS message that parses, an HTTP
// request line, a TLS ClientHello, three synced SMB chunks, cleartext RDP
// MCS/GCC, …), never from the port alone. It knows only bytes: the flow
// tracker feeds it each direction's first bytes in stream order.
package classify

// Transport is the connection's transport protocol.
type Transport uint8

// Transports the recognizers distinguish.
const (
	TCP Transport = iota + 1
	UDP
)

// Action is what the caller must do after a delivery.
type Action uint8

// Actions returned by Deliver.
const (
	// None: nothing to do.
	None Action = iota
	// Flip: an analyzer (DNS, NTP) decided the roles are reversed, as Zeek's
	// analyzer flips do; the caller swaps originator and responder and calls
	// State.Flip.
	Flip
)

// Set is a set of enabled recognizers (a bit per recognizer).
type Set uint64

// Classifier holds the configuration shared by all connections. It is
// read-only after New and safe for concurrent use.
type Classifier struct {
	enabled Set
}

// New returns a classifier running the recognizers in enabled.
func New(enabled Set) *Classifier { return &Classifier{enabled: enabled} }

// State is the per-connection classification state. Its zero value is not
// ready: call Classifier.Start.
type State struct {
	services []string
}

// Start prepares st for a new connection (after any flip at creation).
// partial is true for a TCP connection whose handshake was not seen (Zeek's
// IsPartial): HTTP, SSL and RDP are then not attempted.
func (c *Classifier) Start(st *State, t Transport, origPort, respPort uint16, partial bool) {
	*st = State{}
}

// Deliver feeds data from one direction: for TCP the next in-order stream
// bytes, for UDP one datagram's payload.
func (c *Classifier) Deliver(st *State, fromOrig bool, data []byte) Action { return None }

// Gap tells the state that a direction's stream has a hole (bytes lost).
func (c *Classifier) Gap(st *State, fromOrig bool) {}

// Flip tells the state that originator and responder swapped.
func (st *State) Flip() {}

// Wants reports whether the state still wants payload from the direction;
// false once classification is final or the window is exhausted, so the
// caller can stop delivering.
func (st *State) Wants(fromOrig bool) bool { return false }

// Services appends the confirmed services, lowercase, in confirmation order.
func (st *State) Services(dst []string) []string { return append(dst, st.services...) }
