package netloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/floe-io/floe/wire"
)

// Options configure the network front end.
type Options struct {
	Listen          string        // host:port; port 0 picks a free port
	MaxFrameBytes   int           // largest request frame; default wire.DefaultMaxFrameBytes
	MaxInFlight     int           // requests in flight per connection; default 64
	MaxConnections  int           // default: RLIMIT_NOFILE minus a reserve
	RequestDeadline time.Duration // added to a request's own wait time (fetch max wait); default 60s
	EventLoops      int           // default GOMAXPROCS
	Logger          *slog.Logger
	Registry        prometheus.Registerer // nil: metrics are kept but not registered
}

// EnsureDefaults fills unset options.
func (o *Options) EnsureDefaults() {
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = wire.DefaultMaxFrameBytes
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.RequestDeadline <= 0 {
		o.RequestDeadline = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = defaultMaxConnections()
	}
}

// Server runs the gnet engine.
type Server struct {
	gnet.BuiltinEventEngine

	opts    Options
	handler Handler
	logger  *slog.Logger
	metrics *metrics

	draining    atomic.Bool
	inflight    atomic.Int64 // requests read and not yet answered or dropped
	unwritten   atomic.Int64 // bytes of answers in connection backlogs
	connections atomic.Int64

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopState // guarded by loopsMu; grows only in OnOpen

	boot    chan struct{}
	addr    net.Addr
	engine  gnet.Engine
	runErr  chan error
	stopped atomic.Bool
}

// New makes a server; Start runs it.
func New(opts Options, h Handler) *Server {
	opts.EnsureDefaults()
	s := &Server{
		opts:    opts,
		handler: h,
		logger:  opts.Logger,
		loops:   make(map[gnet.EventLoop]*loopState),
		boot:    make(chan struct{}),
		runErr:  make(chan error, 1),
	}
	s.metrics = newMetrics(opts.Registry, func() float64 { return float64(s.inflight.Load()) })
	return s
}

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit, so the
// connection cap can sit well above the usual 1,024.
func RaiseFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("netloop: getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("netloop: setrlimit: %w", err)
		}
	}
	return rl.Cur, nil
}

func defaultMaxConnections() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 900
	}
	// Keep a reserve for the WAL, object files, the admin listener and
	// outgoing connections: an accept failing with EMFILE stops gnet.
	reserve := uint64(256)
	if rl.Cur/8 > reserve {
		reserve = rl.Cur / 8
	}
	if rl.Cur <= reserve+64 {
		return 64
	}
	return int(rl.Cur - reserve)
}

// Start runs the engine on its own goroutine and returns once it listens.
func (s *Server) Start(ctx context.Context) error {
	loops := s.opts.EventLoops
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.logger}),
	}
	if loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(loops))
	}
	go func() {
		s.runErr <- gnet.Run(s, "tcp://"+s.opts.Listen, opts...)
	}()
	select {
	case <-s.boot:
		return nil
	case err := <-s.runErr:
		if err == nil {
			err = errors.New("netloop: engine stopped before boot")
		}
		return fmt.Errorf("netloop: listen %s: %w", s.opts.Listen, err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addr is the address the server listens on (valid after Start).
func (s *Server) Addr() net.Addr { return s.addr }

// Connections is the number of open connections.
func (s *Server) Connections() int64 { return s.connections.Load() }

// InFlight is the number of requests read and not yet answered.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

// Drain stops taking new connections and new requests and waits until every
// in-flight request is answered or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 || s.unwritten.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("netloop: drain: %d requests still in flight, %d bytes of answers unwritten: %w", s.inflight.Load(), s.unwritten.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Stop closes every connection and the listener.
func (s *Server) Stop(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.engine.Stop(ctx); err != nil {
		return fmt.Errorf("netloop: stop: %w", err)
	}
	select {
	case <-s.runErr:
	case <-ctx.Done():
	}
	return nil
}

func (s *Server) inflightDone() { s.inflight.Add(-1) }

func (s *Server) deadlineFor(req kmsg.Request) time.Duration {
	d := s.opts.RequestDeadline
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		d += time.Duration(r.MaxWaitMillis) * time.Millisecond
	case *kmsg.ProduceRequest:
		d += time.Duration(r.TimeoutMillis) * time.Millisecond
	case *kmsg.JoinGroupRequest:
		// A join waits for the rebalance, up to the rebalance timeout.
		d += time.Duration(max(r.RebalanceTimeoutMillis, r.SessionTimeoutMillis)) * time.Millisecond
	case *kmsg.SyncGroupRequest:
		// A follower's sync waits for the leader's assignment; the request
		// carries no timeout, so allow the largest rebalance timeout a
		// client uses by default (Java's max.poll.interval.ms).
		d += 5 * time.Minute
	}
	return d
}

// OnBoot records the bound address (the listener may be on port 0).
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.engine = eng
	fd, err := eng.Dup()
	if err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			if in4, ok := sa.(*unix.SockaddrInet4); ok {
				s.addr = &net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port}
			} else if in6, ok := sa.(*unix.SockaddrInet6); ok {
				s.addr = &net.TCPAddr{IP: net.IP(in6.Addr[:]), Port: in6.Port}
			}
		}
		_ = unix.Close(fd)
	}
	close(s.boot)
	return gnet.None
}

func (s *Server) loopFor(el gnet.EventLoop) *loopState {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = &loopState{server: s, el: el, conns: make(map[*connState]struct{})}
		s.loops[el] = l
	}
	return l
}

// OnOpen admits a connection unless the server drains or is at its cap.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	if s.connections.Load() >= int64(s.opts.MaxConnections) {
		s.metrics.connectionsRejected.Inc()
		return nil, gnet.Close
	}
	s.connections.Add(1)
	s.metrics.connections.Inc()
	l := s.loopFor(c.EventLoop())
	cs := &connState{c: c, loop: l, slots: make([]slot, min(initialSlots, s.opts.MaxInFlight))}
	if ra := c.RemoteAddr(); ra != nil {
		cs.remote = ra.String()
	}
	l.conns[cs] = struct{}{}
	c.SetContext(cs)
	return nil, gnet.None
}

// OnClose marks the connection closed: completions arriving later are dropped.
func (s *Server) OnClose(c gnet.Conn, _ error) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok || cs.closed {
		return gnet.None
	}
	cs.closed = true
	cs.dropBacklog()
	delete(cs.loop.conns, cs)
	for i := range cs.slots {
		// Answers that arrived but waited behind an unanswered one.
		if cs.slots[i].state == slotReady {
			s.inflightDone()
			if fn := cs.slots[i].written; fn != nil {
				fn()
			}
		}
		cs.slots[i] = slot{}
	}
	s.connections.Add(-1)
	s.metrics.connections.Dec()
	return gnet.None
}

// OnTraffic decodes the frames that arrived.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok || cs.closed {
		return gnet.Close
	}
	return cs.readFrames()
}

// OnTick asks every loop to check its connections' request deadlines.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.loopsMu.Lock()
	for _, l := range s.loops {
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(l.checkDeadlines))
	}
	s.loopsMu.Unlock()
	return 500 * time.Millisecond, gnet.None
}

// gnetLogger routes gnet's logging into slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }

// SetHandler sets the handler before Start (it may be built after New, since
// it needs the bound address).
func (s *Server) SetHandler(h Handler) { s.handler = h }
