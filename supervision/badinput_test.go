package supervision

// Bad input over raw TCP: garbage, truncated and oversized frames, unknown
// keys and versions, damaged record batches, bad topic names. Each case uses
// its own connection while a healthy kgo client keeps producing and consuming
// on another; the node must answer or close as Kafka would, and never stop
// serving the healthy client.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/internal/ackcheck"
	"github.com/floe-io/floe/wire"
)

// rawIOTimeout bounds every read and write on a raw connection.
const rawIOTimeout = 10 * time.Second

// rawConn is a hand-framed Kafka connection.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	corr int32
}

func dialRaw(t *testing.T, n *Node) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.Addr().String(), rawIOTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn}
}

// writeRaw writes bytes as they are.
func (c *rawConn) writeRaw(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(rawIOTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frameRequest frames req (its version already set) as a request: size,
// header v1 (key, version, correlation id, client id) or v2 for a flexible
// version (v1 and an empty tagged-field section), body.
func frameRequest(req kmsg.Request, corr int32) []byte {
	return frameHeaderAndBody(req.Key(), req.GetVersion(), corr, req.IsFlexible(), req.AppendTo(nil))
}

func frameHeaderAndBody(key, version int16, corr int32, flexible bool, body []byte) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	const clientID = "badinput"
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// send frames and writes req; it returns the correlation id used.
func (c *rawConn) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	c.writeRaw(frameRequest(req, c.corr))
	return c.corr
}

// receive reads one response frame into resp (its version set to what the
// broker should answer at) and checks the correlation id.
func (c *rawConn) receive(resp kmsg.Response, corr int32) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(rawIOTimeout))
	if err := readAnswer(c.conn, resp, corr); err != nil {
		c.t.Fatal(err)
	}
}

// errBadAnswer marks an answer that was read but is wrong, as against a
// read that failed.
var errBadAnswer = errors.New("bad answer")

// readAnswer reads one response frame from conn into resp (its version
// set) and checks its correlation id. A failed read's error is returned as
// it is (EOF for a close); a wrong answer's wraps errBadAnswer.
func readAnswer(conn net.Conn, resp kmsg.Response, corr int32) error {
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		return fmt.Errorf("%w: response size %d", errBadAnswer, n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(conn, frame); err != nil {
		return err
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return fmt.Errorf("%w: correlation id %d, want %d", errBadAnswer, got, corr)
	}
	body := frame[4:]
	// Response header v1 (a tagged-field section) for flexible responses,
	// except ApiVersions, whose header is always v0 (KIP-511).
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		if len(body) == 0 || body[0] != 0 {
			return fmt.Errorf("%w: response header tags % x", errBadAnswer, body[:min(len(body), 8)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("%w: decode %s response v%d: %w", errBadAnswer, kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return nil
}

// expectClosed checks that the server closes the connection within a few
// seconds: a read returns EOF or a reset, not a timeout. Any bytes before
// that fail the test: these inputs have no answer.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("connection still open after 5 s (%d bytes read)", n)
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("read: %v, want EOF or a reset", err)
	case n > 0:
		t.Fatalf("server sent %d bytes before closing, want none", n)
	}
}

// apiVersionsRoundTrip checks that a fresh connection gets a normal answer.
func apiVersionsRoundTrip(t *testing.T, n *Node) {
	t.Helper()
	c := dialRaw(t, n)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "badinput", "1.0"
	corr := c.send(req)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	c.receive(resp, corr)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v3: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	c.conn.Close()
}

// appendTestRecord appends one record of a batch: no key, no headers,
// timestamp delta 0 (the encoding kgo uses for a batch's first record).
func appendTestRecord(dst []byte, offsetDelta int, value []byte) []byte {
	var body []byte
	body = append(body, 0)              // attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, int64(offsetDelta))
	body = binary.AppendVarint(body, -1) // null key
	body = binary.AppendVarint(body, int64(len(value)))
	body = append(body, value...)
	body = binary.AppendVarint(body, 0) // headers
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// testBatch is a valid uncompressed record batch (magic 2) of values,
// without a producer id.
func testBatch(values ...[]byte) []byte {
	var records []byte
	for i, v := range values {
		records = appendTestRecord(records, i, v)
	}
	ts := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Length:               int32(wire.BatchHeaderSize - 12 + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(values) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(values)),
		Records:              records,
	}
	out := b.AppendTo(nil)
	fixBatchCRC(out)
	return out
}

// fixBatchCRC recomputes a record batch's CRC after a test changed it.
func fixBatchCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// legacyMessageV1 is a message set of one magic-1 message (Kafka 0.10).
func legacyMessageV1(value []byte) []byte {
	var msg []byte
	msg = append(msg, 1, 0) // magic, attributes
	msg = binary.BigEndian.AppendUint64(msg, uint64(time.Now().UnixMilli()))
	msg = binary.BigEndian.AppendUint32(msg, 0xffffffff) // null key
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(value)))
	msg = append(msg, value...)
	out := binary.BigEndian.AppendUint64(nil, 0) // offset
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(msg)))
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(msg))
	return append(out, msg...)
}

