package netloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc adapts a function to Handler.
type handlerFunc func(r *Request)

func (f handlerFunc) Serve(r *Request) { f(r) }

func startServer(t *testing.T, opts Options, h Handler) *Server {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := New(opts, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// apiVersionsFrame is a v0 ApiVersions request with a correlation id.
func apiVersionsFrame(correlation int32) []byte {
	body := []byte{0, 18, 0, 0} // key 18, version 0
	body = binary.BigEndian.AppendUint32(body, uint32(correlation))
	body = append(body, 0, 1, 't') // client id "t"
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// pipeline dials s and writes n ApiVersions requests, correlation ids 0 to
// n-1, without waiting for answers; the connection closes with the test.
func pipeline(t *testing.T, s *Server, n int32) net.Conn {
	t.Helper()
	return pipelineFrom(t, s, 0, n)
}

// pipelineFrom is pipeline with correlation ids first to first+n-1.
func pipelineFrom(t *testing.T, s *Server, first, n int32) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for i := range n {
		if _, err := conn.Write(apiVersionsFrame(first + i)); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// framesHandler answers, each from a goroutine of its own, the requests
// inParts picks with frameFor's frame in parts (RespondFrame) and the others
// with an empty ApiVersions response.
func framesHandler(inParts func(corr int32) bool, frameFor func(corr int32) [][]byte) Handler {
	return handlerFunc(func(r *Request) {
		corr := r.Header.CorrelationID
		go func() {
			if !inParts(corr) {
				r.Respond(kmsg.NewPtrApiVersionsResponse())
				return
			}
			vec := frameFor(corr)
			size := 0
			for _, p := range vec {
				size += len(p)
			}
			r.RespondFrame(vec, size, nil)
		}()
	})
}

// readWholeFrame reads response number which, size prefix included.
func readWholeFrame(t testing.TB, r *bufio.Reader, which int32) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatalf("response %d: %v", which, err)
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		t.Fatalf("response %d: %v", which, err)
	}
	return frame
}

func readCorrelation(t *testing.T, r *bufio.Reader) int32 {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatalf("read size: %v", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, frame); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return int32(binary.BigEndian.Uint32(frame))
}

// Handlers finish in random order on other goroutines; the responses must
// still leave in request order.
func TestResponsesInRequestOrder(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		go func() {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // scramble completion order
			r.Respond(kmsg.NewPtrApiVersionsResponse())
		}()
	})
	s := startServer(t, Options{MaxInFlight: 16}, h)
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 2000
	go func() {
		w := bufio.NewWriter(conn)
		for i := int32(0); i < n; i++ {
			_, _ = w.Write(apiVersionsFrame(i))
		}
		_ = w.Flush()
	}()
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := int32(0); i < n; i++ {
		if got := readCorrelation(t, r); got != i {
			t.Fatalf("response %d has correlation id %d", i, got)
		}
	}
}

// Past the in-flight limit the server stops decoding frames of a connection
// until a response is written.
func TestInFlightLimit(t *testing.T) {
	var mu sync.Mutex
	var held []*Request
	var served atomic.Int32
	h := handlerFunc(func(r *Request) {
		// Count only once the request is in held: a waiter that sees the
		// count must also see the request, or it answers too few of them.
		mu.Lock()
		held = append(held, r)
		served.Add(1)
		mu.Unlock()
	})
	s := startServer(t, Options{MaxInFlight: 4}, h)
	conn := pipeline(t, s, 10)
	waitFor(t, func() bool { return served.Load() == 4 })
	if s.InFlight() != 4 {
		t.Fatalf("in flight %d, want 4", s.InFlight())
	}
	// Answer one: exactly one more frame is decoded.
	mu.Lock()
	held[0].Respond(kmsg.NewPtrApiVersionsResponse())
	mu.Unlock()
	r := bufio.NewReader(conn)
	if got := readCorrelation(t, r); got != 0 {
		t.Fatalf("first response %d", got)
	}
	waitFor(t, func() bool { return served.Load() == 5 })
	mu.Lock()
	for _, req := range held[1:] {
		req.Respond(kmsg.NewPtrApiVersionsResponse())
	}
	mu.Unlock()
	for want := int32(1); want < 5; want++ {
		if got := readCorrelation(t, r); got != want {
			t.Fatalf("response %d, want %d", got, want)
		}
	}
	waitFor(t, func() bool { return served.Load() == 9 })
}

