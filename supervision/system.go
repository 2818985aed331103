package supervision

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
)

// System is the actor system with one guardian per pool.
type System struct {
	Actors *actor.ActorSystem
	CPU    *PoolDispatcher // the dispatcher for CPU-bound actors

	logger *slog.Logger

	mu        sync.Mutex
	guardians map[string]*actor.RootContext      // guarded by mu: one per pool, made on first use
	niced     []*PoolDispatcher                  // guarded by mu: stopped by Shutdown
	live      map[string]map[*actor.PID]struct{} // guarded by mu: live actors by pool

	restarts    sync.Map // actor kind → *atomic.Int64
	deadLetters atomic.Int64
	stats       *statsTable
}

// New builds the actor system. protoactor's own logging goes to slog at Warn.
func New(logger *slog.Logger) *System {
	quiet := slog.New(logger.Handler()).With("component", "protoactor")
	cfg := actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quietLogger(quiet) }),
		actor.WithDeadLetterThrottleCount(3),
		actor.WithDeadLetterThrottleInterval(time.Second),
	)
	as := actor.NewActorSystemWithConfig(cfg)
	s := &System{
		Actors:    as,
		CPU:       NewPoolDispatcher(runtime.GOMAXPROCS(0), 300),
		logger:    logger,
		guardians: make(map[string]*actor.RootContext),
		stats:     newStatsTable(),
		live:      make(map[string]map[*actor.PID]struct{}),
	}
	as.EventStream.Subscribe(s.onEvent)
	return s
}

func (s *System) decide(reason any) actor.Directive {
	s.logger.Error("actor failed; restarting it", "reason", reason)
	return actor.RestartDirective
}

func (s *System) onEvent(evt any) {
	switch e := evt.(type) {
	case *actor.SupervisorEvent:
		if e.Directive == actor.RestartDirective && e.Child != nil {
			s.counter(KindOf(e.Child.Id)).Add(1)
			if st := s.stats.get(e.Child.Id); st != nil {
				st.restarts.Add(1)
			}
		}
	case *actor.DeadLetterEvent:
		s.deadLetters.Add(1)
		if e.PID != nil {
			s.stats.deadLetters.WithLabelValues(KindOf(e.PID.Id)).Inc()
		}
	}
}

func (s *System) counter(kind string) *atomic.Int64 {
	if c, ok := s.restarts.Load(kind); ok {
		return c.(*atomic.Int64)
	}
	c, _ := s.restarts.LoadOrStore(kind, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Restarts is the number of restarts of actors of a kind.
func (s *System) Restarts(kind string) int64 { return s.counter(kind).Load() }

// DeadLetters is the number of messages sent to stopped actors.
func (s *System) DeadLetters() int64 { return s.deadLetters.Load() }

// KindOf is an actor's kind: its name up to the first '/' or '-'.
func KindOf(id string) string {
	if i := strings.IndexAny(id, "/-"); i > 0 {
		return id[:i]
	}
	return id
}

// Spawn starts an actor named name under pool's guardian. CPU-bound actors
// get the pool dispatcher, the rest the default one (a goroutine per
// activation, so blocking work blocks nobody else).
func (s *System) Spawn(pool, name string, cpuBound bool, producer actor.Producer) (*actor.PID, error) {
	var d actor.Dispatcher
	if cpuBound {
		d = s.CPU
	}
	return s.SpawnOn(pool, name, d, producer)
}

// SpawnOn starts an actor named name under pool's guardian, its activations
// run by d (nil: protoactor's default, a goroutine per activation).
func (s *System) SpawnOn(pool, name string, d actor.Dispatcher, producer actor.Producer) (*actor.PID, error) {
	mailbox, _ := s.stats.mailboxFor(name, pool)
	opts := []actor.PropsOption{actor.WithMailbox(mailbox)}
	if d != nil {
		opts = append(opts, actor.WithDispatcher(d))
	}
	pid, err := s.guardian(pool).SpawnNamed(actor.PropsFromProducer(producer, opts...), name)
	if err != nil {
		s.stats.remove(name)
		return nil, err
	}
	s.mu.Lock()
	if s.live[pool] == nil {
		s.live[pool] = make(map[*actor.PID]struct{})
	}
	s.live[pool][pid] = struct{}{}
	s.mu.Unlock()
	return pid, nil
}

// guardian returns the supervisor of a pool. Every pool restarts its actors
// without a limit: a bug hit by one message must not leave a partition (or
// the WAL, or the uploader) unserved for good, and each actor restarts from
// its durable state. Restart counts are metrics, so a storm shows there.
func (s *System) guardian(pool string) *actor.RootContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guardians[pool]
	if g == nil {
		g = s.Actors.Root.WithGuardian(actor.NewOneForOneStrategy(1<<30, time.Second, s.decide))
		s.guardians[pool] = g
	}
	return g
}

// Send delivers msg to pid from outside any actor (never blocks).
func (s *System) Send(pid *actor.PID, msg any) { s.Actors.Root.Send(pid, msg) }

// Stop stops an actor and waits (protoactor bounds the wait at 10 s) until it
// has processed its Stopping message. Never call it on an event loop.
func (s *System) Stop(pid *actor.PID) {
	_ = s.Actors.Root.StopFuture(pid).Wait()
	s.forget(pid)
}

func (s *System) forget(pid *actor.PID) {
	s.mu.Lock()
	for _, pids := range s.live {
		delete(pids, pid)
	}
	s.mu.Unlock()
	s.stats.remove(pid.Id)
}

// StopAll stops every live actor, pool by pool in the given order (the
// pools not named go last), each pool's actors together, and waits for
// each to finish the message it is handling. After it returns no actor
// touches storage, so the WALs and the metadata store can be closed.
func (s *System) StopAll(order ...string) {
	s.mu.Lock()
	var pools []string
	pools = append(pools, order...)
	for pool := range s.live {
		if !slices.Contains(order, pool) {
			pools = append(pools, pool)
		}
	}
	s.mu.Unlock()
	for _, pool := range pools {
		s.mu.Lock()
		var futures []*actor.Future
		var pids []*actor.PID
		for pid := range s.live[pool] {
			futures = append(futures, s.Actors.Root.StopFuture(pid))
			pids = append(pids, pid)
		}
		s.mu.Unlock()
		for i, f := range futures {
			_ = f.Wait()
			s.forget(pids[i])
		}
	}
}

// Collector exports the actor metrics; register it on the node's registry.
func (s *System) Collector() prometheus.Collector { return s.stats }

// ActorStats lists every live actor's stats, sorted by name.
func (s *System) ActorStats() []*ActorStats { return s.stats.all() }

// Sample updates the actors' message rates; call it once per interval.
func (s *System) Sample(interval time.Duration) { s.stats.sample(interval) }

// NicedDispatcher starts a NewNicedDispatcher that Shutdown stops.
func (s *System) NicedDispatcher(workers, nice int) (*PoolDispatcher, error) {
	d, err := NewNicedDispatcher(workers, nice)
	s.mu.Lock()
	s.niced = append(s.niced, d)
	s.mu.Unlock()
	return d, err
}

// Shutdown stops the actor system and its dispatchers.
func (s *System) Shutdown() {
	s.Actors.Shutdown()
	s.CPU.Stop()
	s.mu.Lock()
	niced := s.niced
	s.niced = nil
	s.mu.Unlock()
	for _, d := range niced {
		d.Stop()
	}
}

func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFloor{h: l.Handler(), min: slog.LevelWarn})
}

type levelFloor struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFloor) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h: f.h.WithAttrs(a), min: f.min}
}
func (f levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h: f.h.WithGroup(n), min: f.min}
}
