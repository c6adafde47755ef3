package capture

// Decode errors. Every frame Decode rejects has one reason; the reasons are
// Zeek's weird names where Zeek has one. They are numbered so that the
// decoder counts them in a fixed array (DecoderStats.ErrorsByReason).

// DecodeReason identifies why Decode rejected a frame. Its String is the
// reason's name, e.g. "truncated_IP".
type DecodeReason uint8

// The decode reasons. ReasonNone (0) is never returned.
const (
	ReasonNone                DecodeReason = iota
	ReasonTruncatedLink                    // truncated_link_header
	ReasonTruncatedIP                      // truncated_IP
	ReasonTruncatedIPLen                   // truncated_IP_len
	ReasonUnknownIPVersion                 // unknown_ip_version
	ReasonIPHdrLenZero                     // ip_hdr_len_zero
	ReasonInvalidIPHdrSize                 // invalid_IP_header_size
	ReasonInternallyTruncated              // internally_truncated_header
	ReasonIPv4MinHdr                       // IPv4_min_header_size
	ReasonBadIPChecksum                    // bad_IP_checksum
	ReasonTruncatedHeader                  // truncated_header
	ReasonBadTCPHeaderLen                  // bad_TCP_header_len
	ReasonIncompleteFrag                   // incompletely_captured_fragment
	ReasonIPv6ExtTruncated                 // truncated_IPv6_extension_header
	ReasonUnknownLinkType                  // unknown_link_type
	ReasonTooManyL2Headers                 // too_many_l2_headers
	ReasonTruncatedMPLS                    // truncated_mpls_header
	ReasonTunnelMaxDepth                   // exceeded_tunnel_max_depth
	ReasonInnerTruncated                   // inner_packet_truncated
	ReasonIPv6NoNext                       // ipv6_no_next
	ReasonTruncatedRadiotap                // truncated_radiotap_header
	ReasonTruncated80211                   // truncated_802_11_header
	ReasonTruncatedGRE                     // truncated_GRE
	ReasonGREVersion                       // unknown_gre_version
	ReasonEGREProtocol                     // egre_protocol_type
	ReasonGRERouting                       // gre_routing
	ReasonGREFlags                         // unknown_gre_flags
	ReasonNonIPInEncap                     // non_ip_packet_in_encap
	ReasonTruncatedERSPAN                  // truncated_ERSPAN
	ReasonERSPANVersion                    // unknown_ERSPAN_version
	ReasonInnerIPVersion                   // invalid_inner_IP_version
	ReasonInnerIPLen                       // inner_IP_payload_length_mismatch
	ReasonTunnelViolation                  // tunnel_analyzer_violation
	ReasonEmptyTunnel                      // empty_tunnel_packet
	ReasonGeneveVersion                    // geneve_invalid_version
	ReasonFragTooLarge                     // excessively_large_fragment
	// NumDecodeReasons is one more than the largest reason.
	NumDecodeReasons
)

var decodeReasonNames = [NumDecodeReasons]string{
	ReasonNone:                "none",
	ReasonTruncatedLink:       "truncated_link_header",
	ReasonTruncatedIP:         "truncated_IP",
	ReasonTruncatedIPLen:      "truncated_IP_len",
	ReasonUnknownIPVersion:    "unknown_ip_version",
	ReasonIPHdrLenZero:        "ip_hdr_len_zero",
	ReasonInvalidIPHdrSize:    "invalid_IP_header_size",
	ReasonInternallyTruncated: "internally_truncated_header",
	ReasonIPv4MinHdr:          "IPv4_min_header_size",
	ReasonBadIPChecksum:       "bad_IP_checksum",
	ReasonTruncatedHeader:     "truncated_header",
	ReasonBadTCPHeaderLen:     "bad_TCP_header_len",
	ReasonIncompleteFrag:      "incompletely_captured_fragment",
	ReasonIPv6ExtTruncated:    "truncated_IPv6_extension_header",
	ReasonUnknownLinkType:     "unknown_link_type",
	ReasonTooManyL2Headers:    "too_many_l2_headers",
	ReasonTruncatedMPLS:       "truncated_mpls_header",
	ReasonTunnelMaxDepth:      "exceeded_tunnel_max_depth",
	ReasonInnerTruncated:      "inner_packet_truncated",
	ReasonIPv6NoNext:          "ipv6_no_next",
	ReasonTruncatedRadiotap:   "truncated_radiotap_header",
	ReasonTruncated80211:      "truncated_802_11_header",
	ReasonTruncatedGRE:        "truncated_GRE",
	ReasonGREVersion:          "unknown_gre_version",
	ReasonEGREProtocol:        "egre_protocol_type",
	ReasonGRERouting:          "gre_routing",
	ReasonGREFlags:            "unknown_gre_flags",
	ReasonNonIPInEncap:        "non_ip_packet_in_encap",
	ReasonTruncatedERSPAN:     "truncated_ERSPAN",
	ReasonERSPANVersion:       "unknown_ERSPAN_version",
	ReasonInnerIPVersion:      "invalid_inner_IP_version",
	ReasonInnerIPLen:          "inner_IP_payload_length_mismatch",
	ReasonTunnelViolation:     "tunnel_analyzer_violation",
	ReasonEmptyTunnel:         "empty_tunnel_packet",
	ReasonGeneveVersion:       "geneve_invalid_version",
	ReasonFragTooLarge:        "excessively_large_fragment",
}

