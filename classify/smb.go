package classify

// SMB recognition (Zeek's SMB.cc and its binpac parsers smb*.pac) and the
// children SMB attaches.
//
// Confirmation: SMB.cc waits for a chunk (one in-order delivery) that
// carries an SMB header at offset 4 ("\xffSMB" or "\xfeSMB" after the 4-byte
// NetBIOS session header); from that sync on it counts chunks of both
// directions and confirms at the third without a parse exception. A gap
// forces a new sync. netbased checks the NetBIOS message type (0x00,
// session message) of the syncing chunk; it does not replay binpac's full
// parse, so a garbage third chunk still counts.
//
// Children: from the sync on, each direction is parsed as NetBIOS session
// messages (SMB_TCP) holding SMB1 or SMB2 messages, and the parsers feed
// the child analyzers as Zeek's do, before the chunk is counted (a child
// confirmed in the first three chunks comes before smb in the services):
//   - security blobs go to GSSAPI (forward_gssapi, smb-gssapi.pac), or to
//     NTLM directly when the blob is a raw "NTLMSSP" message; blobs shorter
//     than 8 bytes go nowhere. SMB1: the NT LM 0.12 negotiate response with
//     extended security, the session setup AndX request (12 words) and
//     response (4 words). SMB2: the negotiate response and the session
//     setup request and response (status success, buffer overflow or more
//     processing required; other statuses are error responses);
//   - named-pipe traffic goes to a DCE_RPC analyzer per file id
//     (forward_dce_rpc, smb-pipe.pac; SMB1 uses file id 0). A tree is a
//     pipe when its SMB1 tree connect AndX response names the "IPC"
//     service or its SMB2 tree connect response has share type 2 (pipe).
//     SMB1: read AndX responses and write AndX requests on a pipe tree,
//     and transactions whose name starts \PIPE\ (but not \PIPE\LANMAN),
//     with their responses (matched by multiplex id). SMB2: read responses
//     (the request's tree, matched by message id) and write requests on a
//     pipe tree, and FSCTL_PIPE_TRANSCEIVE ioctl requests and responses.
//
// AndX chains (SMB1) and compounded requests (SMB2, next_command) are
// followed. A message longer than smbMaxMessage is parsed on its first
// smbHeadBytes only (its data is not forwarded).
//
// Attachment: ports 139 and 445, or elsewhere the signature
// ^....[\xfe\xff]SMB at the start of either direction within the DPD
// window. NetBIOS session setup on 139 is skipped until the sync.
// Bound: the walk stops after smbMaxMessages messages or smbMaxChunks
// chunks (it outlives the chunk budget of the other recognizers, like the
// expected-connection watch), or once every child
// that can still add a name is confirmed (dce_rpc, gssapi, and ntlm or
// krb).

const (
	smbMaxMessage  = 16 << 10 // longest message buffered whole when it spans chunks
	smbHeadBytes   = 512      // what is kept of a longer one
	smbMaxMessages = 4096     // messages walked per connection
	smbMaxChunks   = 8192     // chunks walked per connection
	smbMaxTrees    = 8        // pipe trees remembered
	smbMaxPending  = 32       // SMB2 requests awaiting their response
	smbMaxTrans    = 8        // SMB1 transactions awaiting their response
	smbMaxFids     = 4        // DCE_RPC children (one per pipe file id)
	smbMaxAndX     = 8        // commands followed in one AndX chain or compound
)

// hasSMBHeader is SMB.cc's HasSMBHeader.
func hasSMBHeader(b []byte) bool {
	return len(b) >= 8 && (b[4] == 0xff || b[4] == 0xfe) && b[5] == 'S' && b[6] == 'M' && b[7] == 'B'
}

// smbWalker is the SMB analyzer's parse state once synced.
type smbWalker struct {
	dir       [2]smbStream
	chunks    uint8 // chunks since the sync (SMB.cc's counter)
	nPipe     uint8
	nextPend  uint8
	nextTrans uint8
	nextDCE   uint8
	messages  uint32
	walked    uint32 // chunks walked
	pipeTrees [smbMaxTrees]uint16
	pend      [smbMaxPending]smb2Pending
	trans     [smbMaxTrans]smb1Trans
	dce       [smbMaxFids]dceAnalyzer
}

