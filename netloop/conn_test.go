package netloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// recordingConn is a gnet.Conn whose Writev records what it was given;
// connState uses no other method on these paths.
type recordingConn struct {
	gnet.Conn
	writes [][]byte // one entry per Writev call, its parts joined
}

func (c *recordingConn) Writev(bs [][]byte) (int, error) {
	joined := bytes.Join(bs, nil)
	c.writes = append(c.writes, joined)
	return len(joined), nil
}

// countingConn is a gnet.Conn whose Writev only counts the bytes.
type countingConn struct {
	gnet.Conn
	bytes int
}

func (c *countingConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	c.bytes += n
	return n, nil
}

// failingConn is a connection whose writes fail; like gnet, it closes the
// connection (OnClose) inside the failing Writev.
type failingConn struct {
	gnet.Conn
	server *Server
	cs     *connState
	writes int
}

func (c *failingConn) Context() any { return c.cs }

func (c *failingConn) Writev([][]byte) (int, error) {
	c.writes++
	c.server.OnClose(c, nil)
	return 0, errors.New("writev: broken pipe")
}

// openFailing adds a connection whose writes fail to l, as OnOpen would.
func openFailing(l *loopState) (*failingConn, *connState) {
	conn := &failingConn{server: l.server}
	cs := &connState{c: conn, loop: l, slots: make([]slot, 4)}
	conn.cs = cs
	l.conns[cs] = struct{}{}
	l.server.connections.Add(1)
	return conn, cs
}

func testLoop() *loopState {
	s := New(Options{Registry: prometheus.NewRegistry()}, handlerFunc(func(*Request) {}))
	return &loopState{server: s, conns: make(map[*connState]struct{})}
}

// A large backlog is written a slice at a time and parks when other
// answers wait for the loop; the next drain writes the rest, in order and
// byte for byte, and the server's unwritten count returns to zero.
func TestBacklogWrittenInSlicesAroundOtherAnswers(t *testing.T) {
	l := testLoop()
	conn := &recordingConn{}
	cs := &connState{c: conn, loop: l, slots: make([]slot, 4)}
	// A response frame in parts: small header, a part larger than a
	// slice, many small parts (more than one writev may take), a tail.
	parts := [][]byte{[]byte("head"), bytes.Repeat([]byte{1}, writeSlice+writeSlice/2)}
	for i := range maxIovecs + 10 {
		parts = append(parts, []byte{byte(i), byte(i >> 8), 7})
	}
	parts = append(parts, bytes.Repeat([]byte{2}, writeSlice/3))
	want := bytes.Join(parts, nil)
	cs.slots[0] = slot{state: slotReady, vec: parts}
	cs.inflight = 1
	l.server.inflight.Store(1)

	// Another connection's answer is waiting: one slice, then park.
	l.queue = append(l.queue, completion{})
	cs.flush()
	if len(conn.writes) != 1 || len(conn.writes[0]) != writeSlice {
		t.Fatalf("with answers waiting: %d writes (first %d bytes), want one of %d", len(conn.writes), len(conn.writes[0]), writeSlice)
	}
	if !cs.parked || len(l.backlogged) != 1 {
		t.Fatal("the connection did not park with bytes left")
	}
	if got := l.server.unwritten.Load(); got != int64(len(want)-writeSlice) {
		t.Fatalf("unwritten %d, want %d", got, len(want)-writeSlice)
	}
	if l.server.InFlight() != 0 {
		t.Fatal("an answer in the backlog still counts as in flight")
	}

	// The drain that the waiting answer scheduled goes on with the backlog.
	l.queue = l.queue[:0]
	if err := l.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cs.parked || len(l.backlogged) != 0 {
		t.Fatal("still parked after a drain with nothing else waiting")
	}
	got := bytes.Join(conn.writes, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("wrote %d bytes, want the %d of the response in order", len(got), len(want))
	}
	for i, w := range conn.writes {
		if len(w) > writeSlice {
			t.Fatalf("write %d is %d bytes, over the slice", i, len(w))
		}
	}
	if n := l.server.unwritten.Load(); n != 0 {
		t.Fatalf("unwritten %d after everything was written", n)
	}
}

