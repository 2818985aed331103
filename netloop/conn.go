package netloop

import (
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/wire"
)

type slotState uint8

const (
	slotFree slotState = iota
	slotWaiting
	slotReady
)

type slot struct {
	state    slotState
	data     []byte   // nil for a skipped request
	vec      [][]byte // a frame in parts, instead of data
	written  func()   // called once vec is written or dropped
	deadline int64    // unix nanos
	queued   int64    // unix nanos: when the response was queued
	key      int16    // the request's API key
}

// connState is one connection's state; loop-owned (see doc.go).
type connState struct {
	c      gnet.Conn
	loop   *loopState
	remote string
	closed bool

	nextSeq  uint64 // sequence number of the next request read
	writeSeq uint64 // sequence number of the next response to write
	slots    []slot // ring indexed by seq % len: the reorder buffer
	inflight int
	paused   bool
	// closing: the connection reads no more frames and closes once the
	// answers to every request before closeSeq are written (closeAfter).
	closing  bool
	closeSeq uint64
	// backlog[head:] holds the parts of answered responses not yet handed
	// to writev, in order (their bytes are counted in Server.unwritten);
	// parked tells whether the connection waits on its loop's backlogged
	// list (see writeBacklog).
	backlog [][]byte
	head    int // backlog[:head] is written
	parked  bool
	// marks[markHead:] are the written callbacks of the responses in the
	// backlog, in order, each with the backlog length that ends its parts.
	marks    []writtenMark
	markHead int

	local any // the Handler's per-connection value (Request.ConnLocal)
}

func (cs *connState) overdue(now int64) bool {
	if cs.inflight == 0 {
		return false
	}
	s := &cs.slots[cs.writeSeq%uint64(len(cs.slots))]
	return s.state == slotWaiting && now > s.deadline
}

// accept stores a completion in the reorder ring. It returns true when the
// connection has something to flush or resume.
func (cs *connState) accept(c *completion) bool {
	s := &cs.slots[c.seq%uint64(len(cs.slots))]
	if c.kind == completionClose {
		// The handler's close takes the request's place in the answer
		// order: the answers before it are still written.
		cs.closeAfter(c.seq + 1)
	}
	s.state = slotReady
	s.data, s.vec, s.written, s.queued = c.data, c.vec, c.written, c.queued
	return true
}

// writtenMark is a response's written callback, due once the backlog is
// written up to end.
type writtenMark struct {
	end int
	fn  func()
}

// callWritten calls the callbacks of the responses whose parts are all
// handed to writev (or dropped: all, when everything is).
func (cs *connState) callWritten(all bool) {
	for cs.markHead < len(cs.marks) && (all || cs.marks[cs.markHead].end <= cs.head) {
		cs.marks[cs.markHead].fn()
		cs.marks[cs.markHead] = writtenMark{}
		cs.markHead++
	}
	if cs.markHead == len(cs.marks) {
		cs.marks, cs.markHead = cs.marks[:0], 0
	}
}

// maxIovecs is Linux's limit on the parts of one writev (UIO_MAXIOV).
const maxIovecs = 1024

// writeSlice is how many bytes one connection hands to writev before the
// loop looks for other answers: a catch-up Fetch response is megabytes, and
// on loopback writing 4 MiB takes the loop milliseconds, which a Produce
// answer on another connection of the loop would otherwise wait behind.
var writeSlice = 256 << 10 // a variable only so that a benchmark can compare

// closeAfter makes the connection stop reading and close once the answers
// to the requests before seq are written. Kafka reads a connection's next
// request only after answering the one before, so a client that pipelines
// a request the broker refuses (kafka-python's version probe sends
// ApiVersions and then Metadata v0) still gets every earlier answer.
func (cs *connState) closeAfter(seq uint64) {
	if !cs.closing || seq < cs.closeSeq {
		cs.closeSeq = seq
	}
	cs.closing = true
}

// pastClosePoint reports whether every answer a closing connection owes has
// left the reorder ring; the ones after it are never written.
func (cs *connState) pastClosePoint() bool {
	return cs.closing && cs.writeSeq >= cs.closeSeq
}

// owesNothing reports whether a closing connection has written every answer
// it owes.
func (cs *connState) owesNothing() bool {
	return cs.pastClosePoint() && cs.head == len(cs.backlog)
}

// refuse closes the connection after the answers to the requests read so far
// (see closeAfter), for a frame that cannot be served: gnet.Close when none
// is owed.
func (cs *connState) refuse() gnet.Action {
	cs.closeAfter(cs.nextSeq)
	if cs.owesNothing() {
		return gnet.Close
	}
	return gnet.None
}