// smbStream is one direction's NetBIOS framing.
type smbStream struct {
	hdr  [4]byte
	nhdr uint8
	size int // the current message's length
	got  int // bytes of it seen
	buf  []byte
}

// smb2Pending is an SMB2 request awaiting its response.
type smb2Pending struct {
	mid  uint64
	fid  uint64 // read and ioctl requests: the file id
	tree uint32
	used bool
}

// smb1Trans is an SMB1 transaction awaiting its response.
type smb1Trans struct {
	mid  uint16
	pipe bool
	used bool
}

// smbDeliver is the SMB analyzer's handling of one TCP chunk (SMB.cc's
// DeliverStream), before the other recognizers see it.
func (c *Classifier) smbDeliver(st *State, d int, data []byte) {
	if st.pending&(1<<recSMB) == 0 && st.flags&flagSMBWalk == 0 {
		return
	}
	if !st.attached(svcSMB) && st.flags&flagSMBSig == 0 {
		// Signature: anchored at the start of a direction's stream.
		if st.seen[d] == 0 && st.dpdWindowOpen() && hasSMBHeader(data) {
			st.flags |= flagSMBSig
		} else {
			started := func(i int) bool { return i == d || st.seen[i] > 0 || st.gapped(i) }
			if started(0) && started(1) || !st.dpdWindowOpen() {
				st.pending &^= 1 << recSMB
			}
			return
		}
	}
	if st.flags&flagSMBSynced == 0 {
		if !hasSMBHeader(data) || data[0] != 0x00 {
			return
		}
		st.flags |= flagSMBSynced
		w := st.smbWalk()
		for i := range w.dir {
			w.dir[i].reset()
		}
	}
	w := st.smbWalk()
	if w == nil {
		return
	}
	if st.flags&flagSMBWalk != 0 {
		w.walked++
		c.smbStreamData(st, w, d, data)
	}
	if st.pending&(1<<recSMB) != 0 {
		w.chunks++
		if w.chunks >= 3 {
			c.confirm(st, svcSMB)
			st.pending &^= 1 << recSMB
		}
	}
	if st.flags&flagSMBWalk != 0 && (w.messages >= smbMaxMessages || w.walked >= smbMaxChunks || c.smbChildrenDone(st)) {
		st.stopSMBWalk()
	}
	if st.pending&(1<<recSMB) == 0 && st.flags&flagSMBWalk == 0 {
		st.dropStream()
	}
}