// Skip releases a slot without writing; later responses still flow.
func TestSkipLeavesNoResponse(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		if r.Header.CorrelationID%2 == 0 {
			r.Skip()
			return
		}
		r.Respond(kmsg.NewPtrApiVersionsResponse())
	})
	s := startServer(t, Options{}, h)
	conn := pipeline(t, s, 6)
	r := bufio.NewReader(conn)
	for _, want := range []int32{1, 3, 5} {
		if got := readCorrelation(t, r); got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}
}

// A request nobody answers closes its connection at the deadline; other
// connections are unaffected.
func TestDeadlineClosesStalledConnection(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		if r.Header.CorrelationID == 666 {
			return // lost
		}
		r.Respond(kmsg.NewPtrApiVersionsResponse())
	})
	s := startServer(t, Options{RequestDeadline: 300 * time.Millisecond}, h)
	stalled, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	_, _ = stalled.Write(apiVersionsFrame(666))
	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := stalled.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("stalled connection: %v, want it closed", err)
	}
	healthy, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close()
	_, _ = healthy.Write(apiVersionsFrame(1))
	if got := readCorrelation(t, bufio.NewReader(healthy)); got != 1 {
		t.Fatalf("healthy connection got %d", got)
	}
	waitFor(t, func() bool { return s.InFlight() == 0 || s.Connections() == 1 })
}

// Frames over the limit, negative sizes and garbage close the connection.
func TestBadFramesClose(t *testing.T) {
	h := handlerFunc(func(r *Request) { r.Respond(kmsg.NewPtrApiVersionsResponse()) })
	s := startServer(t, Options{MaxFrameBytes: 1 << 10}, h)
	for name, payload := range map[string][]byte{
		"oversized":   binary.BigEndian.AppendUint32(nil, 1<<20),
		"negative":    binary.BigEndian.AppendUint32(nil, 0x80000001),
		"unknown key": append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0),
		"garbage":     append(binary.BigEndian.AppendUint32(nil, 6), 1, 2, 3, 4, 5, 6),
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = conn.Write(payload)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Read(make([]byte, 64)); !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("%v, want the connection closed", err)
			}
		})
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A frame given in parts — more than one writev takes, and larger than a
// socket buffer — arrives whole and in order between plain responses.
func TestRespondFrameInParts(t *testing.T) {
	const parts = 2500
	frameFor := func(corr int32) [][]byte {
		// size, correlation id, then parts-1 chunks of 97 bytes of a
		// pattern derived from the correlation id.
		body := 4 + (parts-1)*97
		vec := [][]byte{binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(body)), uint32(corr))}
		for i := 1; i < parts; i++ {
			vec = append(vec, bytes.Repeat([]byte{byte(int(corr) + i)}, 97))
		}
		return vec
	}
	h := framesHandler(func(corr int32) bool { return corr%2 == 0 }, frameFor)
	s := startServer(t, Options{}, h)
	conn := pipeline(t, s, 20)
	r := bufio.NewReader(conn)
	for want := int32(0); want < 20; want++ {
		frame := readWholeFrame(t, r, want)
		if got := int32(binary.BigEndian.Uint32(frame[4:])); got != want {
			t.Fatalf("response %d arrived as %d", got, want)
		}
		if want%2 == 0 {
			if !bytes.Equal(frame, bytes.Join(frameFor(want), nil)) {
				t.Fatalf("frame %d differs from its parts", want)
			}
		}
	}
}