// String returns the reason's name.
func (r DecodeReason) String() string {
	if r < NumDecodeReasons {
		return decodeReasonNames[r]
	}
	return "unknown"
}

// DecodeError is the error Decode returns for a frame Zeek would drop as
// malformed. The values are preallocated so that returning one does not
// allocate.
type DecodeError struct {
	// Reason is the reason's name (Code.String()).
	Reason string
	Code   DecodeReason
}

func (e *DecodeError) Error() string { return "capture: decode: " + e.Reason }

// decodeErrors holds the one DecodeError of each reason.
var decodeErrors = func() (errs [NumDecodeReasons]DecodeError) {
	for r := range errs {
		errs[r] = DecodeError{Reason: decodeReasonNames[r], Code: DecodeReason(r)}
	}
	return errs
}()

var (
	errTruncatedLink     = &decodeErrors[ReasonTruncatedLink]
	errTruncatedIP       = &decodeErrors[ReasonTruncatedIP]
	errTruncatedIPLen    = &decodeErrors[ReasonTruncatedIPLen]
	errUnknownIPVersion  = &decodeErrors[ReasonUnknownIPVersion]
	errIPHdrLenZero      = &decodeErrors[ReasonIPHdrLenZero]
	errInvalidIPHdrSize  = &decodeErrors[ReasonInvalidIPHdrSize]
	errInternallyTrunc   = &decodeErrors[ReasonInternallyTruncated]
	errIPv4MinHdr        = &decodeErrors[ReasonIPv4MinHdr]
	errBadIPChecksum     = &decodeErrors[ReasonBadIPChecksum]
	errTruncatedHeader   = &decodeErrors[ReasonTruncatedHeader]
	errBadTCPHeaderLen   = &decodeErrors[ReasonBadTCPHeaderLen]
	errIncompleteFrag    = &decodeErrors[ReasonIncompleteFrag]
	errIPv6ExtTruncated  = &decodeErrors[ReasonIPv6ExtTruncated]
	errUnknownLinkType   = &decodeErrors[ReasonUnknownLinkType]
	errTooManyShims      = &decodeErrors[ReasonTooManyL2Headers]
	errTruncatedMPLS     = &decodeErrors[ReasonTruncatedMPLS]
	errTunnelDepth       = &decodeErrors[ReasonTunnelMaxDepth]
	errInnerTruncated    = &decodeErrors[ReasonInnerTruncated]
	errNoNextHeader      = &decodeErrors[ReasonIPv6NoNext]
	errTruncatedRadiotap = &decodeErrors[ReasonTruncatedRadiotap]
	errTruncated80211    = &decodeErrors[ReasonTruncated80211]
	errTruncatedGRE      = &decodeErrors[ReasonTruncatedGRE]
	errGREVersion        = &decodeErrors[ReasonGREVersion]
	errGREProto          = &decodeErrors[ReasonEGREProtocol]
	errGRERouting        = &decodeErrors[ReasonGRERouting]
	errGREFlags          = &decodeErrors[ReasonGREFlags]
	errNonIPInEncap      = &decodeErrors[ReasonNonIPInEncap]
	errTruncatedERSPAN   = &decodeErrors[ReasonTruncatedERSPAN]
	errERSPANVersion     = &decodeErrors[ReasonERSPANVersion]
	errInnerIPVersion    = &decodeErrors[ReasonInnerIPVersion]
	errInnerIPLen        = &decodeErrors[ReasonInnerIPLen]
	errTunnelViolation   = &decodeErrors[ReasonTunnelViolation]
	errEmptyTunnel       = &decodeErrors[ReasonEmptyTunnel]
	errGeneveVersion     = &decodeErrors[ReasonGeneveVersion]
	errFragTooLarge      = &decodeErrors[ReasonFragTooLarge]
)
