package classify

// quic handles one UDP datagram for QUIC (see the QUIC file comment).
func (c *Classifier) quic(st *State, fromOrig bool, data []byte) {
	st.pending &^= 1 << recQUIC
}
