package emit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// Document is one Interval record ready for a back end: what a sink needs
// to route it (the address, the window) and to deliver it idempotently
// (the sensor, hence ID), and the encoded body. Sinks never parse the body.
//
// A Document handed to a sink is only valid during the call: Body points
// into a buffer the output reuses.
type Document struct {
	// Address is the monitored IP address the record is about (the Kafka
	// key; a sharding key).
	Address netip.Addr
	// Start and End bound the record's window (End: the Elasticsearch
	// index date).
	Start, End time.Time
	// Sensor names the sensor that wrote the record (see SensorOf): with
	// Address and Start it identifies the record across redeliveries.
	Sensor string
	// Body is the encoded record as the output's encoder wrote it, one
	// whole line with its trailing newline for the line formats.
	Body []byte
}

// DocumentID is a record's identity: a hash of its sensor, address and
// window start. A record delivered twice (a retry after an ambiguous
// failure, a spool replayed after a crash) has the same ID both times, so
// a back end keyed by it (Elasticsearch's _id) overwrites instead of
// doubling.
type DocumentID [16]byte

// ID is the document's identity.
func (d *Document) ID() DocumentID {
	// sensor, a separator no sensor name contains, the address (16 bytes
	// and a zone-less 4-or-16 marker), the window start in ns.
	var buf [256]byte
	b := append(buf[:0], d.Sensor...)
	b = append(b, 0)
	a16 := d.Address.As16()
	b = append(b, a16[:]...)
	if d.Address.Is4() {
		b = append(b, 4)
	} else {
		b = append(b, 16)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(d.Start.UnixNano()))
	sum := sha256.Sum256(b)
	var id DocumentID
	copy(id[:], sum[:])
	return id
}

// AppendText appends the ID in lowercase hex (32 characters).
func (id DocumentID) AppendText(b []byte) []byte { return hex.AppendEncode(b, id[:]) }

// String is the ID in lowercase hex.
func (id DocumentID) String() string { return hex.EncodeToString(id[:]) }

// SensorOf names the sensor that wrote r: its node hostname, node IP
// address and agent tag joined by "/". Sensors feeding one back end must
// differ in at least one of them, or their records overwrite each other.
func SensorOf(r *aggregate.Interval) string {
	return r.NodeHostname + "/" + r.NodeIPAddress + "/" + r.OriginatingAgentTag
}

// sensorCache keeps the last sensor name built, so that the records of one
// sensor (all of them, in practice) share one string.
type sensorCache struct {
	host, ip, tag, name string
}

func (c *sensorCache) of(r *aggregate.Interval) string {
	if c.name == "" || r.NodeHostname != c.host || r.NodeIPAddress != c.ip || r.OriginatingAgentTag != c.tag {
		c.host, c.ip, c.tag = r.NodeHostname, r.NodeIPAddress, r.OriginatingAgentTag
		c.name = SensorOf(r)
	}
	return c.name
}

// Sink delivers documents to one back end. An Output calls its methods
// from one goroutine (its delivery goroutine), never concurrently, and
// retries what failed with backoff: a sink makes one attempt per call.
type Sink interface {
	// Deliver sends docs once. It returns nil when the back end accepted
	// every document. Otherwise the error says what to do: a
	// *PartialError lists the documents that failed (the others were
	// accepted); an error marked by Permanent failed every document for
	// good (the back end refuses them: counted as rejected, not retried);
	// any other error (connection refused, a timeout, HTTP 503) fails
	// every document retryably. ctx bounds the attempt (Close's deadline).
	Deliver(ctx context.Context, docs []Document) error
	// Close releases the sink's connections or files.
	Close() error
}

// WindowSink is a Sink that wants to know where windows end (a file:
// rotation and fsync). EndWindow is called after the window's documents
// were delivered.
type WindowSink interface {
	Sink
	EndWindow(start, end time.Time) error
}

// ReopenSink is a Sink that can reopen its destination (a file moved by
// logrotate; SIGHUP).
type ReopenSink interface {
	Sink
	Reopen() error
}

// DocError is the failure of one document of a Deliver call.
type DocError struct {
	// Index is the document's index in the docs passed to Deliver.
	Index int
	// Err says why; Permanent(err) when sending again cannot help (a
	// mapping error, a record too large).
	Err error
}

// PartialError is a Deliver error where only some documents failed.
type PartialError struct {
	Failed []DocError
}

func (e *PartialError) Error() string {
	if len(e.Failed) == 0 {
		return "no document failed"
	}
	msg := fmt.Sprintf("%d documents failed, the first: %v", len(e.Failed), e.Failed[0].Err)
	return msg
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that sending again cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ErrBadOutput is wrapped by every error about the output's settings (a
// malformed destination URL, an unknown scheme, a format the destination
// does not take): the command line is wrong, not the back end.
var ErrBadOutput = errors.New("bad output setting")

// badOutput returns an error wrapping ErrBadOutput.
func badOutput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOutput, fmt.Sprintf(format, args...))
}

// isLineFormat reports whether every record of f is one JSON object on one
// line (the document formats of Elasticsearch and Kafka).
func isLineFormat(f Format) bool { return f == FormatJSON || f == FormatDynamite }

// trimNewline drops the body's trailing newline.
func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// schemeOf returns the URL scheme of dest ("es+http" for
// "es+http://host") and whether dest has the form SCHEME://.
func schemeOf(dest string) (string, bool) {
	i := strings.Index(dest, "://")
	if i <= 0 {
		return "", false
	}
	s := dest[:i]
	for j, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}