// flush moves every response whose predecessors are answered to the
// backlog, writes what it can (see writeBacklog), then resumes reading if
// the connection was paused at its in-flight limit.
func (cs *connState) flush() {
	if cs.closed {
		return
	}
	n := uint64(len(cs.slots))
	var now int64
	added := 0
	for cs.inflight > 0 && !cs.pastClosePoint() {
		s := &cs.slots[cs.writeSeq%n]
		if s.state != slotReady {
			break
		}
		if s.data != nil || s.vec != nil {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			cs.loop.server.metrics.observeWait(s.key, time.Duration(now-s.queued))
		}
		if s.data != nil {
			cs.backlog = append(cs.backlog, s.data)
			added += len(s.data)
		}
		for _, part := range s.vec {
			cs.backlog = append(cs.backlog, part)
			added += len(part)
		}
		if s.written != nil {
			cs.marks = append(cs.marks, writtenMark{end: len(cs.backlog), fn: s.written})
		}
		*s = slot{}
		cs.writeSeq++
		cs.inflight--
		cs.loop.server.inflightDone()
	}
	cs.loop.server.unwritten.Add(int64(added))
	cs.writeBacklog()
	if cs.paused && cs.inflight < cs.loop.server.opts.MaxInFlight {
		cs.paused = false
		if cs.readFrames() == gnet.Close {
			_ = cs.c.Close()
		}
	}
}

// writeBacklog hands the backlog to writev writeSlice bytes at a time. When
// answers for other connections are waiting between two slices, it parks
// the connection on its loop and returns: the drain task those answers
// scheduled writes them first, then goes on with the parked backlogs. So a
// connection writes a large response at full speed when it is alone, and
// in slices between everyone else's answers when it is not. (gnet itself
// takes every byte offered, queueing what the socket cannot take yet.)
func (cs *connState) writeBacklog() {
	for cs.head < len(cs.backlog) && !cs.closed {
		pending := cs.backlog[cs.head:]
		vec, size, cut := cs.loop.writev[:0], 0, 0
		for len(vec) < len(pending) && len(vec) < maxIovecs && size < writeSlice {
			part := pending[len(vec)]
			if over := size + len(part) - writeSlice; over > 0 {
				cut = len(part) - over // the rest stays in the backlog
				part = part[:cut]
			}
			vec = append(vec, part)
			size += len(part)
		}
		// gnet reslices vec's elements on a short write: what was handed
		// over is decided above, not read back from vec.
		_, err := cs.c.Writev(vec)
		clear(vec)
		cs.loop.writev = vec[:0]
		if cs.closed {
			return // gnet closed it inside Writev; OnClose dropped the backlog
		}
		if err != nil {
			cs.loop.server.logger.Debug("write failed", "remote", cs.remote, "err", err)
			cs.dropBacklog()
			return
		}
		whole := len(vec)
		if cut > 0 {
			pending[whole-1] = pending[whole-1][cut:]
			whole--
		}
		clear(pending[:whole])
		cs.head += whole
		cs.loop.server.unwritten.Add(-int64(size))
		cs.callWritten(false)
		if cs.head < len(cs.backlog) && cs.loop.answersWaiting() {
			cs.loop.park(cs)
			return
		}
	}
	if cs.head == len(cs.backlog) {
		cs.callWritten(true) // all of the backlog is written
		cs.backlog, cs.head = cs.backlog[:0], 0
		if cap(cs.backlog) > keepParts {
			cs.backlog = nil // release what one response of many parts grew
		}
		if cs.owesNothing() {
			_ = cs.c.Close() // gnet writes what it still holds, then closes
		}
	}
}

// keepParts is the most parts a connection's backlog keeps room for
// between answers: a Fetch answer of many partitions grows them to
// hundreds, and a server with very many connections should not keep that
// for each one.
const keepParts = 64

// dropBacklog discards the backlog (the connection failed or closed).
func (cs *connState) dropBacklog() {
	dropped := 0
	for _, part := range cs.backlog[cs.head:] {
		dropped += len(part)
	}
	cs.loop.server.unwritten.Add(-int64(dropped))
	clear(cs.backlog)
	cs.backlog, cs.head = nil, 0
	cs.callWritten(true)
}

