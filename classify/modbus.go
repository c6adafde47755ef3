package classify

// Modbus/TCP recognition (Zeek's Modbus analyzer: Modbus.cc,
// modbus-protocol.pac, modbus-analyzer.pac).
//
// Confirmation: deliver_ModbusTCP_PDU confirms at the first whole PDU
// parsed from either side: the MBAP header (transaction id, protocol id,
// length, unit id; then the function code) and length-2 more bytes.
// Violation: a length below 2 cannot hold the unit id and function code the
// header parses, so binpac throws.
//
// Attachment: port 502 only (no DPD signature).
// Bound: the first PDU of each direction (within the prefix).

// modbusPDU checks the first Modbus/TCP PDU of b: yes when whole, no when
// its length field is invalid, more when b is too short.
func modbusPDU(b []byte) tri {
	if len(b) < 6 {
		return more
	}
	n := int(be16(b[4:6]))
	if n < 2 {
		return no
	}
	if len(b) < 6+n {
		return more
	}
	return yes
}

// modbus is the Modbus/TCP recognizer.
func (c *Classifier) modbus(st *State, in *input) verdict {
	return c.firstPDU(st, in, svcModbus, modbusPDU)
}

// firstPDU runs a recognizer that parses both directions from their starts,
// confirms at the first whole PDU of either and violates at a malformed one
// (which, after the confirmation, removes the service). Only each
// direction's first PDU is checked.
func (c *Classifier) firstPDU(st *State, in *input, svc uint8, pdu func([]byte) tri) verdict {
	var r [2]tri
	for d := 0; d < 2; d++ {
		r[d] = pdu(in.pre[d])
	}
	if r[0] == yes || r[1] == yes {
		c.confirm(st, svc)
	}
	if r[0] == no || r[1] == no {
		st.violate(svc)
		return done
	}
	w0, w1 := r[0] == more && in.more[0], r[1] == more && in.more[1]
	switch {
	case w0 && w1:
		return undecided
	case w0:
		in.only = 0
		return undecided
	case w1:
		in.only = 1
		return undecided
	}
	return done
}
