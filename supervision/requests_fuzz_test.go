package supervision

// Requests that decode but make little sense: every advertised API at every
// version, its fields filled with edge values (negative counts and ids,
// empty and invalid names, null strings, huge numbers, corrupt record
// batches). Each must get a well-formed answer at its correlation id, or
// the connection closed, and never an actor's panic, a hang or a failing
// client on another topic. TestRandomRequests runs a fixed set of seeds;
// FuzzRequests lets the fuzzer choose the fields.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/wire"
)

// chooser is where a requestFiller's choices come from: a seeded generator
// in the test, the fuzzer's bytes in the fuzz target.
type chooser interface {
	// intn returns a number in [0, n); n > 0.
	intn(n int) int
}

type rngChooser struct{ rng *rand.Rand }

func (c rngChooser) intn(n int) int { return c.rng.IntN(n) }

// bytesChooser takes its choices from data, a byte or two at a time, and
// chooses 0 once data is spent, so every input is a complete request.
type bytesChooser struct{ data []byte }

func (c *bytesChooser) intn(n int) int {
	var v int
	for range 2 {
		if len(c.data) == 0 {
			break
		}
		v = v<<8 | int(c.data[0])
		c.data = c.data[1:]
		if n <= 256 {
			break
		}
	}
	return v % n
}

// fuzzTopics are the topics the requests name; the healthy client's topic
// is not among them, so no request deletes or reconfigures it.
var fuzzTopics = []string{"fuzz-a", "fuzz-b", "fuzz-c"}

// fuzzStrings are the values a string field takes: the fuzz topics, names
// of groups, members and configs, and names no broker should accept.
var fuzzStrings = append(append([]string{}, fuzzTopics...),
	"", "fuzz-group", "fuzz-member", "retention.ms", "retention.bytes", "cleanup.policy",
	"max.message.bytes", "num.partitions", "-1", "0", "1", "delete", "compact", "range",
	"consumer", "bad/name", "..", "é", strings.Repeat("x", 300), "\x00\xff")

// fuzzInts are the values an integer field takes, besides small ones.
var fuzzInts = []int64{-2, -1, math.MaxInt8, math.MaxInt16, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 10001}

// requestFiller fills a kmsg request's fields by reflection. With learned
// set, string and integer fields sometimes take a value the broker answered
// earlier (member ids, generations, epochs, producer ids), so that a run
// reaches past "unknown member" into groups and producers that exist.
type requestFiller struct {
	c       chooser
	learned *learnedValues
}

// learnedValues are ids and numbers taken from answers, the most recent
// few of each.
type learnedValues struct {
	strings []string
	ints    []int64
}

const learnedKeep = 16

// learnsFrom reports whether resp hands out ids: a success, or a JoinGroup
// asking a new member to come back with the id it gives. Other answers
// echo the request's.
func learnsFrom(resp kmsg.Response) bool {
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		return r.ErrorCode == 0 || r.ErrorCode == kerr.MemberIDRequired.Code
	case *kmsg.ConsumerGroupHeartbeatResponse:
		return r.ErrorCode == 0
	case *kmsg.InitProducerIDResponse:
		return r.ErrorCode == 0
	}
	return false
}

// learn walks an answer for the fields that name a member, a generation,
// an epoch or a producer.
func (l *learnedValues) learn(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			l.learn(v.Elem(), name)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				l.learn(v.Field(i), f.Name)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range min(v.Len(), 4) {
				l.learn(v.Index(i), name)
			}
		}
	case reflect.String:
		if strings.HasSuffix(name, "MemberID") || name == "LeaderID" {
			if s := v.String(); s != "" && !slices.Contains(l.strings, s) {
				l.strings = append(l.strings, s)
				l.strings = l.strings[max(0, len(l.strings)-learnedKeep):]
			}
		}
	case reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.Contains(name, "Generation") || strings.Contains(name, "Epoch") || name == "ProducerID" {
			if x := v.Int(); x > 0 && !slices.Contains(l.ints, x) {
				l.ints = append(l.ints, x)
				l.ints = l.ints[max(0, len(l.ints)-learnedKeep):]
			}
		}
	}
}

func (f requestFiller) request(key, version int16) kmsg.Request {
	req := kmsg.RequestForKey(key)
	f.fill(reflect.ValueOf(req).Elem(), "", 0)
	req.SetVersion(version)
	return req
}

