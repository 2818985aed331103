package wire

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file builds test inputs with franz-go's own encoders (kmsg's Record,
// RecordBatch and RequestFormatter), so the tests check floe against what a
// real client writes, not against floe's idea of it.

const testClientID = "wire-test"

// encodeRecord encodes r with its Length computed.
func encodeRecord(r kmsg.Record) []byte {
	r.Length = 0
	body := r.AppendTo(nil)[1:] // drop varint(0), the placeholder length
	r.Length = int32(len(body))
	return r.AppendTo(nil)
}

// valueRecords returns one record per value, offset deltas 0..n-1.
func valueRecords(values ...[]byte) []kmsg.Record {
	recs := make([]kmsg.Record, len(values))
	for i, v := range values {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: []byte{'k', byte('0' + i%10)}, Value: v}
	}
	return recs
}

// buildBatch encodes recs as an uncompressed record batch with a correct CRC.
func buildBatch(recs ...kmsg.Record) []byte {
	var raw []byte
	for i := range recs {
		raw = append(raw, encodeRecord(recs[i])...)
	}
	return buildBatchRaw(0, int32(len(recs)), int32(len(recs)-1), raw)
}

// buildBatchRaw encodes a batch header around records (already encoded, or
// compressed bytes) and computes its CRC.
func buildBatchRaw(attributes int16, numRecords, lastOffsetDelta int32, records []byte) []byte {
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(minBatchLength + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attributes,
		LastOffsetDelta:      lastOffsetDelta,
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000 + int64(lastOffsetDelta),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           numRecords,
		Records:              records,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// fixCRC recomputes a batch's CRC, so a test can reach the checks behind it.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offsetCRC:], crc32.Checksum(b[offsetAttributes:], crc32.MakeTable(crc32.Castagnoli)))
}

// requestFrame encodes req as a client sends it, without the size prefix.
func requestFrame(req kmsg.Request, correlationID int32) []byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(testClientID))
	return f.AppendRequest(nil, req, correlationID)[4:]
}

// sampleRequest returns a request of key at version with some content, so
// that decoding has arrays and strings to get through.
func sampleRequest(t testing.TB, key, version int16) kmsg.Request {
	t.Helper()
	req := kmsg.RequestForKey(key)
	if req == nil {
		t.Fatalf("kmsg does not know key %d", key)
	}
	req.SetVersion(version)
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		r.Acks = -1
		p := kmsg.NewProduceRequestTopicPartition()
		p.Partition = 3
		p.Records = buildBatch(valueRecords([]byte("hello"), []byte("world"))...)
		tp := kmsg.NewProduceRequestTopic()
		tp.Topic = "orders"
		tp.Partitions = append(tp.Partitions, p)
		r.Topics = append(r.Topics, tp)
	case *kmsg.FetchRequest:
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.FetchOffset, p.PartitionMaxBytes = 1, 42, 1<<20
		tp := kmsg.NewFetchRequestTopic()
		tp.Topic = "orders"
		tp.Partitions = append(tp.Partitions, p)
		r.Topics = append(r.Topics, tp)
	case *kmsg.MetadataRequest:
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("orders")
		r.Topics = append(r.Topics, mt)
	case *kmsg.ApiVersionsRequest:
		r.ClientSoftwareName, r.ClientSoftwareVersion = "floe-test", "1.0.0"
	case *kmsg.CreateTopicsRequest:
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "orders", 3, 1
		r.Topics = append(r.Topics, ct)
	case *kmsg.DeleteTopicsRequest:
		r.TopicNames = []string{"orders"}
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr("orders")
		r.Topics = append(r.Topics, dt)
	case *kmsg.DescribeConfigsRequest:
		rc := kmsg.NewDescribeConfigsRequestResource()
		rc.ResourceType, rc.ResourceName = kmsg.ConfigResourceTypeTopic, "orders"
		r.Resources = append(r.Resources, rc)
	}
	return req
}

// mustEqualBytes fails the test if got != want.
func mustEqualBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %x, want %x", what, got, want)
	}
}
