package netloop

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/wire"
)

// Handler serves decoded requests. Serve runs on an event-loop goroutine and
// must not block: it answers later, from any goroutine, through the Request.
type Handler interface {
	Serve(r *Request)
}

// Request is one decoded Kafka request and the way to answer it. Exactly one of
// Respond, Skip or Close takes effect; later calls are ignored, so a timeout
// path and a normal path may race safely. Fail may follow a Skip.
type Request struct {
	Header   wire.RequestHeader
	Body     kmsg.Request
	Received time.Time
	Remote   string

	conn  *connState
	seq   uint64
	state atomic.Uint32 // requestOpen until one of the answers takes effect
}

// A Request's states: an answer moves it out of requestOpen once, and Fail
// moves a skipped one on to requestFailed.
const (
	requestOpen     uint32 = iota
	requestAnswered        // Respond, RespondFrame or Close
	requestSkipped
	requestFailed
)

// answer moves the request from open to to; false if it had left already.
func (r *Request) answer(to uint32) bool { return r.state.CompareAndSwap(requestOpen, to) }

// Respond encodes resp at the request's version and queues it for writing.
func (r *Request) Respond(resp kmsg.Response) {
	if !r.answer(requestAnswered) {
		return
	}
	resp.SetVersion(r.Header.Version)
	frame := wire.AppendResponse(nil, r.Header.CorrelationID, resp)
	now := time.Now()
	r.conn.loop.server.metrics.observe(r.Header.Key, now.Sub(r.Received), len(frame))
	r.conn.loop.complete(completion{conn: r.conn, seq: r.seq, data: frame, queued: now.UnixNano()})
}

// RespondFrame queues an already encoded response frame, given in parts of
// size bytes in all (wire.AppendFetchFrame). The parts are handed to writev
// as they are, so they must not change until written; the caller's part
// slices may be referenced by other frames too. written, if not nil, is
// called once the server no longer references the parts: when the last of
// them has been handed to writev (gnet copies what the socket does not take
// at once), or when they are dropped because the connection closed or the
// request was answered already. It runs on the event loop (or the caller's
// goroutine, for a dropped answer) and must not block.
func (r *Request) RespondFrame(parts [][]byte, size int, written func()) {
	if !r.answer(requestAnswered) {
		if written != nil {
			written()
		}
		return
	}
	now := time.Now()
	r.conn.loop.server.metrics.observe(r.Header.Key, now.Sub(r.Received), size)
	r.conn.loop.complete(completion{conn: r.conn, seq: r.seq, vec: parts, written: written, queued: now.UnixNano()})
}

// Skip releases the request's slot without a response (acks=0 produce).
func (r *Request) Skip() {
	if !r.answer(requestSkipped) {
		return
	}
	r.conn.loop.server.metrics.observe(r.Header.Key, time.Since(r.Received), 0)
	r.conn.loop.complete(completion{conn: r.conn, seq: r.seq, kind: completionSkip})
}

// Fail closes the connection of a skipped request whose work failed later
// (an acks=0 produce that a partition refused): the client reads no
// answer to it, and a closed connection is how Kafka tells it. The answers
// to the requests before it are still written; those after it that are
// not written yet are dropped, as they would not have been read in Kafka,
// which reads a connection's next request only after the one before. On a
// request not yet answered it is Close; on an answered one, or a second
// time, it does nothing.
func (r *Request) Fail(reason string) {
	if r.state.CompareAndSwap(requestSkipped, requestFailed) {
		r.closeConn(completionFail, reason)
		return
	}
	r.Close(reason)
}

// Close answers nothing and closes the connection, for a request the handler
// finds to violate the protocol in a way that has no error code.
func (r *Request) Close(reason string) {
	if r.answer(requestAnswered) {
		r.closeConn(completionClose, reason)
	}
}

// closeConn logs why the connection closes and queues the close.
func (r *Request) closeConn(kind completionKind, reason string) {
	r.conn.loop.server.logger.Warn("closing connection", "remote", r.Remote, "api_key", r.Header.Key, "reason", reason)
	r.conn.loop.complete(completion{conn: r.conn, seq: r.seq, kind: kind})
}

// ConnLocal is one value the Handler may keep for the request's connection,
// dropped with it (the broker keeps its fetch sessions there). Only Serve
// may use the slot: Serve runs on the connection's event loop, which makes
// the slot single-threaded. What the value points to needs its own lock if
// other goroutines touch it.
func (r *Request) ConnLocal() *any { return &r.conn.local }

// Answered reports whether the request has been answered (or skipped).
func (r *Request) Answered() bool { return r.state.Load() != requestOpen }
