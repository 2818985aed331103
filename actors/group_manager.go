package actors

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/persistence/meta"
)

// Messages between the manager and the coordinators.
type (
	// groupRetiredMsg: a coordinator's group no longer exists.
	groupRetiredMsg struct {
		name string
		pid  *actor.PID
	}
	// groupReleaseMsg: the manager will send the coordinator nothing more;
	// it stops (answering anything it still holds).
	groupReleaseMsg     struct{}
	groupManagerTickMsg struct{}
	groupLoadRetryMsg   struct{}
	// groupRetentionTickMsg asks a coordinator to expire offsets.
	groupRetentionTickMsg struct{}
	// injectGroupPanicMsg makes a group's coordinator panic (fault tests).
	injectGroupPanicMsg struct{ name string }
)

// InjectGroupPanic makes the coordinator of group panic, for fault tests:
// supervision restarts it, it reloads its group from the metadata store,
// and its members rejoin.
func (b *Broker) InjectGroupPanic(group string) {
	b.send(b.groups.manager, injectGroupPanicMsg{name: group})
}

// groupLoadRetryInterval spaces attempts to load the stored groups after a
// metadata store error; requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS.
const groupLoadRetryInterval = time.Second

// groupHandle is the manager's entry for one group.
type groupHandle struct {
	name string
	pid  *actor.PID // nil until a coordinator is spawned
	// stored is the group as loaded at start, until it is handed to its
	// coordinator.
	stored *meta.StoredGroup
	// summary is published by the coordinator for ListGroups.
	summary atomic.Pointer[groupSummary]
}

// groupSummary is what ListGroups shows of a group.
type groupSummary struct {
	exists       bool
	state        string
	protocolType string
	groupType    string // "classic" or "consumer"
}

// groupStart is what a coordinator starts from: the stored group (nil for a
// new group). A coordinator restarted after a panic finds none and reloads.
type groupStart struct {
	stored *meta.StoredGroup
}

// groupManager routes group requests to coordinators (see group_service.go).
// It runs on the CPU pool: it never blocks.
type groupManager struct {
	b       *Broker
	store   *actor.PID
	self    *actor.PID
	loaded  bool
	groups  map[string]*groupHandle
	spawned uint64 // coordinators spawned, for unique actor names
}

func (b *Broker) groupManagerProducer(store *actor.PID) actor.Producer {
	return func() actor.Actor {
		return &groupManager{b: b, store: store, groups: make(map[string]*groupHandle)}
	}
}

func (m *groupManager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.self = ctx.Self()
		m.b.send(m.store, &loadGroupsMsg{replyTo: m.self})
		m.after(m.b.cfg.Groups.RetentionCheckInterval, groupManagerTickMsg{})
	case *actor.Restarting:
		// The handle table is lost with this instance: stop every
		// coordinator, the next instance reloads the groups from the store.
		for _, h := range m.groups {
			if h.pid != nil {
				m.b.send(h.pid, groupReleaseMsg{})
			}
		}
	case *groupsLoadedMsg:
		m.loadedGroups(msg)
	case groupLoadRetryMsg:
		m.b.send(m.store, &loadGroupsMsg{replyTo: m.self})
	case *groupCall:
		m.serve(msg)
	case groupMessage:
		m.route(msg)
	case *groupRetiredMsg:
		if h := m.groups[msg.name]; h != nil && h.pid != nil && h.pid.Equal(msg.pid) {
			delete(m.groups, msg.name)
		}
		m.b.send(msg.pid, groupReleaseMsg{})
	case injectGroupPanicMsg:
		if h := m.groups[msg.name]; h != nil && h.pid != nil {
			m.b.send(h.pid, panicMsg{})
		}
	case groupManagerTickMsg:
		m.retentionTick()
		m.after(m.b.cfg.Groups.RetentionCheckInterval, groupManagerTickMsg{})
	}
}

func (m *groupManager) after(d time.Duration, msg any) {
	b, self := m.b, m.self
	time.AfterFunc(d, func() { b.send(self, msg) })
}