// rawProduce sends records to topic/partition 0 with Produce v9, acks=all,
// on a connection of its own, and returns the partition's answer.
func rawProduce(t *testing.T, n *Node, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	return rawProduceTo(t, n, topic, 0, records)
}

// oneBatchProduce is a Produce request at version with acks that carries
// records to one partition (a 10 s timeout).
func oneBatchProduce(version, acks int16, topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// rawProduceTo is rawProduce to any partition.
func rawProduceTo(t *testing.T, n *Node, topic string, partition int32, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	c := dialRaw(t, n)
	corr := c.send(oneBatchProduce(9, -1, topic, partition, records))
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	c.receive(resp, corr)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response does not match the request: %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// healthyTraffic is a well-behaved client producing to and consuming from
// its own topic for as long as a test runs.
type healthyTraffic struct {
	produced, consumed atomic.Int64
	errs               chan error
	cancel             context.CancelFunc
	wg                 sync.WaitGroup
}

func startHealthyTraffic(t *testing.T, n *Node, topic string) *healthyTraffic {
	t.Helper()
	producer := newClient(t, n)
	createTopic(t, producer, topic, 1, nil)
	consumer := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}))
	ctx, cancel := context.WithCancel(context.Background())
	h := &healthyTraffic{errs: make(chan error, 2), cancel: cancel}
	fail := func(err error) {
		select {
		case h.errs <- err:
		default:
		}
	}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		pace := time.NewTicker(5 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("healthy-%d", i))}
			if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
				if ctx.Err() == nil {
					fail(fmt.Errorf("healthy produce %d: %w", i, err))
				}
				return
			}
			if r.Offset != int64(i) {
				fail(fmt.Errorf("healthy produce %d: offset %d", i, r.Offset))
				return
			}
			h.produced.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			}
		}
	}()
	go func() {
		defer h.wg.Done()
		next := int64(0)
		for {
			fetches := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			var err error
			fetches.EachError(func(topic string, p int32, e error) { err = fmt.Errorf("healthy fetch %s/%d: %w", topic, p, e) })
			fetches.EachRecord(func(r *kgo.Record) {
				if err == nil && (r.Offset != next || string(r.Value) != fmt.Sprintf("healthy-%d", next)) {
					err = fmt.Errorf("healthy consume: offset %d value %q, want offset %d", r.Offset, r.Value, next)
				}
				next++
			})
			if err != nil {
				fail(err)
				return
			}
			h.consumed.Store(next)
		}
	}()
	t.Cleanup(h.stop)
	return h
}

// check fails the test if the healthy client has failed, and waits until it
// has produced and consumed a few more records.
func (h *healthyTraffic) check(t *testing.T) {
	t.Helper()
	p0, c0 := h.produced.Load(), h.consumed.Load()
	ok := ackcheck.WaitFor(30*time.Second, func() bool {
		return len(h.errs) > 0 || (h.produced.Load() >= p0+3 && h.consumed.Load() >= c0+3)
	})
	select {
	case err := <-h.errs:
		t.Fatalf("healthy client: %v", err)
	default:
	}
	if !ok {
		t.Fatalf("healthy client stalled: produced %d → %d, consumed %d → %d in 30 s", p0, h.produced.Load(), c0, h.consumed.Load())
	}
}

func (h *healthyTraffic) stop() {
	h.cancel()
	h.wg.Wait()
}

