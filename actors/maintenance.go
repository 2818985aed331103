package actors

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floe-io/floe/persistence/meta"
)

// Messages the maintenance actor handles.
type (
	// persistLogStartMsg makes a partition's new log start offset durable.
	persistLogStartMsg struct {
		stream uint64
		offset int64
		done   func(error) // may be nil
	}
	maintenanceTickMsg struct{}
	// forgetProducersMsg deletes the stored state of producers a partition
	// expired (producer id → the last offset it knew of them).
	forgetProducersMsg struct {
		stream      uint64
		lastOffsets map[int64]int64
	}
)

// maintenanceTimeout bounds one object deletion.
const maintenanceTimeout = time.Minute

// maintenance applies retention: it asks every partition to expire old
// object ranges, persists the log start offsets they move, and deletes the
// objects whose data all lies below the log start offsets (or belongs to
// deleted topics) once no read holds them. It runs on its own goroutine: it
// writes the metadata store and deletes from the object store.
type maintenance struct {
	b    *Broker
	self *actor.PID
}

func (b *Broker) maintenanceProducer() actor.Producer {
	return func() actor.Actor { return &maintenance{b: b} }
}

func (m *maintenance) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.self = ctx.Self()
		m.arm()
	case *persistLogStartMsg:
		err := m.b.deps.Meta.SetLogStartOffset(msg.stream, msg.offset)
		if err != nil {
			m.b.log.Error("persisting log start offset", "stream", msg.stream, "offset", msg.offset, "err", err)
		}
		if msg.done != nil {
			msg.done(err)
		}
	case *forgetProducersMsg:
		if err := m.b.deps.Meta.ForgetProducers(msg.stream, msg.lastOffsets); err != nil {
			// Kept in the store: reloaded at the next start, they expire
			// again a period later.
			m.b.log.Warn("forgetting expired producers", "stream", msg.stream, "producers", len(msg.lastOffsets), "err", err)
			return
		}
		m.b.metrics.producersExpired.Add(float64(len(msg.lastOffsets)))
	case maintenanceTickMsg:
		m.retention()
		m.expireProducers()
		if err := m.deleteExpiredObjects(); err != nil {
			m.b.log.Warn("deleting expired objects", "err", err)
		}
		m.arm()
	}
}

func (m *maintenance) arm() {
	self, b := m.self, m.b
	time.AfterFunc(b.cfg.RetentionCheckInterval, func() { b.send(self, maintenanceTickMsg{}) })
}

// retention sends every partition its topic's retention settings.
func (m *maintenance) retention() {
	now := time.Now().UnixMilli()
	for _, t := range m.b.reg.load().byName {
		msg := &retentionMsg{nowMillis: now, retentionMs: t.configs.retentionMillis, retentionBytes: t.configs.retentionBytes}
		if msg.retentionMs < 0 && msg.retentionBytes < 0 {
			continue
		}
		for _, p := range t.partitions {
			m.b.send(p.pid, msg)
		}
	}
}

// expireProducers asks every partition to forget its idle producers.
func (m *maintenance) expireProducers() {
	msg := &expireProducersMsg{nowMillis: time.Now().UnixMilli(), expiration: m.b.cfg.ProducerIDExpiration}
	for _, t := range m.b.reg.load().byName {
		for _, p := range t.partitions {
			m.b.send(p.pid, msg)
		}
	}
}

// deleteExpiredObjects deletes objects none of whose entries is still
// needed, judged by the durable log start offsets and deleted streams. The
// index entry goes first, then the object: the reverse would leave readers
// an entry pointing at nothing.
func (m *maintenance) deleteExpiredObjects() error {
	d := m.b.deps
	objects, err := d.Meta.Objects()
	if err != nil {
		return err
	}
	starts, err := d.Meta.LogStartOffsets()
	if err != nil {
		return err
	}
	deleted, err := d.Meta.DeletedStreams()
	if err != nil {
		return err
	}
	for _, o := range objects {
		if !objectExpired(o, starts, deleted) || m.b.refs.inUse(o.Key) {
			continue
		}
		if err := d.Meta.DeleteObjects([]uint64{o.ID}); err != nil {
			return err
		}
		if err := m.b.deleteObject(o.Key); err != nil {
			// Unreferenced now; the start-up sweep removes it if this
			// keeps failing.
			m.b.log.Warn("deleting expired object", "key", o.Key, "err", err)
		}
	}
	return nil
}

// deleteObject deletes an object no index entry and no read refers to any
// more (retention and compaction both end here), within maintenanceTimeout,
// and counts it.
func (b *Broker) deleteObject(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), maintenanceTimeout)
	defer cancel()
	if err := b.deletes.Wait(ctx); err != nil {
		return err
	}
	if err := b.deps.Store.Delete(ctx, key); err != nil {
		return err
	}
	b.metrics.objectsDeleted.Inc()
	b.log.Debug("deleted object", "key", key)
	return nil
}

func objectExpired(o meta.Object, starts map[uint64]int64, deleted map[uint64]bool) bool {
	for _, e := range o.Entries {
		if !deleted[e.Stream] && e.EndOffset > starts[e.Stream] {
			return false
		}
	}
	return true
}

// sweepOrphans deletes objects in the store that the metadata store does
// not know: uploads or compactions that crashed between their put and their
// commit, or deletions that failed. It runs at start-up before anything
// uploads, so no object it sees can be an upload in progress.
func (b *Broker) sweepOrphans(ctx context.Context) error {
	objects, err := b.deps.Meta.Objects()
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(objects))
	for _, o := range objects {
		known[o.Key] = true
	}
	keys, err := b.deps.Store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("actors: list objects: %w", err)
	}
	var orphans []string
	for _, k := range keys {
		if strings.Contains(k, "/obj/") && !known[k] {
			orphans = append(orphans, k)
		}
	}
	sort.Strings(orphans)
	for _, k := range orphans {
		if err := b.deps.Store.Delete(ctx, k); err != nil {
			return fmt.Errorf("actors: delete orphan %s: %w", k, err)
		}
	}
	if len(orphans) > 0 {
		b.log.Info("deleted orphaned objects", "count", len(orphans))
	}
	return nil
}