// Closing a connection discards its backlog and its unwritten count, and a
// later drain does not write to it.
func TestBacklogDroppedOnClose(t *testing.T) {
	l := testLoop()
	conn := &recordingConn{}
	cs := &connState{c: conn, loop: l, slots: make([]slot, 4)}
	cs.slots[0] = slot{state: slotReady, data: bytes.Repeat([]byte{3}, 3*writeSlice)}
	cs.inflight = 1
	l.server.inflight.Store(1)
	l.queue = append(l.queue, completion{})
	cs.flush()
	if !cs.parked {
		t.Fatal("not parked")
	}
	cs.closed = true
	cs.dropBacklog()
	l.queue = l.queue[:0]
	if err := l.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(conn.writes) != 1 {
		t.Fatalf("%d writes to a closed connection's socket, want the one before it closed", len(conn.writes))
	}
	if n := l.server.unwritten.Load(); n != 0 {
		t.Fatalf("unwritten %d after close", n)
	}
}

// Over real sockets: one connection gets responses of megabytes in parts
// larger than a slice and more parts than one writev takes, while another
// pipelines small requests on the same server. Both read back every frame
// whole and in order.
func TestLargeResponsesBesideSmallOnes(t *testing.T) {
	frameFor := func(corr int32) [][]byte {
		var parts [][]byte
		body := 0
		parts = append(parts, nil) // size and correlation id, below
		for i, n := range []int{600 << 10, 3, 500 << 10} {
			p := bytes.Repeat([]byte{byte(int(corr) + i)}, n)
			parts = append(parts, p)
			body += n
		}
		for i := range maxIovecs + 100 {
			parts = append(parts, []byte{byte(i), byte(corr)})
			body += 2
		}
		parts[0] = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(4+body)), uint32(corr))
		return parts
	}
	h := framesHandler(func(corr int32) bool { return corr >= 1000 }, frameFor)
	s := startServer(t, Options{}, h)
	large := pipelineFrom(t, s, 1000, 12)
	small := pipeline(t, s, 300)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(small)
		for want := int32(0); want < 300; want++ {
			if got := readCorrelation(t, r); got != want {
				t.Errorf("small response %d arrived as %d", want, got)
				return
			}
		}
	}()
	r := bufio.NewReader(large)
	for want := int32(1000); want < 1012; want++ {
		if !bytes.Equal(readWholeFrame(t, r, want), bytes.Join(frameFor(want), nil)) {
			t.Fatalf("large response %d differs from its parts", want)
		}
	}
	wg.Wait()
	waitFor(t, func() bool { return s.unwritten.Load() == 0 })
}

// BenchmarkSmallBesideLarge measures the round trip of small requests on
// one connection while another connection of the same server keeps
// receiving 4 MiB responses, with the write slice and without it (the
// whole response handed to one writev, as before the backlog). Both
// connections are on one event loop.
//
//	go test ./netloop -run '^$' -bench SmallBesideLarge -benchtime 3000x -count 3
func BenchmarkSmallBesideLarge(b *testing.B) {
	for _, bench := range []struct {
		name  string
		slice int
	}{{"slice=256KiB", 256 << 10}, {"slice=none", 1 << 40}} {
		b.Run(bench.name, func(b *testing.B) {
			defer func(old int) { writeSlice = old }(writeSlice)
			writeSlice = bench.slice
			benchSmallBesideLarge(b)
		})
	}
}

func benchSmallBesideLarge(b *testing.B) {
	const largeFrom = 1 << 20
	payload := bytes.Repeat([]byte{9}, 4<<20)
	h := framesHandler(func(corr int32) bool { return corr >= largeFrom }, func(corr int32) [][]byte {
		head := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(4+len(payload))), uint32(corr))
		return [][]byte{head, payload}
	})
	s := New(Options{Listen: "127.0.0.1:0", EventLoops: 1, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())

	large, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer large.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	const depth = 4 // large responses in flight
	sem := make(chan struct{}, depth)
	go func() { // writes large requests, at most depth unanswered
		defer wg.Done()
		for corr := int32(largeFrom); ; corr++ {
			select {
			case sem <- struct{}{}:
			case <-done:
				return
			}
			if _, err := large.Write(apiVersionsFrame(corr)); err != nil {
				return
			}
		}
	}()
	var largeBytes atomic.Int64
	go func() { // reads them
		defer wg.Done()
		r := bufio.NewReaderSize(large, 1<<20)
		var size [4]byte
		for {
			if _, err := io.ReadFull(r, size[:]); err != nil {
				return
			}
			n, err := r.Discard(int(binary.BigEndian.Uint32(size[:])))
			if err != nil {
				return
			}
			largeBytes.Add(int64(n))
			<-sem
		}
	}()

	small, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer small.Close()
	r := bufio.NewReader(small)
	latency := hdrhistogram.New(1, int64(10*time.Second), 3)
	b.ResetTimer()
	began, readBefore := time.Now(), largeBytes.Load()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := small.Write(apiVersionsFrame(int32(i % largeFrom))); err != nil {
			b.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Discard(int(binary.BigEndian.Uint32(size[:]))); err != nil {
			b.Fatal(err)
		}
		_ = latency.RecordValue(int64(time.Since(start)))
	}
	b.StopTimer()
	largeRate := float64(largeBytes.Load()-readBefore) / time.Since(began).Seconds() / 1e6
	close(done)
	large.Close()
	wg.Wait()
	b.ReportMetric(float64(latency.ValueAtQuantile(50))/1e3, "p50-µs")
	b.ReportMetric(float64(latency.ValueAtQuantile(99))/1e3, "p99-µs")
	b.ReportMetric(float64(latency.Max())/1e3, "max-µs")
	b.ReportMetric(largeRate, "large-MB/s")
}

