package engine

import "bytes"

// recordSeparator joins the packets of a polling payload.
const recordSeparator = 0x1e

// appendPayload appends the polling payload of pkts (packets joined with
// \x1e, binary messages as "b" + base64) to dst.
func appendPayload(dst []byte, pkts []packet) []byte {
	for i, p := range pkts {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = appendPacket(dst, p)
	}
	return dst
}

// decodePayload decodes a polling payload. Like decodePacket, the data of
// the returned packets aliases b. An empty payload, or any empty or
// malformed packet in it, is an error.
func decodePayload(b []byte) ([]packet, error) {
	if len(b) == 0 {
		return nil, errEmptyPayload
	}
	pkts := make([]packet, 0, bytes.Count(b, []byte{recordSeparator})+1)
	for {
		i := bytes.IndexByte(b, recordSeparator)
		part := b
		if i >= 0 {
			part = b[:i]
		}
		p, err := decodePacket(part)
		if err != nil {
			return nil, errPayloadFormat
		}
		pkts = append(pkts, p)
		if i < 0 {
			return pkts, nil
		}
		b = b[i+1:]
	}
}