func (m *groupManager) loadedGroups(msg *groupsLoadedMsg) {
	if m.loaded {
		return
	}
	if msg.err != nil {
		m.b.log.Error("loading consumer groups failed; retrying", "err", msg.err)
		m.after(groupLoadRetryInterval, groupLoadRetryMsg{})
		return
	}
	for i := range msg.groups {
		g := &msg.groups[i]
		m.groups[g.Info.Name] = &groupHandle{name: g.Info.Name, stored: g}
	}
	m.loaded = true
	m.b.log.Info("consumer groups loaded", "groups", len(msg.groups))
}

// serve takes a request from Serve: refused while loading, answered here
// (ListGroups), split by group, or routed whole.
func (m *groupManager) serve(call *groupCall) {
	if !m.loaded {
		call.r.Respond(groupErrorResponse(call.req, kerr.CoordinatorLoadInProgress.Code))
		return
	}
	switch req := call.req.(type) {
	case *kmsg.ListGroupsRequest:
		m.listGroups(call, req)
	case *kmsg.DescribeGroupsRequest:
		m.describeGroups(call, req)
	case *kmsg.DeleteGroupsRequest:
		m.deleteGroups(call, req)
	case *kmsg.OffsetFetchRequest:
		m.offsetFetch(call, req)
	case *kmsg.ConsumerGroupDescribeRequest:
		m.consumerGroupDescribe(call, req)
	default:
		m.route(call)
	}
}

// route sends msg to its group's coordinator, spawning it if needed, or
// answers it as for a missing group.
func (m *groupManager) route(msg groupMessage) {
	name := msg.groupName()
	h := m.groups[name]
	if h == nil {
		if !msg.createsGroup() {
			msg.answerAbsent(m.b)
			return
		}
		h = &groupHandle{name: name}
		m.groups[name] = h
	}
	if h.pid == nil {
		if err := m.spawn(h); err != nil {
			m.b.log.Error("spawning a group coordinator failed", "group", name, "err", err)
			if h.stored == nil {
				delete(m.groups, name)
			}
			msg.answerError(kerr.CoordinatorNotAvailable.Code)
			return
		}
	}
	m.b.send(h.pid, msg)
}

func (m *groupManager) spawn(h *groupHandle) error {
	start := &groupStart{stored: h.stored}
	summary := &groupSummary{groupType: groupTypeClassic, state: stateEmpty.String()}
	if h.stored != nil {
		summary.exists = true
		summary.protocolType = h.stored.Info.ProtocolType
		if h.stored.Info.Type == groupTypeConsumer {
			summary.groupType = groupTypeConsumer
		}
	}
	h.summary.Store(summary)
	m.spawned++
	pid, err := m.b.deps.Actors.Spawn(poolGroups, fmt.Sprintf("group/%d", m.spawned), true, m.b.groupCoordinatorProducer(h, m.self, m.store, start))
	if err != nil {
		return err
	}
	h.pid, h.stored = pid, nil
	return nil
}

// retentionTick asks every coordinator to expire offsets, and spawns one
// for a stored group that has something to expire.
func (m *groupManager) retentionTick() {
	if !m.loaded {
		return
	}
	now := time.Now()
	for _, h := range m.groups {
		if h.pid == nil {
			if h.stored == nil || !storedGroupExpires(h.stored, now, m.b.cfg.Groups.OffsetsRetention) {
				continue
			}
			if err := m.spawn(h); err != nil {
				m.b.log.Error("spawning a group coordinator for expiry failed", "group", h.name, "err", err)
				continue
			}
		}
		m.b.send(h.pid, groupRetentionTickMsg{})
	}
}

// storedGroupExpires reports whether a group nobody has used since the
// start has an offset to expire, or nothing left at all.
func storedGroupExpires(g *meta.StoredGroup, now time.Time, retention time.Duration) bool {
	if len(g.Offsets) == 0 {
		return true
	}
	for _, o := range g.Offsets {
		if offsetExpired(o, g.Info.EmptySince, now, retention) {
			return true
		}
	}
	return false
}

// offsetExpired is KIP-211's rule for an empty group: an offset expires
// retention after its commit or after the group became empty, whichever is
// later.
func offsetExpired(o meta.CommittedOffset, emptySince, now time.Time, retention time.Duration) bool {
	base := o.CommitTime
	if emptySince.After(base) {
		base = emptySince
	}
	return now.Sub(base) >= retention
}
