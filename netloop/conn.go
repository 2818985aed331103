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
	out      [][]byte // responses ready to write in this drain
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
		s.state = slotFree
		cs.loop.server.inflightDone()
		_ = cs.c.Close()
		return false
	}
	s.state = slotReady
	s.data, s.vec, s.queued = c.data, c.vec, c.queued
	return true
}

// maxIovecs is Linux's limit on the parts of one writev (UIO_MAXIOV).
const maxIovecs = 1024

// flush writes every response whose predecessors are written, then resumes
// reading if the connection was paused at its in-flight limit.
func (cs *connState) flush() {
	if cs.closed {
		return
	}
	cs.out = cs.out[:0]
	n := uint64(len(cs.slots))
	var now int64
	for cs.inflight > 0 {
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
			cs.out = append(cs.out, s.data)
		}
		cs.out = append(cs.out, s.vec...)
		*s = slot{}
		cs.writeSeq++
		cs.inflight--
		cs.loop.server.inflightDone()
	}
	// gnet hands the whole vector to one writev, which takes at most
	// maxIovecs parts; a longer one is written in turns (once one turn is
	// short, gnet queues the rest in order behind it).
	for out := cs.out; len(out) > 0; {
		n := min(len(out), maxIovecs)
		if _, err := cs.c.Writev(out[:n]); err != nil {
			cs.loop.server.logger.Debug("write failed", "remote", cs.remote, "err", err)
			break
		}
		out = out[n:]
	}
	if len(cs.out) > 0 {
		for i := range cs.out {
			cs.out[i] = nil
		}
	}
	if cs.paused && cs.inflight < cs.loop.server.opts.MaxInFlight {
		cs.paused = false
		if cs.readFrames() == gnet.Close {
			_ = cs.c.Close()
		}
	}
}

// readFrames decodes and dispatches every complete frame in the inbound buffer
// until the in-flight limit. It runs on the loop goroutine.
func (cs *connState) readFrames() gnet.Action {
	srv := cs.loop.server
	for {
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
			return gnet.Close
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
		return gnet.Close
	}
	req, err := wire.DecodeRequest(h, body)
	if err != nil {
		srv.logger.Warn("closing connection: undecodable request", "remote", cs.remote, "api_key", h.Key, "api_version", h.Version, "err", err)
		return gnet.Close
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
