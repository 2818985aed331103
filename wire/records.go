package wire

import "fmt"

// A record inside an uncompressed batch v2:
//
//	length          varint  bytes after this field
//	attributes      int8    unused
//	timestampDelta  varlong from the batch's baseTimestamp
//	offsetDelta     varint  from the batch's baseOffset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerKeyLength varint (>= 0), headerKey,
//	                headerValueLength varint (-1 for null), headerValue
//
// Varints are zig-zag encoded (as in protobuf's sint32/sint64).

// minRecordBytes is the smallest encoded record: a one-byte length, then
// attributes, timestampDelta, offsetDelta, keyLength, valueLength and
// headerCount of one byte each.
const minRecordBytes = 7

// walkRecords checks that b holds exactly count well-formed records whose
// offset deltas are 0..count-1, as a producer writes them. Every length is
// bounded by the bytes left in its record, and each record must be consumed
// exactly by its fields. Kafka's DefaultRecord.readFrom applies the same
// checks (InvalidRecordException, INVALID_RECORD); the offset-delta check is
// ours: floe keeps batches as sent and assigns offsets from the header alone,
// so a record whose delta disagrees with its position would be read back at
// an offset the broker never assigned it. Lengths below -1 are refused
// although Java reads them as null, because librdkafka consumers reject
// them.
func walkRecords(b []byte, count int32) error {
	if int64(count)*minRecordBytes > int64(len(b)) {
		return &invalidBatchError{fmt.Sprintf("%d records cannot fit in %d bytes", count, len(b))}
	}
	for i := int32(0); i < count; i++ {
		length, n := readVarint32(b)
		if n == 0 {
			return recordError(i, "bad length varint")
		}
		b = b[n:]
		if length < 0 || int64(length) > int64(len(b)) {
			return recordError(i, fmt.Sprintf("length %d, %d bytes left in batch", length, len(b)))
		}
		if err := checkRecord(b[:length], i); err != nil {
			return err
		}
		b = b[length:]
	}
	if len(b) != 0 {
		return &invalidBatchError{fmt.Sprintf("%d bytes after the last of %d records", len(b), count)}
	}
	return nil
}

// checkRecord checks the body of record index (the bytes after its length).
func checkRecord(r []byte, index int32) error {
	if len(r) < 1 {
		return recordError(index, "no attributes")
	}
	r = r[1:] // attributes: unused
	// timestampDelta: any value.
	_, n := readVarint64(r)
	if n == 0 {
		return recordError(index, "bad timestamp delta varint")
	}
	r = r[n:]
	delta, n := readVarint32(r)
	if n == 0 {
		return recordError(index, "bad offset delta varint")
	}
	if delta != index {
		return recordError(index, fmt.Sprintf("offset delta %d", delta))
	}
	r = r[n:]
	var err error
	if r, err = skipRecordBytes(r, index, "key", true); err != nil {
		return err
	}
	if r, err = skipRecordBytes(r, index, "value", true); err != nil {
		return err
	}
	headers, n := readVarint32(r)
	if n == 0 {
		return recordError(index, "bad header count varint")
	}
	r = r[n:]
	// A header takes at least two bytes (both lengths).
	if headers < 0 || int64(headers)*2 > int64(len(r)) {
		return recordError(index, fmt.Sprintf("header count %d, %d bytes left", headers, len(r)))
	}
	for h := int32(0); h < headers; h++ {
		if r, err = skipRecordBytes(r, index, "header key", false); err != nil {
			return err
		}
		if r, err = skipRecordBytes(r, index, "header value", true); err != nil {
			return err
		}
	}
	if len(r) != 0 {
		return recordError(index, fmt.Sprintf("%d bytes after the headers", len(r)))
	}
	return nil
}

// skipRecordBytes skips a varint-length-prefixed field of a record. A length
// of -1 (null) is allowed only if nullable.
func skipRecordBytes(r []byte, index int32, field string, nullable bool) ([]byte, error) {
	length, n := readVarint32(r)
	if n == 0 {
		return nil, recordError(index, "bad "+field+" length varint")
	}
	r = r[n:]
	switch {
	case length == -1 && nullable:
		return r, nil
	case length < 0 || int64(length) > int64(len(r)):
		return nil, recordError(index, fmt.Sprintf("%s length %d, %d bytes left in record", field, length, len(r)))
	}
	return r[length:], nil
}

func recordError(index int32, detail string) error {
	return &invalidBatchError{fmt.Sprintf("record %d: %s", index, detail)}
}
