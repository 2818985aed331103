package wire

// Varint readers for the two encodings Kafka uses: unsigned varints (compact
// lengths and tagged fields, KIP-482) and zig-zag varints (records inside a
// batch). Both refuse encodings longer than the type allows, as Kafka's
// ByteUtils does ("Varint is too long"), and report n <= 0 on failure.

// maxVarint32Bytes is the longest varint encoding of a 32-bit value.
const maxVarint32Bytes = 5

// maxVarint64Bytes is the longest varint encoding of a 64-bit value.
const maxVarint64Bytes = 10

// readUvarint32 decodes an unsigned varint of at most 32 bits from the start
// of b. n is the number of bytes read, or 0 if b ends first or the value does
// not fit 32 bits.
func readUvarint32(b []byte) (v uint32, n int) {
	var x uint64
	for i := 0; i < len(b) && i < maxVarint32Bytes; i++ {
		c := b[i]
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if x > 1<<32-1 {
				return 0, 0
			}
			return uint32(x), i + 1
		}
	}
	return 0, 0
}

// readVarint32 decodes a zig-zag varint of at most 32 bits from the start of
// b. n is 0 if b ends first or the value does not fit 32 bits.
func readVarint32(b []byte) (v int32, n int) {
	if len(b) > 0 && b[0] < 0x80 { // one byte: the common case for lengths < 64
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	u, n := readUvarint32(b)
	if n == 0 {
		return 0, 0
	}
	return int32(u>>1) ^ -int32(u&1), n
}

// readVarint64 decodes a zig-zag varint of at most 64 bits from the start of
// b. n is 0 if b ends first or the encoding is longer than 10 bytes or
// overflows.
func readVarint64(b []byte) (v int64, n int) {
	var x uint64
	for i := 0; i < len(b) && i < maxVarint64Bytes; i++ {
		c := b[i]
		if i == maxVarint64Bytes-1 && c > 1 {
			return 0, 0 // the 10th byte may hold only the 64th bit
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(x>>1) ^ -int64(x&1), i + 1
		}
	}
	return 0, 0
}