// smbWalk returns the walker, creating it (and starting the walk) at the
// first sync.
func (st *State) smbWalk() *smbWalker {
	if st.sx != nil && st.sx.smb != nil {
		return st.sx.smb
	}
	if st.flags&flagSMBSynced == 0 {
		return nil
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	st.sx.smb = &smbWalker{}
	st.flags |= flagSMBWalk
	return st.sx.smb
}

// stopSMBWalk ends the message walk (the chunk counter stays while SMB
// waits for its confirmation).
func (st *State) stopSMBWalk() {
	st.flags &^= flagSMBWalk
	if st.sx != nil && st.sx.smb != nil {
		w := st.sx.smb
		w.dir = [2]smbStream{}
		w.dce = [smbMaxFids]dceAnalyzer{}
	}
}

// smbChildrenDone reports whether no child can add a name any more.
func (c *Classifier) smbChildrenDone(st *State) bool {
	decided := func(svc uint8) bool { return !c.on(svc) || st.has(svc) || st.disabled(svc) }
	return decided(svcDCERPC) && decided(svcGSSAPI) && (decided(svcNTLM) || decided(svcKRB))
}

// smbGap is SMB.cc's NeedResync after a content gap: both directions'
// buffers are discarded and the next chunk with an SMB header syncs again.
func (st *State) smbGap() {
	st.flags &^= flagSMBSynced
	if st.sx != nil && st.sx.smb != nil {
		for i := range st.sx.smb.dir {
			st.sx.smb.dir[i].reset()
		}
	}
}

func (s *smbStream) reset() {
	s.nhdr, s.size, s.got = 0, 0, 0
	s.buf = s.buf[:0]
}

// smbStreamData splits direction d's bytes into NetBIOS messages.
func (c *Classifier) smbStreamData(st *State, w *smbWalker, d int, data []byte) {
	s := &w.dir[d]
	for len(data) > 0 && st.flags&flagSMBWalk != 0 {
		if s.nhdr < 4 {
			n := copy(s.hdr[s.nhdr:], data)
			s.nhdr += uint8(n)
			data = data[n:]
			if s.nhdr < 4 {
				return
			}
			s.size = int(s.hdr[1])<<16 | int(s.hdr[2])<<8 | int(s.hdr[3])
			s.got = 0
			s.buf = s.buf[:0]
		}
		n := min(s.size-s.got, len(data))
		switch {
		case s.got == 0 && n == s.size:
			c.smbMessage(st, w, d, s.hdr[0], data[:n], false)
		default:
			keep := s.size
			if keep > smbMaxMessage {
				keep = smbHeadBytes
			}
			if room := keep - len(s.buf); room > 0 {
				s.buf = appendCapped(s.buf, data[:min(n, room)], keep)
			}
			if s.got+n == s.size {
				c.smbMessage(st, w, d, s.hdr[0], s.buf, len(s.buf) < s.size)
			}
		}
		s.got += n
		data = data[n:]
		if s.got == s.size {
			s.nhdr = 0
			if cap(s.buf) > smbMaxMessage {
				s.buf = nil
			}
		}
	}
}

// smbMessage parses one NetBIOS message (SMB_TCP); cut is set when only
// its head was kept.
func (c *Classifier) smbMessage(st *State, w *smbWalker, d int, typ byte, msg []byte, cut bool) {
	w.messages++
	if typ != 0 || len(msg) < 4 {
		return
	}
	switch string(msg[:4]) {
	case "\xffSMB":
		c.smb1Message(st, w, d == 0, msg, len(msg) == 35, cut)
	case "\xfeSMB":
		c.smb2Message(st, w, d == 0, msg, cut)
	}
}

// smbData returns b[off:off+n] when it lies within b (and the message was
// not cut), or nil.
func smbData(b []byte, off, n int, cut bool) ([]byte, bool) {
	if cut || off < 0 || n < 0 || off > len(b) || n > len(b)-off {
		return nil, false
	}
	return b[off : off+n], true
}

// forwardGSSAPI is forward_gssapi: a raw NTLMSSP message goes to NTLM,
// anything else of at least 8 bytes to GSSAPI.
func (c *Classifier) forwardGSSAPI(st *State, blob []byte) {
	if len(blob) < 8 {
		return
	}
	if string(blob[:7]) == "NTLMSSP" {
		c.ntlmMessage(st, blob)
		return
	}
	c.gssapiChild(st, blob)
}

// forwardDCERPC is forward_dce_rpc: data for the DCE_RPC analyzer of fid.
func (c *Classifier) forwardDCERPC(st *State, w *smbWalker, fid uint64, fromOrig bool, data []byte) {
	if len(data) == 0 {
		return
	}
	var a *dceAnalyzer
	for i := range w.dce {
		if w.dce[i].used && w.dce[i].fid == fid {
			a = &w.dce[i]
			break
		}
	}
	if a == nil {
		a = &w.dce[w.nextDCE%smbMaxFids]
		w.nextDCE++
		buf := [2][]byte{a.dir[0].buf[:0], a.dir[1].buf[:0]}
		*a = dceAnalyzer{fid: fid, used: true}
		a.dir[0].buf, a.dir[1].buf = buf[0], buf[1]
	}
	c.dceData(st, a, dirIndex(fromOrig), data)
}

func (w *smbWalker) setPipe(tree uint16) {
	if w.isPipe(tree) {
		return
	}
	w.pipeTrees[w.nPipe%smbMaxTrees] = tree
	if w.nPipe < smbMaxTrees {
		w.nPipe++
	}
}

func (w *smbWalker) isPipe(tree uint16) bool {
	for i := uint8(0); i < w.nPipe; i++ {
		if w.pipeTrees[i] == tree {
			return true
		}
	}
	return false
}

// SMB1 commands the parsers forward from.
const (
	smb1Transaction  = 0x25
	smb1ReadAndX     = 0x2e
	smb1WriteAndX    = 0x2f
	smb1Negotiate    = 0x72
	smb1SessionSetup = 0x73
	smb1TreeConnect  = 0x75
)

// smb1Message parses an SMB1 message (m starts at the SMB header).
func (c *Classifier) smb1Message(st *State, w *smbWalker, fromOrig bool, m []byte, noMsg, cut bool) {
	const hdrLen = 32
	if len(m) < hdrLen || noMsg {
		return
	}
	cmd := m[4]
	unicode := le16(m[10:])&0x8000 != 0
	tid, mid := le16(m[24:]), le16(m[30:])
	off := hdrLen
	for depth := 0; depth < smbMaxAndX; depth++ {
		if off >= len(m) {
			return
		}
		wc := int(m[off])
		words := m[off+1:]
		if len(words) < 2*wc {
			return
		}
		andx := wc >= 2 && smb1AndX(cmd)
		switch cmd {
		case smb1Negotiate:
			if !fromOrig && wc == 17 && len(words) >= 36 {
				caps := le32(words[19:])
				byteCount := int(le16(words[34:]))
				if caps&0x80000000 != 0 {
					if blob, ok := smbData(m, off+37+16, byteCount-16, cut); ok {
						c.forwardGSSAPI(st, blob)
					}
				}
			}
		case smb1SessionSetup:
			switch {
			case fromOrig && wc == 12:
				if blob, ok := smbData(m, off+27, int(le16(words[14:])), cut); ok {
					c.forwardGSSAPI(st, blob)
				}
			case !fromOrig && wc == 4:
				if blob, ok := smbData(m, off+11, int(le16(words[6:])), cut); ok {
					c.forwardGSSAPI(st, blob)
				}
			}
		case smb1TreeConnect:
			if !fromOrig && wc >= 2 {
				svc := off + 1 + 2*wc + 2
				if svc+3 <= len(m) && string(m[svc:svc+3]) == "IPC" {
					w.setPipe(tid)
				}
			}
		case smb1ReadAndX:
			if !fromOrig && wc >= 12 && w.isPipe(tid) {
				n := int(le16(words[10:])) | int(le16(words[14:]))<<16
				start := max(off+wc*2+3, off+int(le16(words[12:]))-hdrLen)
				if data, ok := smbData(m, start, n, cut); ok {
					c.forwardDCERPC(st, w, 0, false, data)
				}
			}
		case smb1WriteAndX:
			if fromOrig && wc >= 12 && w.isPipe(tid) {
				n := int(le16(words[18:]))<<16 | int(le16(words[20:]))
				start := max(off+wc*2+3, off+int(le16(words[22:]))-hdrLen)
				if data, ok := smbData(m, start, n, cut); ok {
					c.forwardDCERPC(st, w, 0, true, data)
				}
			}
		case smb1Transaction:
			c.smb1Transaction(st, w, fromOrig, m, off, wc, tid, mid, unicode, cut)
		}
		if !andx || len(words) < 4 {
			return
		}
		next, nextOff := words[0], int(le16(words[2:]))
		if next == 0xff || nextOff <= off || nextOff >= len(m) {
			return
		}
		cmd, off = next, nextOff
	}
}

// smb1AndX reports whether an SMB1 command's parameters start with an
// AndX block (the next command and its offset).
func smb1AndX(cmd byte) bool {
	switch cmd {
	case 0x24, 0x2d, smb1ReadAndX, smb1WriteAndX, smb1SessionSetup, 0x74, smb1TreeConnect, 0xa2:
		return true
	}
	return false
}

// smb1Transaction handles SMB_COM_TRANSACTION: a request on a \PIPE\ name
// forwards its data; a response forwards when its request did.
func (c *Classifier) smb1Transaction(st *State, w *smbWalker, fromOrig bool, m []byte, off, wc int, tid, mid uint16, unicode, cut bool) {
	words := m[off+1:]
	if fromOrig {
		if wc < 14 {
			return
		}
		setup := int(words[26])
		nameOff := off + 1 + 28 + 2*setup + 2
		if wc != 14+setup || nameOff > len(m) {
			return
		}
		kind := smb1TransName(m[nameOff:], unicode)
		pipe := kind == transPipe || kind == transUnknown && w.isPipe(tid)
		t := &w.trans[w.nextTrans%smbMaxTrans]
		w.nextTrans++
		for i := range w.trans {
			if w.trans[i].used && w.trans[i].mid == mid {
				t = &w.trans[i]
			}
		}
		*t = smb1Trans{mid: mid, pipe: pipe, used: true}
		if kind == transPipe {
			start := max(nameOff, int(le16(words[24:])))
			if data, ok := smbData(m, start, len(m)-start, cut); ok {
				c.forwardDCERPC(st, w, 0, true, data)
			}
		}
		return
	}
	pipe := false
	for i := range w.trans {
		if w.trans[i].used && w.trans[i].mid == mid {
			pipe = w.trans[i].pipe
			w.trans[i] = smb1Trans{}
		}
	}
	if !pipe || wc < 10 || len(words) < 20 {
		return
	}
	count := int(le16(words[12:]))
	start := max(off+1+2*wc+2, int(le16(words[14:])))
	if count > 0 {
		if data, ok := smbData(m, start, len(m)-start, cut); ok {
			c.forwardDCERPC(st, w, 0, false, data)
		}
	}
}

// SMB1 transaction kinds (determine_transaction_type).
const (
	transUnknown = iota
	transPipe
	transRAP
)

// smb1TransName classifies a transaction name (an SMB_string after the
// byte count: UTF-16LE after one padding byte, or ASCII, up to its NUL).
func smb1TransName(b []byte, unicode bool) int {
	if unicode {
		if len(b) < 1 {
			return transUnknown
		}
		b = b[1:]
		end := -1
		for i := 1; i < len(b); i += 2 {
			if b[i] == 0 && b[i-1] == 0 {
				end = i + 1
				break
			}
		}
		if end < 0 {
			return transUnknown
		}
		s := b[:end]
		at := func(i int, c byte) bool { return s[i] == c }
		if len(s) > 10 && at(0, '\\') && at(2, 'P') && at(4, 'I') && at(6, 'P') && at(8, 'E') && at(10, '\\') {
			if len(s) > 22 && at(12, 'L') && at(14, 'A') && at(16, 'N') && at(18, 'M') && at(20, 'A') && at(22, 'N') {
				return transRAP
			}
			return transPipe
		}
		return transUnknown
	}
	end := -1
	for i, v := range b {
		if v == 0 {
			end = i + 1
			break
		}
	}
	if end < 0 {
		return transUnknown
	}
	s := b[:end]
	if len(s) > 5 && string(s[:6]) == `\PIPE\` {
		if len(s) > 11 && string(s[6:12]) == "LANMAN" {
			return transRAP
		}
		return transPipe
	}
	return transUnknown
}

// SMB2 commands and constants the parsers use.
const (
	smb2Negotiate    = 0
	smb2SessionSetup = 1
	smb2TreeConnect  = 3
	smb2Read         = 8
	smb2Write        = 9
	smb2Ioctl        = 11

	smb2StatusPending        = 0x00000103
	smb2StatusBufferOverflow = 0x80000005
	smb2StatusMoreProcessing = 0xc0000016
	smb2PipeTransceive       = 0x0011c017
	smb2SharePipe            = 2
)

// smb2Message parses an SMB2 message and the ones compounded after it (m
// starts at the SMB2 header).
func (c *Classifier) smb2Message(st *State, w *smbWalker, fromOrig bool, m []byte, cut bool) {
	for depth := 0; depth < smbMaxAndX; depth++ {
		if len(m) < 64 {
			return
		}
		next := int(le32(m[20:]))
		pdu := m
		if next >= 64 && next < len(m) {
			pdu = m[:next]
		}
		c.smb2PDU(st, w, fromOrig, pdu, cut && len(pdu) == len(m))
		if next < 64 || next >= len(m) {
			return
		}
		m = m[next:]
	}
}

// smb2PDU parses one SMB2 header and message.
func (c *Classifier) smb2PDU(st *State, w *smbWalker, fromOrig bool, m []byte, cut bool) {
	headLen := int(le16(m[4:]))
	status := le32(m[8:])
	cmd := le16(m[12:])
	mid := le64(m[24:])
	tree := le32(m[36:])
	// proc_smb2_message: requests remember their tree; responses use it.
	var req *smb2Pending
	if fromOrig {
		req = w.request(mid)
		req.tree = tree
	} else {
		req = w.lookup(mid)
	}
	reqTree, reqFid := uint32(0), uint64(0)
	if req != nil {
		reqTree, reqFid = req.tree, req.fid
		if !fromOrig && status != smb2StatusPending {
			*req = smb2Pending{}
		}
	}
	if status != 0 && status != smb2StatusBufferOverflow && status != smb2StatusMoreProcessing {
		return // SMB2_error_response
	}
	body := m[64:]
	// field returns the bytes at a "padding to off - head_length" point of
	// the body (or right after the fixed part when that point lies before it).
	field := func(fixed, off, n int) ([]byte, bool) {
		return smbData(m, 64+max(fixed, off-headLen), n, cut)
	}
	switch {
	case cmd == smb2Negotiate && !fromOrig:
		if len(body) >= 64 {
			if blob, ok := field(64, int(le16(body[56:])), int(le16(body[58:]))); ok {
				c.forwardGSSAPI(st, blob)
			}
		}
	case cmd == smb2SessionSetup && fromOrig:
		if len(body) >= 16 {
			if blob, ok := field(16, int(le16(body[12:])), int(le16(body[14:]))); ok {
				c.forwardGSSAPI(st, blob)
			}
		}
	case cmd == smb2SessionSetup && !fromOrig:
		if len(body) >= 8 {
			if blob, ok := field(8, int(le16(body[4:])), int(le16(body[6:]))); ok {
				c.forwardGSSAPI(st, blob)
			}
		}
	case cmd == smb2TreeConnect && !fromOrig:
		if len(body) >= 3 && body[2] == smb2SharePipe {
			w.setPipe(uint16(tree))
		}
	case cmd == smb2Read && fromOrig:
		if len(body) >= 32 && req != nil {
			req.fid = le64(body[16:]) + le64(body[24:])
		}
	case cmd == smb2Read && !fromOrig:
		if len(body) >= 16 && w.isPipe(uint16(reqTree)) {
			if data, ok := field(16, int(le16(body[2:])), int(le32(body[4:]))); ok {
				c.forwardDCERPC(st, w, reqFid, false, data)
			}
		}
	case cmd == smb2Write && fromOrig:
		if len(body) >= 48 && w.isPipe(uint16(tree)) {
			if data, ok := field(48, int(le16(body[2:])), int(le32(body[4:]))); ok {
				c.forwardDCERPC(st, w, le64(body[16:])+le64(body[24:]), true, data)
			}
		}
	case cmd == smb2Ioctl && fromOrig:
		if len(body) >= 56 {
			fid := le64(body[8:]) + le64(body[16:])
			if req != nil {
				req.fid = fid
			}
			if le32(body[4:]) == smb2PipeTransceive {
				if data, ok := smb2IoctlBuffer(m, headLen, 56, int(le32(body[24:])), int(le32(body[28:])), cut); ok {
					c.forwardDCERPC(st, w, fid, true, data)
				}
			}
		}
	case cmd == smb2Ioctl && !fromOrig:
		if len(body) >= 48 && le32(body[4:]) == smb2PipeTransceive {
			inOff, inCount := int(le32(body[24:])), int(le32(body[28:]))
			outOff, outCount := int(le32(body[32:])), int(le32(body[36:]))
			pad1 := 0
			if inOff != 0 {
				pad1 = 48 + headLen - inOff
			}
			if pad1 < 0 {
				return
			}
			at := 48 + pad1 + inCount
			pad2 := 0
			if outOff != 0 && outOff != inOff {
				pad2 = at + headLen - outOff
			}
			if pad2 < 0 {
				return
			}
			if data, ok := smbData(m, 64+at+pad2, outCount, cut); ok {
				c.forwardDCERPC(st, w, reqFid, false, data)
			}
		}
	}
}

// smb2IoctlBuffer locates an ioctl request's input buffer the way Zeek's
// record does (a pad of fixed + head_length − input_offset bytes).
func smb2IoctlBuffer(m []byte, headLen, fixed, inOff, inCount int, cut bool) ([]byte, bool) {
	pad := 0
	if inOff != 0 {
		pad = fixed + headLen - inOff
	}
	if pad < 0 {
		return nil, false
	}
	return smbData(m, 64+fixed+pad, inCount, cut)
}

// request returns the pending entry for an SMB2 request's message id,
// taking a slot (the oldest is reused) when there is none.
func (w *smbWalker) request(mid uint64) *smb2Pending {
	if p := w.lookup(mid); p != nil {
		return p
	}
	p := &w.pend[w.nextPend%smbMaxPending]
	w.nextPend++
	*p = smb2Pending{mid: mid, used: true}
	return p
}

func (w *smbWalker) lookup(mid uint64) *smb2Pending {
	for i := range w.pend {
		if w.pend[i].used && w.pend[i].mid == mid {
			return &w.pend[i]
		}
	}
	return nil
}
