package classify

// MQTT recognition (Zeek's MQTT analyzer: MQTT.cc, mqtt-protocol.pac,
// commands/*.pac).
//
// Each direction is a stream of MQTT control packets (binpac flowunit
// MQTT_PDU): the fixed header byte, the remaining length (a base-128
// varint), then the command within that length.
// Confirmation: a CONNECT that parses (protocol name, version, flags, keep
// alive, client id, and the will topic and message, user name and password
// the flags announce), from either side.
// Violation: a remaining length of more than three bytes (calc_header_length
// complains at the fourth: its multiplier check fires one byte early), or a
// command that does not fit its remaining length (CONNECT as above;
// CONNACK two bytes; PUBLISH a topic and, for QoS 1 and 2, a message id;
// PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK a message id; SUBSCRIBE a message id
// and topic/QoS pairs; SUBACK a message id and a QoS; UNSUBSCRIBE a
// message id and topics). Types 0 and 15 parse as empty. A violation makes
// DPD disable the analyzer.
//
// Attachment: 1883/tcp, or elsewhere the signature dpd_mqtt, /^.{4,7}MQ/
// at the start of either direction within the DPD window (the protocol
// name "MQTT" or "MQIsdp" of a CONNECT), matched across the chunks of the
// stream (State.startSignature).
// Bound: the connection's chunk budget (maxChunks); a command longer than
// mqttMaxBody is checked on its first mqttMaxBody bytes only.

const mqttMaxBody = 1024

// mqttDir is one direction's packet framing.
type mqttDir struct {
	hdr    [5]byte // fixed header and remaining length
	nhdr   uint8
	inBody bool
	size   int // the command's length
	got    int
	body   []byte // the command's first bytes (at most mqttMaxBody)
}

type mqttConn struct {
	dir [2]mqttDir
}

// mqttSig is dpd_mqtt on a stream start.
func mqttSig(b []byte) tri {
	for k := 4; k <= 7; k++ {
		if len(b) < k+2 {
			return more
		}
		if b[k-1] == '\n' {
			return no // "." does not match a newline
		}
		if b[k] == 'M' && b[k+1] == 'Q' {
			return yes
		}
	}
	return no
}

// mqttData frames one delivery; it returns false at a violation.
func (c *Classifier) mqttData(st *State, s *mqttDir, data []byte) bool {
	for len(data) > 0 {
		if !s.inBody {
			v := data[0]
			data = data[1:]
			s.hdr[s.nhdr] = v
			s.nhdr++
			if s.nhdr == 1 {
				continue // the fixed header byte
			}
			if s.nhdr-1 >= 4 {
				return false // a fourth length byte trips calc_header_length
			}
			if v&0x80 != 0 {
				continue
			}
			s.size = 0
			mult := 1
			for _, b := range s.hdr[1:s.nhdr] {
				s.size += int(b&0x7f) * mult
				mult *= 128
			}
			s.inBody, s.got, s.body = true, 0, s.body[:0]
		}
		n := min(s.size-s.got, len(data))
		if room := min(s.size, mqttMaxBody) - len(s.body); room > 0 {
			s.body = appendCapped(s.body, data[:min(n, room)], min(s.size, mqttMaxBody))
		}
		s.got += n
		data = data[n:]
		if s.got == s.size {
			if !c.mqttCommand(st, s.hdr[0], s.body, s.size > len(s.body)) {
				return false
			}
			s.nhdr, s.inBody = 0, false
		}
	}
	return true
}

// mqttString reads an MQTT string (a 16-bit length and bytes) at b's start.
func mqttString(b []byte) (rest []byte, ok bool) {
	if len(b) < 2 || int(be16(b)) > len(b)-2 {
		return nil, false
	}
	return b[2+be16(b):], true
}

// mqttCommand checks one command; cut is set when b holds only its start
// (a check reaching past it passes).
func (c *Classifier) mqttCommand(st *State, fixed byte, b []byte, cut bool) bool {
	fail := func() bool { return cut }
	switch typ := fixed >> 4; typ {
	case 1: // CONNECT
		p, ok := mqttString(b)
		if !ok || len(p) < 4 {
			return fail()
		}
		flags := p[1]
		if p, ok = mqttString(p[4:]); !ok {
			return fail()
		}
		if flags&0x04 != 0 {
			if p, ok = mqttString(p); ok {
				p, ok = mqttString(p)
			}
			if !ok {
				return fail()
			}
		}
		for _, bit := range [...]byte{0x80, 0x40} {
			if flags&bit != 0 {
				if p, ok = mqttString(p); !ok {
					return fail()
				}
			}
		}
		c.confirm(st, svcMQTT)
	case 2: // CONNACK
		if len(b) < 2 {
			return fail()
		}
	case 3: // PUBLISH
		p, ok := mqttString(b)
		if !ok || fixed>>1&3 != 0 && len(p) < 2 {
			return fail()
		}
	case 4, 5, 6, 7, 11: // message id
		if len(b) < 2 {
			return fail()
		}
	case 8, 10: // SUBSCRIBE / UNSUBSCRIBE: message id, topics (with QoS)
		if len(b) < 2 {
			return fail()
		}
		for p := b[2:]; len(p) > 0; {
			var ok bool
			if p, ok = mqttString(p); !ok {
				return fail()
			}
			if typ == 8 {
				if len(p) < 1 {
					return fail()
				}
				p = p[1:]
			}
		}
	case 9: // SUBACK
		if len(b) < 3 {
			return fail()
		}
	}
	return true
}

// mqttChunk feeds one chunk of direction d.
func (c *Classifier) mqttChunk(st *State, d int, data []byte, off uint32, inWindow bool) {
	if st.sx == nil || st.sx.mqtt == nil {
		var earlier []byte
		if !st.attached(svcMQTT) {
			// dpd_mqtt at a direction's stream start (matched across
			// chunks).
			var ok bool
			if earlier, ok = st.startSignature(startSigMQTT, recMQTT, d, data, off, inWindow, mqttSig); !ok {
				return
			}
		}
		if st.sx == nil {
			st.sx = &streamState{}
		}
		st.sx.mqtt = &mqttConn{}
		if len(earlier) > 0 && !c.mqttData(st, &st.sx.mqtt.dir[d], earlier) {
			st.violate(svcMQTT)
			st.pending &^= 1 << recMQTT
			st.dropStream()
			return
		}
	}
	if !c.mqttData(st, &st.sx.mqtt.dir[d], data) {
		st.violate(svcMQTT)
		st.pending &^= 1 << recMQTT
		st.dropStream()
	}
}
