package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxResponseBytes bounds a response frame read on a raw connection;
// ApiVersions and one-topic Metadata answers are a few KiB.
const maxResponseBytes = 16 << 20

var errShortResponse = errors.New("bench: truncated response")

// rawConn is one TCP connection speaking the Kafka framing directly: a
// 4-byte big-endian size, then a request header (v1, or v2 with an empty
// tag buffer for flexible versions; kmsg.RequestFormatter writes both) and
// the kmsg-encoded body. One goroutine uses it at a time.
type rawConn struct {
	conn        net.Conn
	correlation int32
	buf         []byte
	formatter   *kmsg.RequestFormatter
}

func dialRaw(addr string, timeout time.Duration) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", addr, err)
	}
	return &rawConn{conn: c, formatter: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))}, nil
}

// roundTrip writes req and reads its response into resp within timeout.
func (rc *rawConn) roundTrip(req kmsg.Request, resp kmsg.Response, timeout time.Duration) error {
	rc.correlation++
	rc.buf = rc.formatter.AppendRequest(rc.buf[:0], req, rc.correlation)
	if err := rc.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer rc.conn.SetDeadline(time.Time{}) //nolint:errcheck // clearing a deadline on a live conn does not fail
	if _, err := rc.conn.Write(rc.buf); err != nil {
		return fmt.Errorf("bench: write %s: %w", kmsg.NameForKey(req.Key()), err)
	}
	var size [4]byte
	if _, err := io.ReadFull(rc.conn, size[:]); err != nil {
		return fmt.Errorf("bench: read %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxResponseBytes {
		return fmt.Errorf("bench: %s response of %d bytes", kmsg.NameForKey(req.Key()), n)
	}
	rc.buf = append(rc.buf[:0], make([]byte, n)...)
	if _, err := io.ReadFull(rc.conn, rc.buf); err != nil {
		return fmt.Errorf("bench: read %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	if got := int32(binary.BigEndian.Uint32(rc.buf)); got != rc.correlation {
		return fmt.Errorf("bench: correlation id %d, want %d", got, rc.correlation)
	}
	body := rc.buf[4:]
	resp.SetVersion(req.GetVersion())
	// Response header v1 (flexible versions) adds a tag buffer; ApiVersions
	// always answers with header v0 so that any client can read it.
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		var err error
		if body, err = skipTags(body); err != nil {
			return err
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("bench: decode %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	return nil
}

func (rc *rawConn) close() { rc.conn.Close() }

// skipTags skips a tagged-field buffer: a uvarint count, then per field a
// uvarint tag, a uvarint size and size bytes.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errShortResponse
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errShortResponse
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, errShortResponse
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// versions are the request versions the raw connections use: the highest
// that both kmsg and the broker know.
type versions struct {
	apiVersions, metadata int16
}

// negotiate asks the broker (with ApiVersions v0, which every broker
// answers) which versions it supports.
func negotiate(rc *rawConn, timeout time.Duration) (versions, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := rc.roundTrip(req, resp, timeout); err != nil {
		return versions{}, err
	}
	v := versions{apiVersions: -1, metadata: -1}
	for _, k := range resp.ApiKeys {
		switch k.ApiKey {
		case int16(kmsg.ApiVersions):
			v.apiVersions = min(k.MaxVersion, kmsg.NewPtrApiVersionsRequest().MaxVersion())
		case int16(kmsg.Metadata):
			v.metadata = min(k.MaxVersion, kmsg.NewPtrMetadataRequest().MaxVersion())
		}
	}
	if v.apiVersions < 0 || v.metadata < 0 {
		return v, fmt.Errorf("bench: broker lists no ApiVersions or Metadata version")
	}
	return v, nil
}

// apiVersions sends one ApiVersions request at version v.
func (rc *rawConn) apiVersions(v int16, timeout time.Duration) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName = clientID
	req.ClientSoftwareVersion = "1"
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := rc.roundTrip(req, resp, timeout); err != nil {
		return err
	}
	if resp.ErrorCode != 0 {
		return fmt.Errorf("bench: ApiVersions v%d: error code %d", v, resp.ErrorCode)
	}
	return nil
}

// metadata sends one Metadata request for topic at version v.
func (rc *rawConn) metadata(v int16, topic string, timeout time.Duration) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = v
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp := kmsg.NewPtrMetadataResponse()
	return rc.roundTrip(req, resp, timeout)
}