func TestBadInput(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	healthy := startHealthyTraffic(t, n, "healthy")
	healthy.check(t)

	admin := newClient(t, n)
	createTopic(t, admin, "badinput", 1, nil)
	limit := "2000"
	createTopic(t, admin, "limit-2000", 1, map[string]*string{"max.message.bytes": &limit})

	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			f(t)
			healthy.check(t)
			if err := n.Broker().Healthy(); err != nil {
				t.Fatalf("node unhealthy after %s: %v", name, err)
			}
		})
	}

	run("garbage/random-frames", func(t *testing.T) {
		// Well-framed random bytes: a random header (never ApiVersions,
		// whose too-new versions get an answer) and body.
		for seed := uint64(1); seed <= 8; seed++ {
			rng := rand.New(rand.NewPCG(seed, 0xf10e))
			body := make([]byte, 8+rng.IntN(512))
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			if binary.BigEndian.Uint16(body) == uint16(kmsg.ApiVersions) {
				body[0] ^= 0x80
			}
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
			c := dialRaw(t, n)
			c.writeRaw(append(frame, body...))
			expectClosed(t, c.conn)
		}
	})
	run("garbage/http", func(t *testing.T) {
		c := dialRaw(t, n)
		c.writeRaw([]byte("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"))
		expectClosed(t, c.conn)
	})
	run("garbage/tls-client-hello", func(t *testing.T) {
		c := dialRaw(t, n)
		hello := append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, bytes.Repeat([]byte{0x5a}, 500)...)
		c.writeRaw(hello)
		expectClosed(t, c.conn)
	})

	run("truncated/frame", func(t *testing.T) {
		c := dialRaw(t, n)
		c.writeRaw(append(binary.BigEndian.AppendUint32(nil, 100), make([]byte, 10)...))
		// The server waits for the rest without holding anyone else up.
		apiVersionsRoundTrip(t, n)
		_ = c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var ne net.Error
		if n, err := c.conn.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("before the rest of the frame: read %d bytes, %v; want the connection open and silent", n, err)
		}
		if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c.conn)
		apiVersionsRoundTrip(t, n)
	})
	run("truncated/header", func(t *testing.T) {
		// A complete frame of 6 bytes: too short for key, version and
		// correlation id.
		c := dialRaw(t, n)
		c.writeRaw([]byte{0, 0, 0, 6, 0, 18, 0, 3, 0, 0})
		expectClosed(t, c.conn)
	})
	run("truncated/body", func(t *testing.T) {
		// A Metadata v12 request cut in the middle of its body, framed
		// with the shorter size: undecodable.
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		topic := kmsg.NewMetadataRequestTopic()
		name := "some-topic-name"
		topic.Topic = &name
		req.Topics = append(req.Topics, topic)
		full := frameRequest(req, 1)
		cut := full[:len(full)-10]
		binary.BigEndian.PutUint32(cut, uint32(len(cut)-4))
		c := dialRaw(t, n)
		c.writeRaw(cut)
		expectClosed(t, c.conn)
	})

	for _, size := range []uint32{0x7fffffff, 0xffffffff, 0x80000000, 0, wire.DefaultMaxFrameBytes + 1} {
		run(fmt.Sprintf("size-prefix/%d", int32(size)), func(t *testing.T) {
			c := dialRaw(t, n)
			c.writeRaw(append(binary.BigEndian.AppendUint32(nil, size), make([]byte, 64)...))
			expectClosed(t, c.conn)
		})
	}

	for _, k := range []struct {
		name         string
		key, version int16
		flexible     bool
	}{
		{"unknown-key-9999", 9999, 0, false},
		{"unserved-key-DescribeTransactions", int16(kmsg.DescribeTransactions), 0, true},
		{"metadata-v99", int16(kmsg.Metadata), 99, true},
		{"produce-v2", int16(kmsg.Produce), 2, false},
	} {
		run("unsupported/"+k.name, func(t *testing.T) {
			c := dialRaw(t, n)
			c.writeRaw(frameHeaderAndBody(k.key, k.version, 1, k.flexible, make([]byte, 16)))
			expectClosed(t, c.conn)
		})
	}

	run("apiversions-v99", func(t *testing.T) {
		c := dialRaw(t, n)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 99
		req.ClientSoftwareName, req.ClientSoftwareVersion = "from-the-future", "99.0"
		corr := c.send(req)
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		c.receive(resp, corr)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("error code %d, want %d (UNSUPPORTED_VERSION)", resp.ErrorCode, kerr.UnsupportedVersion.Code)
		}
		if len(resp.ApiKeys) == 0 {
			t.Fatal("no API keys in the answer")
		}
		var apiVersionsMax int16 = -1
		for _, k := range resp.ApiKeys {
			if k.ApiKey == int16(kmsg.ApiVersions) {
				apiVersionsMax = k.MaxVersion
			}
		}
		if apiVersionsMax < 3 {
			t.Fatalf("ApiVersions row max %d, want at least 3", apiVersionsMax)
		}
		// The connection stays usable: the client retries at a version
		// the broker knows.
		req.Version = apiVersionsMax
		corr = c.send(req)
		resp = kmsg.NewPtrApiVersionsResponse()
		resp.Version = apiVersionsMax
		c.receive(resp, corr)
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("retry at v%d: error %d, %d keys", apiVersionsMax, resp.ErrorCode, len(resp.ApiKeys))
		}
	})

	validValues := 0
	run("produce/valid-batch", func(t *testing.T) {
		// The batch builder itself is right: the cases below differ from
		// this one only in the damage.
		p := rawProduce(t, n, "badinput", testBatch([]byte("one"), []byte("two")))
		if p.ErrorCode != 0 || p.BaseOffset != int64(validValues) {
			t.Fatalf("valid batch: error %d, base offset %d", p.ErrorCode, p.BaseOffset)
		}
		validValues += 2
	})
	run("produce/transactional-acks-0", func(t *testing.T) {
		// Refused (floe has no transactions), and with acks=0 there is no
		// answer to refuse it in: the connection is closed, as Kafka
		// does. An answer would be read as the next request's.
		req := oneBatchProduce(7, 0, "badinput", 0, testBatch([]byte("txn")))
		txn := "txn"
		req.TransactionID = &txn
		c := dialRaw(t, n)
		c.send(req)
		expectClosed(t, c.conn)
	})
	// An acks=0 produce gets no answer; one that a partition refuses
	// closes the connection (as Kafka does), after the answer to the
	// request before it. The connection of an accepted one stays open.
	corrupt := testBatch([]byte("acks0"))
	corrupt[len(corrupt)-3] ^= 0xff
	for _, k := range []struct {
		name      string
		topic     string
		partition int32
		records   []byte
	}{
		{"corrupt-crc", "badinput", 0, corrupt},
		{"unknown-partition", "badinput", 7, testBatch([]byte("acks0"))},
		{"invalid-topic-name", "bad topic!", 0, testBatch([]byte("acks0"))},
		{"over-max-message-bytes", "limit-2000", 0, testBatch(bytes.Repeat([]byte{'x'}, 2000))},
	} {
		run("produce/acks-0-refused/"+k.name, func(t *testing.T) {
			c := dialRaw(t, n)
			before := kmsg.NewPtrApiVersionsRequest()
			before.Version = 3
			corr := c.send(before)
			c.send(oneBatchProduce(7, 0, k.topic, k.partition, k.records))
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 3
			c.receive(resp, corr)
			expectClosed(t, c.conn)
		})
	}
	run("produce/acks-0-accepted", func(t *testing.T) {
		createTopic(t, admin, "acks0", 1, nil)
		c := dialRaw(t, n)
		c.send(oneBatchProduce(7, 0, "acks0", 0, testBatch([]byte("kept"))))
		ping := func() {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = 3
			corr := c.send(req)
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 3
			c.receive(resp, corr) // the next answer is the ApiVersions one
		}
		ping()
		// Once the batch is stored its partition has handled it, so a
		// close it caused would have come: the connection still answers.
		waitFor(t, 10*time.Second, "the acks=0 batch stored", func() bool { return endOffsets(t, admin, "acks0")[0] == 1 })
		ping()
	})
	run("produce/corrupt-crc", func(t *testing.T) {
		b := testBatch([]byte("three"), []byte("four"))
		b[len(b)-3] ^= 0xff // in the last record's value: covered by the CRC only
		if p := rawProduce(t, n, "badinput", b); p.ErrorCode != kerr.CorruptMessage.Code {
			t.Fatalf("error code %d, want %d (CORRUPT_MESSAGE)", p.ErrorCode, kerr.CorruptMessage.Code)
		}
	})
	run("produce/magic-1", func(t *testing.T) {
		want := wire.ErrorCode(wire.ErrOldMessageFormat)
		if p := rawProduce(t, n, "badinput", legacyMessageV1([]byte("old"))); p.ErrorCode != want {
			t.Fatalf("error code %d, want %d", p.ErrorCode, want)
		}
	})
	run("produce/at-max-message-bytes", func(t *testing.T) {
		b := testBatch(bytes.Repeat([]byte{'x'}, 2000-70))
		if len(b) != 2000 {
			t.Fatalf("batch of %d bytes, want 2000", len(b))
		}
		if p := rawProduce(t, n, "limit-2000", b); p.ErrorCode != 0 {
			t.Fatalf("batch of 2000 bytes: error %d, want 0", p.ErrorCode)
		}
	})
	run("produce/over-max-message-bytes", func(t *testing.T) {
		b := testBatch(bytes.Repeat([]byte{'x'}, 2000-70+1))
		if p := rawProduce(t, n, "limit-2000", b); p.ErrorCode != kerr.MessageTooLarge.Code {
			t.Fatalf("batch of %d bytes: error %d, want %d (MESSAGE_TOO_LARGE)", len(b), p.ErrorCode, kerr.MessageTooLarge.Code)
		}
	})
	run("produce/invalid-topic-name", func(t *testing.T) {
		if p := rawProduce(t, n, "bad topic!", testBatch([]byte("x"))); p.ErrorCode != kerr.InvalidTopicException.Code {
			t.Fatalf("error code %d, want %d (INVALID_TOPIC_EXCEPTION)", p.ErrorCode, kerr.InvalidTopicException.Code)
		}
	})
	run("produce/refused-batches-not-stored", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, "badinput", "limit-2000")
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		for topic, want := range map[string]int64{"badinput": int64(validValues), "limit-2000": 1} {
			if o, _ := ends.Lookup(topic, 0); o.Offset != want {
				t.Errorf("%s: end offset %d, want %d", topic, o.Offset, want)
			}
		}
	})

	run("create-topics/invalid-names", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		long := strings.Repeat("a", 250)
		resp, err := kadm.NewClient(admin).CreateTopics(ctx, 1, 1, nil, "bad topic!", long)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"bad topic!", long} {
			r, ok := resp[name]
			if !ok {
				t.Fatalf("no answer for %.20q", name)
			}
			if !errors.Is(r.Err, kerr.InvalidTopicException) {
				t.Errorf("%.20q: %v, want INVALID_TOPIC_EXCEPTION", name, r.Err)
			}
		}
	})

	run("kgo/max-message-bytes", func(t *testing.T) {
		topic := "kgo-limit-2000"
		createTopic(t, admin, topic, 1, map[string]*string{"max.message.bytes": &limit})
		cl := newClient(t, n, kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// One record per batch: 61 bytes of batch header and 9 of record
		// framing around the value (see testBatch, which kgo matches).
		atLimit := bytes.Repeat([]byte{'u'}, 2000-70)
		if got := len(testBatch(atLimit)); got != 2000 {
			t.Fatalf("batch of %d bytes, want 2000", got)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: atLimit}).FirstErr(); err != nil {
			t.Fatalf("record in a batch of exactly max.message.bytes: %v", err)
		}
		over := bytes.Repeat([]byte{'o'}, 2000-70+1)
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: over}).FirstErr()
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("record in a batch of max.message.bytes+1: %v, want MESSAGE_TOO_LARGE", err)
		}
		// The producer goes on after a refused batch.
		after := []byte("after")
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: after}).FirstErr(); err != nil {
			t.Fatalf("record after the refused one: %v", err)
		}

		consumer := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}))
		var got [][]byte
		for len(got) < 2 {
			fetches := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of 2 records: %v", len(got), ctx.Err())
			}
			fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fetches.EachRecord(func(r *kgo.Record) {
				if r.Offset != int64(len(got)) {
					t.Fatalf("offset %d, want %d", r.Offset, len(got))
				}
				got = append(got, r.Value)
			})
		}
		if !bytes.Equal(got[0], atLimit) || !bytes.Equal(got[1], after) {
			t.Fatalf("read back %d and %d bytes (%.8q, %.8q), want the record at the limit and %q", len(got[0]), len(got[1]), got[0], got[1], after)
		}
	})

	run("produce/unknown-topic-auto-create-off", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.AutoCreateTopics = false
		strict := startNode(t, cfg)
		defer stopNode(t, strict)
		for range 2 { // still unknown the second time: nothing was created in the background
			if p := rawProduce(t, strict, "no-such-topic", testBatch([]byte("x"))); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("error code %d, want %d (UNKNOWN_TOPIC_OR_PARTITION)", p.ErrorCode, kerr.UnknownTopicOrPartition.Code)
			}
		}
	})

	healthy.check(t)
	healthy.stop()
	t.Logf("healthy client: %d produced, %d consumed", healthy.produced.Load(), healthy.consumed.Load())
}