// A refused frame closes the connection only after the answers to the
// requests before it are written (kafka-python pipelines ApiVersions and a
// Metadata v0 it expects to be refused); the requests after it are not read.
func TestRefusedFrameClosesAfterEarlierAnswers(t *testing.T) {
	var served atomic.Int32
	h := handlerFunc(func(r *Request) {
		served.Add(1)
		go func() {
			time.Sleep(50 * time.Millisecond) // the refusal is read long before
			r.Respond(kmsg.NewPtrApiVersionsResponse())
		}()
	})
	s := startServer(t, Options{}, h)
	unknownKey := append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 9, 0, 0)
	for name, bad := range map[string][]byte{
		"bad header": unknownKey,
		"bad size":   binary.BigEndian.AppendUint32(nil, 0x80000001),
	} {
		t.Run(name, func(t *testing.T) {
			served.Store(0)
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var out []byte
			out = append(out, apiVersionsFrame(1)...)
			out = append(out, apiVersionsFrame(2)...)
			out = append(out, bad...)
			out = append(out, apiVersionsFrame(3)...)
			if _, err := conn.Write(out); err != nil {
				t.Fatal(err)
			}
			expectAnswersThenClose(t, conn, 1, 2)
			if n := served.Load(); n != 2 {
				t.Fatalf("%d requests served, want the 2 before the refused frame", n)
			}
		})
	}
}

// A handler's Close takes its request's place in the answer order: the
// answers before it are written, those after it are not.
func TestHandlerCloseAfterEarlierAnswers(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		corr := r.Header.CorrelationID
		go func() {
			switch corr {
			case 3:
				r.Close("test")
			case 1, 2:
				time.Sleep(50 * time.Millisecond) // answered after the close
				r.Respond(kmsg.NewPtrApiVersionsResponse())
			default:
				r.Respond(kmsg.NewPtrApiVersionsResponse())
			}
		}()
	})
	s := startServer(t, Options{}, h)
	conn := pipelineFrom(t, s, 1, 4)
	expectAnswersThenClose(t, conn, 1, 2)
	waitFor(t, func() bool { return s.InFlight() == 0 })
}

// Fail on a skipped request (an acks=0 produce refused after its slot was
// released) closes the connection after the answers before it; answers
// after it that were not written yet are dropped, and the in-flight count
// still returns to zero.
func TestFailAfterSkipClosesAfterEarlierAnswers(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		corr := r.Header.CorrelationID
		if corr == 3 {
			r.Skip()
		}
		go func() {
			switch corr {
			case 3:
				time.Sleep(20 * time.Millisecond)
				r.Fail("test")
				r.Fail("test again") // once only
			case 1, 2:
				time.Sleep(50 * time.Millisecond) // answered after the failure
				r.Respond(kmsg.NewPtrApiVersionsResponse())
			default:
				time.Sleep(100 * time.Millisecond)
				r.Respond(kmsg.NewPtrApiVersionsResponse())
			}
		}()
	})
	s := startServer(t, Options{}, h)
	conn := pipelineFrom(t, s, 1, 5)
	expectAnswersThenClose(t, conn, 1, 2)
	waitFor(t, func() bool { return s.InFlight() == 0 })
}

// Fail on an answered request does nothing: the connection goes on.
func TestFailAfterRespondIgnored(t *testing.T) {
	h := handlerFunc(func(r *Request) {
		r.Respond(kmsg.NewPtrApiVersionsResponse())
		r.Fail("too late")
	})
	s := startServer(t, Options{}, h)
	conn := pipeline(t, s, 3)
	r := bufio.NewReader(conn)
	for want := range int32(3) {
		if got := readCorrelation(t, r); got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}
	if _, err := conn.Write(apiVersionsFrame(3)); err != nil {
		t.Fatal(err)
	}
	if got := readCorrelation(t, r); got != 3 {
		t.Fatalf("got %d, want 3", got)
	}
}

// expectAnswersThenClose reads answers with the correlation ids want, in
// order, and then finds the connection closed.
func expectAnswersThenClose(t *testing.T, conn net.Conn, want ...int32) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for _, w := range want {
		if got := readCorrelation(t, r); got != w {
			t.Fatalf("got %d, want %d", got, w)
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("after the answers: %v, want the connection closed", err)
	}
}