// A write that fails closes the connection inside Writev (gnet does so);
// the backlog goes with it and nothing is written or counted after that.
func TestBacklogWriteFailure(t *testing.T) {
	l := testLoop()
	conn, cs := openFailing(l)
	cs.slots[0] = slot{state: slotReady, vec: [][]byte{bytes.Repeat([]byte{4}, writeSlice+100), []byte("tail")}}
	cs.inflight = 1
	l.server.inflight.Store(1)
	cs.flush()
	if conn.writes != 1 || !cs.closed {
		t.Fatalf("%d writes, closed %v", conn.writes, cs.closed)
	}
	if n := l.server.unwritten.Load(); n != 0 {
		t.Fatalf("unwritten %d after the connection failed", n)
	}
	if err := l.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if conn.writes != 1 {
		t.Fatalf("%d writes after the failure", conn.writes)
	}
}

// A response's written callback runs once its last part has been handed to
// writev, not before, and once only; a response whose parts are dropped
// (the write failed) has it called too.
func TestWrittenAfterLastPart(t *testing.T) {
	l := testLoop()
	conn := &recordingConn{}
	cs := &connState{c: conn, loop: l, slots: make([]slot, 4)}
	big := bytes.Repeat([]byte{5}, 2*writeSlice+10)
	var calls []string
	var writtenAt []int // bytes handed to writev when each callback ran
	mark := func(name string) func() {
		return func() {
			calls = append(calls, name)
			writtenAt = append(writtenAt, len(bytes.Join(conn.writes, nil)))
		}
	}
	cs.slots[0] = slot{state: slotReady, vec: [][]byte{[]byte("a"), big}, written: mark("a")}
	cs.slots[1] = slot{state: slotReady, data: []byte("plain")}
	cs.slots[2] = slot{state: slotReady, vec: [][]byte{[]byte("c")}, written: mark("c")}
	cs.slots[3] = slot{state: slotReady, vec: nil, written: mark("empty")}
	cs.inflight = 4
	l.server.inflight.Store(4)

	l.queue = append(l.queue, completion{}) // others wait: one slice, then park
	cs.flush()
	if len(calls) != 0 {
		t.Fatalf("callbacks %v ran with %d of %d bytes written", calls, writeSlice, len(big)+1)
	}
	l.queue = l.queue[:0]
	if err := l.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantAt := []int{1 + len(big), 1 + len(big) + 5 + 1, 1 + len(big) + 5 + 1}
	if len(calls) != 3 || calls[0] != "a" || calls[1] != "c" || calls[2] != "empty" {
		t.Fatalf("callbacks %v, want a, c, empty once each", calls)
	}
	for i := range wantAt {
		if writtenAt[i] < wantAt[i] {
			t.Fatalf("callback %s ran with %d bytes written, before its last part (%d)", calls[i], writtenAt[i], wantAt[i])
		}
	}

	// A failed write drops the parts: the callback runs then.
	_, fcs := openFailing(l)
	dropped := 0
	fcs.slots[0] = slot{state: slotReady, vec: [][]byte{big}, written: func() { dropped++ }}
	fcs.inflight = 1
	l.server.inflight.Store(1)
	fcs.flush()
	if dropped != 1 {
		t.Fatalf("callback ran %d times for a failed write, want 1", dropped)
	}
}

