package wire

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// SizeBytesField returns the size of a bytes field numbered num holding n
// bytes.
func SizeBytesField(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// AppendBytesHeader appends the tag and the length of a bytes field
// numbered num holding n bytes.
func AppendBytesHeader(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// ValidUTF8 replaces invalid UTF-8 in s, which a protobuf string field
// cannot carry: one bad byte in an event message would otherwise make its
// batch impossible to send, and the host would retry it forever. Lines are
// bytes on the wire and travel exactly.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, string(utf8.RuneError))
}