func (f requestFiller) fill(v reflect.Value, name string, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			field := t.Field(i)
			if !field.IsExported() || field.Name == "Version" || field.Name == "UnknownTags" {
				continue
			}
			f.fill(v.Field(i), field.Name, depth+1)
		}
	case reflect.Pointer:
		if f.c.intn(4) == 0 {
			return // null
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), name, depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(f.bytes(name))
			return
		}
		n := f.c.intn(4)
		if depth > 6 {
			n = 0
		}
		if n == 0 && f.c.intn(2) == 0 {
			return // null, or an empty array
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), name, depth+1)
		}
		v.Set(s)
	case reflect.Array: // UUIDs
		if f.c.intn(2) == 0 {
			for i := range v.Len() {
				v.Index(i).SetUint(uint64(f.c.intn(256)))
			}
		}
	case reflect.String:
		// So that a JoinGroup gets as far as the group: a known protocol
		// type, and often a new member (a member id comes from the broker).
		if name == "ProtocolType" && f.c.intn(4) != 0 {
			v.SetString("consumer")
			return
		}
		if name == "MemberID" && f.c.intn(3) == 0 {
			return
		}
		if f.learned != nil && len(f.learned.strings) > 0 && f.c.intn(3) == 0 {
			v.SetString(f.learned.strings[f.c.intn(len(f.learned.strings))])
			return
		}
		v.SetString(fuzzStrings[f.c.intn(len(fuzzStrings))])
	case reflect.Bool:
		v.SetBool(f.c.intn(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(f.integer(name, v.Type().Bits()))
	case reflect.Float64:
		v.SetFloat([]float64{0, -1, 1, math.NaN(), math.Inf(1)}[f.c.intn(5)])
	}
}

// integer is a value for an integer field of the given width, wrapped to
// fit. Fields that make a request wait are kept short: a Fetch may wait
// its MaxWaitMillis, and a JoinGroup its rebalance, as Kafka's do.
func (f requestFiller) integer(name string, bits int) int64 {
	switch {
	case strings.Contains(name, "Wait"), strings.Contains(name, "Timeout"):
		return int64(f.c.intn(300)) - 1
	case name == "Acks":
		return int64(f.c.intn(4)) - 2 // -2, -1, 0, 1
	}
	var x int64
	if f.learned != nil && len(f.learned.ints) > 0 && f.c.intn(4) == 0 {
		x = f.learned.ints[f.c.intn(len(f.learned.ints))]
	} else if f.c.intn(3) == 0 {
		x = fuzzInts[f.c.intn(len(fuzzInts))]
	} else {
		x = int64(f.c.intn(6))
	}
	shift := 64 - bits
	return x << shift >> shift
}

// bytes is a value for a bytes field: record batches for Records (valid,
// cut short, corrupt or random), and for the others (group metadata and
// assignments) empty, random or a valid batch read as something else.
func (f requestFiller) bytes(name string) []byte {
	valid := testBatch([]byte("fuzz"), []byte("request"))
	switch f.c.intn(5) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return valid
	case 3:
		return valid[:f.c.intn(len(valid))]
	default:
		b := make([]byte, f.c.intn(64))
		for i := range b {
			b[i] = byte(f.c.intn(256))
		}
		if name == "Records" && f.c.intn(2) == 0 {
			damaged := append([]byte{}, valid...)
			damaged[f.c.intn(len(damaged))] ^= byte(1 + f.c.intn(255))
			return damaged
		}
		return b
	}
}

// fuzzConn sends requests on one connection, redialling after a close.
type fuzzConn struct {
	addr string
	conn net.Conn
	corr int32
}

func (c *fuzzConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// roundTrip sends req and reads its answer: closed is true if the broker
// closed the connection instead (a refused request), and an error is a
// fault: no answer in time, or an answer that is not req's or does not
// decode.
func (c *fuzzConn) roundTrip(req kmsg.Request) (resp kmsg.Response, closed bool, err error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, rawIOTimeout)
		if err != nil {
			return nil, false, fmt.Errorf("dial: %w", err)
		}
		c.conn = conn
	}
	c.corr++
	_ = c.conn.SetDeadline(time.Now().Add(rawIOTimeout))
	if _, err := c.conn.Write(frameRequest(req, c.corr)); err != nil {
		c.close()
		return nil, true, nil // closed while we wrote: after an earlier refusal
	}
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		// No answer to acks=0; ask ApiVersions to see the broker is
		// still there and the connection in order.
		ping := kmsg.NewPtrApiVersionsRequest()
		return c.roundTrip(ping)
	}
	resp = req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := readAnswer(c.conn, resp, c.corr); err != nil {
		if errors.Is(err, errBadAnswer) {
			return nil, false, err
		}
		return c.closedOr(err)
	}
	return resp, false, nil
}