// Answers that will never be written have their callbacks run: one that
// waited behind an unanswered request when the connection closed, and one
// that arrived after.
func TestWrittenOnClose(t *testing.T) {
	l := testLoop()
	conn, cs := openFailing(l)
	calls := 0
	cs.slots[1] = slot{state: slotReady, vec: [][]byte{[]byte("x")}, written: func() { calls++ }}
	cs.inflight = 3 // slot 0 unanswered, 1 ready behind it, 2 on its way
	l.server.inflight.Store(3)
	l.server.OnClose(conn, nil)
	if calls != 1 {
		t.Fatalf("%d calls for the answer waiting at close, want 1", calls)
	}
	l.queue = append(l.queue, completion{conn: cs, seq: 2, vec: [][]byte{[]byte("y")}, written: func() { calls++ }})
	if err := l.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("%d calls after an answer reached the closed connection, want 2", calls)
	}
}

// Random responses in parts, written in slices with random parking and,
// in some rounds, a close part way: every written callback runs exactly
// once, and never before its response's last byte was handed to writev,
// unless the connection closed first. A callback early by one part would
// let the broker reuse block memory a response still sends.
func TestWrittenCallbacksRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	filler := make([]byte, writeSlice)
	for round := range 300 {
		l := testLoop()
		conn := &countingConn{}
		cs := &connState{c: conn, loop: l, slots: make([]slot, 8)}
		written := func() int { return conn.bytes }
		k := 1 + rng.IntN(8)
		ends := make([]int, k) // each response's end in the byte stream
		calls := make([]int, k)
		hasCallback := make([]bool, k)
		at := make([]int, k) // bytes handed to writev at the call
		end := 0
		for i := range k {
			var parts [][]byte
			for range rng.IntN(6) {
				parts = append(parts, filler[:rng.IntN(writeSlice)])
			}
			for _, p := range parts {
				end += len(p)
			}
			ends[i] = end
			cs.slots[i] = slot{state: slotReady, vec: parts}
			if hasCallback[i] = rng.IntN(4) > 0; hasCallback[i] {
				cs.slots[i].written = func() { calls[i]++; at[i] = written() }
			} else {
				calls[i] = 1 // no callback to count
			}
		}
		cs.inflight = k
		l.server.inflight.Store(int64(k))
		closeAfter := -1
		if rng.IntN(3) == 0 {
			closeAfter = rng.IntN(4)
		}
		l.queue = append(l.queue[:0], completion{}) // the first flush parks after a slice
		cs.flush()
		for step := 0; cs.head < len(cs.backlog); step++ {
			if step == closeAfter {
				cs.closed = true
				cs.dropBacklog()
				break
			}
			l.queue = l.queue[:0]
			if rng.IntN(2) == 0 {
				l.queue = append(l.queue, completion{})
			}
			cs.parked = false
			cs.writeBacklog()
		}
		closedAt := written()
		for i := range k {
			if calls[i] != 1 {
				t.Fatalf("round %d: response %d's callback ran %d times", round, i, calls[i])
			}
			if hasCallback[i] && at[i] < ends[i] && (!cs.closed || at[i] != closedAt) {
				t.Fatalf("round %d: response %d's callback ran with %d bytes written, before its end at %d", round, i, at[i], ends[i])
			}
		}
		if !cs.closed && written() != end {
			t.Fatalf("round %d: %d bytes written, want %d", round, written(), end)
		}
	}
}

// A frame for a request answered already (by the deadline, say) is never
// queued: its written callback runs at once, or the memory it references
// would stay held.
func TestRespondFrameAfterAnswerReleases(t *testing.T) {
	r := &Request{}
	r.state.Store(requestAnswered)
	calls := 0
	r.RespondFrame([][]byte{[]byte("late")}, 4, func() { calls++ })
	if calls != 1 {
		t.Fatalf("written ran %d times for an answer that was dropped, want 1", calls)
	}
}

// stoppedLoop is an event loop of an engine that is shutting down: it
// refuses every task.
type stoppedLoop struct {
	gnet.EventLoop
	refused atomic.Int64
}

func (l *stoppedLoop) Execute(context.Context, gnet.Runnable) error {
	l.refused.Add(1)
	time.Sleep(50 * time.Microsecond) // let other pushes land in the queue meanwhile
	return errors.New("gnet: engine is shutting down")
}

