package netloop

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type completionKind uint8

const (
	completionResponse completionKind = iota
	completionSkip
	completionClose
	// completionFail closes after a request already skipped (Request.Fail):
	// its slot was released by the skip, so it holds none.
	completionFail
)

// completion is a finished request travelling from a handler's goroutine to
// the connection's loop.
type completion struct {
	conn *connState
	seq  uint64
	kind completionKind
	data []byte   // the response frame, or
	vec  [][]byte // the response frame in parts (RespondFrame)
	// written is called once vec is no longer referenced (RespondFrame).
	written func()
	// queued is when the response was queued (unix nanos), for
	// floe_response_wait_seconds.
	queued int64
}

// dropped lets go of a completion that will not be written.
func (c *completion) dropped() {
	if c.written != nil {
		c.written()
		c.written = nil
	}
}

// loopState is floe's per-event-loop state. conns is loop-owned; queue and
// scheduled are guarded by mu and are the only things other goroutines touch.
type loopState struct {
	server *Server
	el     gnet.EventLoop
	conns  map[*connState]struct{} // loop-owned

	mu        sync.Mutex
	queue     []completion // guarded by mu
	scheduled bool         // guarded by mu: a drain task is queued on the loop

	spare      []completion // loop-owned: the previous queue, reused
	touched    []*connState // loop-owned scratch
	backlogged []*connState // loop-owned: parked connections with bytes left to write
	resumed    []*connState // loop-owned scratch
	writev     [][]byte     // loop-owned scratch for one writev (at most maxIovecs parts)
}

// answersWaiting reports whether completions are queued for the loop; a
// drain task is then scheduled too (the push that found the queue empty
// scheduled it).
func (l *loopState) answersWaiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) > 0
}

// park puts a connection with a backlog on the list the next drain goes on
// with.
func (l *loopState) park(cs *connState) {
	if !cs.parked {
		cs.parked = true
		l.backlogged = append(l.backlogged, cs)
	}
}

// complete queues c for the loop. Only the push that finds the queue idle
// schedules a drain task, so a burst of completions costs one Execute (gnet
// spills tasks past 1,024 into a slower queue).
func (l *loopState) complete(c completion) {
	l.mu.Lock()
	l.queue = append(l.queue, c)
	schedule := !l.scheduled
	l.scheduled = true
	l.mu.Unlock()
	if !schedule {
		return
	}
	if err := l.el.Execute(context.Background(), gnet.RunnableFunc(l.drain)); err != nil {
		// The engine is shutting down: the connections are going away too.
		l.mu.Lock()
		l.scheduled = false
		dropped := l.queue
		l.queue = nil
		l.mu.Unlock()
		for i := range dropped {
			dropped[i].dropped()
		}
	}
}

// drain runs on the loop goroutine.
func (l *loopState) drain(context.Context) error {
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.scheduled = false
	l.mu.Unlock()

	l.touched = l.touched[:0]
	for i := range q {
		c := &q[i]
		if c.kind == completionFail {
			if !c.conn.closed {
				c.conn.closeAfter(c.seq + 1)
				l.touched = append(l.touched, c.conn)
			}
			q[i] = completion{}
			continue
		}
		if c.conn.closed {
			l.server.inflightDone()
			c.dropped()
			q[i] = completion{}
			continue
		}
		if c.conn.accept(c) {
			l.touched = append(l.touched, c.conn)
		}
		q[i] = completion{}
	}
	for _, cs := range l.touched {
		cs.flush()
	}
	// Then the backlogs parked by an earlier drain, oldest first; one that
	// parks again goes back on the list for the drain after this one.
	l.resumed, l.backlogged = l.backlogged, l.resumed[:0]
	for _, cs := range l.resumed {
		cs.parked = false
		cs.writeBacklog()
	}
	clear(l.resumed)
	l.spare = q[:0]
	return nil
}

// checkDeadlines runs on the loop goroutine: a connection whose oldest
// unanswered request is past its deadline is closed.
func (l *loopState) checkDeadlines(context.Context) error {
	now := time.Now().UnixNano()
	for cs := range l.conns {
		if cs.overdue(now) {
			l.server.logger.Warn("closing connection: request deadline passed", "remote", cs.remote, "seq", cs.writeSeq)
			_ = cs.c.Close()
		}
	}
	return nil
}