// closedOr tells a close (EOF, reset) from a timeout.
func (c *fuzzConn) closedOr(err error) (kmsg.Response, bool, error) {
	c.close()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, false, fmt.Errorf("no answer in %v", rawIOTimeout)
	}
	return nil, true, nil
}

// restarts is how many times any actor of n has been restarted.
func restarts(n *Node) int64 {
	var sum int64
	for _, s := range n.System().ActorStats() {
		sum += s.Restarts()
	}
	return sum
}

// fuzzNode is a broker with the fuzz topics, eight records in each of
// their partitions (so that small offsets are there to fetch, list and
// delete up to).
func fuzzNode(tb testing.TB) *Node {
	tb.Helper()
	cfg := testConfig(tb)
	// A new group's JoinGroup is answered at once, and the filler's short
	// timeouts (under 300 ms) are valid session timeouts, so that a JoinGroup
	// gets as far as the group and no rebalance keeps the test waiting.
	cfg.GroupInitialRebalanceDelay = -1
	cfg.GroupMinSessionTimeout = 10 * time.Millisecond
	n := startNode(tb, cfg)
	tb.Cleanup(func() { stopNode(tb, n) })
	admin := newClient(tb, n)
	for i, topic := range fuzzTopics {
		createTopic(tb, admin, topic, int32(i+1), nil)
		produceAll(tb, admin, topic, int32(i+1), 8, 100)
	}
	return n
}

// sendChecked sends req and fails t on a fault, an actor's restart or an
// unhealthy broker. It returns the answer (for acks=0, the ping's) and
// whether the connection was closed instead.
func sendChecked(t *testing.T, n *Node, c *fuzzConn, req kmsg.Request) (kmsg.Response, bool) {
	t.Helper()
	before := restarts(n)
	resp, closed, err := c.roundTrip(req)
	if err == nil && restarts(n) != before {
		err = errors.New("an actor was restarted")
	}
	if err == nil {
		err = n.Broker().Healthy()
	}
	if err != nil {
		t.Fatalf("%s v%d: %v\nrequest: %+v", kmsg.NameForKey(req.Key()), req.GetVersion(), err, req)
	}
	return resp, closed
}

func TestRandomRequests(t *testing.T) {
	n := fuzzNode(t)
	healthy := startHealthyTraffic(t, n, "healthy")
	perVersion := 12
	if testing.Short() {
		perVersion = 3
	}
	c := &fuzzConn{addr: n.Addr().String()}
	defer c.close()
	learned := &learnedValues{}
	sent, refused := 0, 0
	for _, api := range wire.SupportedAPIs() {
		for version := api.Min; version <= api.Max; version++ {
			rng := rand.New(rand.NewPCG(uint64(api.Key), uint64(version)))
			fill := requestFiller{c: rngChooser{rng}, learned: learned}
			for range perVersion {
				resp, closed := sendChecked(t, n, c, fill.request(api.Key, version))
				if closed {
					refused++
				} else if learnsFrom(resp) {
					learned.learn(reflect.ValueOf(resp), "")
				}
				sent++
			}
		}
		healthy.check(t)
	}
	t.Logf("%d requests, %d refused with a close", sent, refused)
	if refused > sent/2 {
		t.Fatalf("%d of %d requests were refused: the filler makes requests that do not decode", refused, sent)
	}
}

func FuzzRequests(f *testing.F) {
	apis := wire.SupportedAPIs()
	for i, api := range apis {
		f.Add(uint8(i), uint8(api.Max), []byte{byte(i), 7, 1, 2, 3})
	}
	n := fuzzNode(f)
	f.Fuzz(func(t *testing.T, which, version uint8, choices []byte) {
		api := apis[int(which)%len(apis)]
		v := api.Min + int16(version)%(api.Max-api.Min+1)
		req := requestFiller{c: &bytesChooser{data: choices}}.request(api.Key, v)
		c := &fuzzConn{addr: n.Addr().String()}
		defer c.close()
		_, _ = sendChecked(t, n, c, req)
	})
}