// When the engine refuses the drain task, complete drops the queued
// completions: each written callback runs once, whichever goroutine's push
// it was, and nothing stays queued or scheduled.
func TestCompleteOnStoppedEngine(t *testing.T) {
	l := testLoop()
	el := &stoppedLoop{}
	l.el = el
	cs := &connState{c: &recordingConn{}, loop: l, slots: make([]slot, 4)}
	const pushers, each = 8, 200
	calls := make([]atomic.Int64, pushers*each)
	var wg sync.WaitGroup
	for g := range pushers {
		wg.Go(func() {
			for i := range each {
				n := g*each + i
				l.complete(completion{conn: cs, seq: uint64(n), kind: completionResponse, vec: [][]byte{{1}}, written: func() { calls[n].Add(1) }})
			}
		})
	}
	wg.Wait()
	for n := range calls {
		if c := calls[n].Load(); c != 1 {
			t.Fatalf("completion %d: written called %d times, want once", n, c)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) != 0 || l.scheduled {
		t.Fatalf("after refused drains: %d completions queued, scheduled %t", len(l.queue), l.scheduled)
	}
	if el.refused.Load() == 0 {
		t.Fatal("no drain task was offered to the loop")
	}
}

// closingConn records what is written and when the connection is closed.
type closingConn struct {
	gnet.Conn
	written  []byte
	closes   int
	closedAt int // bytes written at the first Close
}

func (c *closingConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		c.written = append(c.written, b...)
		n += len(b)
	}
	return n, nil
}

func (c *closingConn) Close() error {
	if c.closes == 0 {
		c.closedAt = len(c.written)
	}
	c.closes++
	return nil
}

// Answers completing in random order, some requests closed by their
// handler, and in some rounds a refused frame read part way: exactly the
// answers before the first close point (the first handler close, or the
// refused frame after every request read) are written, in order, and the
// connection is closed only once they all are.
func TestCloseAfterAnswersRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 3000 {
		l := testLoop()
		conn := &closingConn{}
		k := 1 + rng.IntN(8)
		cs := &connState{c: conn, loop: l, slots: make([]slot, 8)}
		for i := range k {
			cs.slots[i] = slot{state: slotWaiting} // as newRequest leaves it
		}
		cs.nextSeq, cs.inflight = uint64(k), k
		l.server.inflight.Store(int64(k))
		kinds := make([]completionKind, k)
		firstClose := k
		for i := range k {
			if rng.IntN(5) == 0 {
				kinds[i] = completionClose
				firstClose = min(firstClose, i)
			}
		}
		refuseAt := -1 // the refused frame is read before this many completions
		if rng.IntN(3) == 0 {
			refuseAt = rng.IntN(k + 1)
		}
		limit, wantClose := firstClose, firstClose < k || refuseAt >= 0
		var want []byte
		for i := range limit {
			want = fmt.Appendf(want, "answer-%d;", i)
		}

		order := rng.Perm(k)
		for j := 0; j <= k; j++ {
			if j == refuseAt && cs.refuse() == gnet.Close {
				_ = conn.Close() // what gnet does with the action
			}
			if j == k {
				break
			}
			seq := order[j]
			c := completion{conn: cs, seq: uint64(seq), kind: kinds[seq]}
			if c.kind != completionClose {
				c.data = fmt.Appendf(nil, "answer-%d;", seq)
			}
			if cs.accept(&c) {
				cs.flush()
			}
		}
		for cs.head < len(cs.backlog) {
			cs.writeBacklog()
		}

		if !bytes.Equal(conn.written, want) {
			t.Fatalf("round %d (%d requests, first close %d, refused before completion %d, order %v): wrote %q, want %q",
				round, k, firstClose, refuseAt, order, conn.written, want)
		}
		if (conn.closes > 0) != wantClose {
			t.Fatalf("round %d: closed %d times, want closed %v", round, conn.closes, wantClose)
		}
		if wantClose && conn.closedAt != len(want) {
			t.Fatalf("round %d: closed with %d bytes written, before the %d owed", round, conn.closedAt, len(want))
		}
		// A handler's close takes its request's slot; the answers after
		// the close point stay in theirs until OnClose.
		moved := uint64(limit)
		if firstClose < k {
			moved++
		}
		if wantClose && cs.writeSeq != moved {
			t.Fatalf("round %d: answers moved up to %d, want %d", round, cs.writeSeq, moved)
		}
	}
}