// readFrames decodes and dispatches every complete frame in the inbound buffer
// until the in-flight limit. It runs on the loop goroutine.
func (cs *connState) readFrames() gnet.Action {
	srv := cs.loop.server
	for {
		if cs.closing {
			// Frames after a refused one are not read; a client that
			// keeps sending meanwhile is cut off as a paused one is.
			if cs.c.InboundBuffered() > 2*srv.opts.MaxFrameBytes {
				srv.logger.Warn("closing connection: inbound buffer over limit while closing", "remote", cs.remote, "buffered", cs.c.InboundBuffered())
				return gnet.Close
			}
			return gnet.None
		}
		if srv.draining.Load() {
			return gnet.None
		}
		if cs.inflight >= srv.opts.MaxInFlight {
			cs.paused = true
			if cs.c.InboundBuffered() > 2*srv.opts.MaxFrameBytes {
				srv.logger.Warn("closing connection: inbound buffer over limit while paused", "remote", cs.remote, "buffered", cs.c.InboundBuffered())
				return gnet.Close
			}
			return gnet.None
		}
		prefix, err := cs.c.Peek(4)
		if err != nil || len(prefix) < 4 {
			return gnet.None
		}
		size, err := wire.FrameSize(prefix, int32(srv.opts.MaxFrameBytes))
		if err != nil {
			srv.logger.Warn("closing connection: bad frame size", "remote", cs.remote, "err", err)
			return cs.refuse()
		}
		if cs.c.InboundBuffered() < 4+size {
			return gnet.None
		}
		if _, err := cs.c.Discard(4); err != nil {
			return gnet.Close
		}
		// The frame is copied out of gnet's buffer: it outlives this callback
		// (record batches in it go into the log cache).
		frame := make([]byte, size)
		if n, err := cs.c.Read(frame); err != nil || n != size {
			return gnet.Close
		}
		srv.metrics.bytesIn.Add(float64(size + 4))
		if action := cs.dispatch(frame); action != gnet.None {
			return action
		}
	}
}

func (cs *connState) dispatch(frame []byte) gnet.Action {
	srv := cs.loop.server
	h, body, err := wire.ParseRequestHeader(frame)
	if err != nil {
		if errors.Is(err, wire.ErrUnsupportedVersion) && h.Key == kmsg.ApiVersions.Int16() {
			// Kafka answers a too-new ApiVersions at v0 with UNSUPPORTED_VERSION
			// and its key table, so the client can pick a version it knows.
			resp := wire.UnsupportedVersionResponse()
			h.Version = 0 // Respond encodes at the request's version
			r := cs.newRequest(h, nil, time.Now())
			r.Respond(resp)
			return gnet.None
		}
		srv.logger.Warn("closing connection: bad request header", "remote", cs.remote, "api_key", h.Key, "api_version", h.Version, "err", err)
		return cs.refuse()
	}
	req, err := wire.DecodeRequest(h, body)
	if err != nil {
		srv.logger.Warn("closing connection: undecodable request", "remote", cs.remote, "api_key", h.Key, "api_version", h.Version, "err", err)
		return cs.refuse()
	}
	r := cs.newRequest(h, req, time.Now())
	srv.handler.Serve(r)
	return gnet.None
}

func (cs *connState) newRequest(h wire.RequestHeader, body kmsg.Request, now time.Time) *Request {
	srv := cs.loop.server
	if cs.inflight == len(cs.slots) {
		cs.grow()
	}
	r := &Request{Header: h, Body: body, Received: now, Remote: cs.remote, conn: cs, seq: cs.nextSeq}
	s := &cs.slots[cs.nextSeq%uint64(len(cs.slots))]
	s.state = slotWaiting
	s.key = h.Key
	s.deadline = now.Add(srv.deadlineFor(body)).UnixNano()
	cs.nextSeq++
	cs.inflight++
	srv.inflight.Add(1)
	return r
}

// initialSlots is the reorder ring's size for a new connection. It doubles
// on demand up to Options.MaxInFlight: most connections never pipeline, and
// a full-size ring for each of tens of thousands of idle connections would
// cost more than the rest of the connection's state.
const initialSlots = 2

// grow doubles the reorder ring, keeping every in-flight slot at its
// sequence number's place in the new ring.
func (cs *connState) grow() {
	old := cs.slots
	next := make([]slot, min(2*len(old), cs.loop.server.opts.MaxInFlight))
	for seq := cs.writeSeq; seq < cs.nextSeq; seq++ {
		next[seq%uint64(len(next))] = old[seq%uint64(len(old))]
	}
	cs.slots = next
}
