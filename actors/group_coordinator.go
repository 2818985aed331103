package actors

import (
	"errors"
	"sort"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/persistence/meta"
)

// Group types, as ListGroups v5 and ConsumerGroupDescribe name them.
const (
	groupTypeClassic  = "classic"
	groupTypeConsumer = "consumer"
)

// groupState is a group's state. Classic groups use the first four, KIP-848
// consumer groups Empty, Assigning, Reconciling and Stable.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateAssigning
	stateReconciling
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	case stateAssigning:
		return "Assigning"
	case stateReconciling:
		return "Reconciling"
	}
	return "Unknown"
}

// coordinatorPhase is where a coordinator is in its own life.
type coordinatorPhase int8

const (
	phaseLoading  coordinatorPhase = iota // restarted: waiting for its group from the store
	phaseServing                          // normal
	phaseRetiring                         // deleting its group: requests wait
	phaseRetired                          // group gone: requests go back to the manager
)

// pendingGroupWrite is a write sent to the group store; done runs on the
// coordinator when the store answers.
type pendingGroupWrite struct {
	done func(err error)
}

// errCoordinatorRestarting fails the writes of a coordinator that panicked.
var errCoordinatorRestarting = errors.New("actors: group coordinator restarting")

// groupCoordinator owns one group (see group_service.go). The classic
// protocol's state is in classic (group_classic.go), KIP-848's in consumer
// (group_consumer.go); offsets are shared by both.
type groupCoordinator struct {
	b       *Broker
	cfg     *GroupConfig
	name    string
	handle  *groupHandle
	manager *actor.PID
	store   *actor.PID
	self    *actor.PID
	start   *groupStart

	phase coordinatorPhase
	stash []groupMessage // requests held while loading or retiring

	info      meta.GroupInfo
	persisted bool // the store has (or is writing) the group's record
	offsets   map[meta.TopicPartition]meta.CommittedOffset
	writes    map[*pendingGroupWrite]struct{}

	classic  classicGroup
	consumer consumerGroup

	published groupSummary
}

func (b *Broker) groupCoordinatorProducer(h *groupHandle, manager, store *actor.PID, start *groupStart) actor.Producer {
	var handover atomic.Pointer[groupStart]
	handover.Store(start)
	return func() actor.Actor {
		return &groupCoordinator{
			b: b, cfg: &b.cfg.Groups, name: h.name, handle: h, manager: manager, store: store,
			start: handover.Swap(nil),
		}
	}
}

func (c *groupCoordinator) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.started(ctx)
	case *actor.Restarting:
		c.failEverything(kerr.CoordinatorNotAvailable.Code, errCoordinatorRestarting)
	case *actor.Stopping:
		c.classic.stopTimers()
		c.consumer.stopTimers()
	case *groupLoadedMsg:
		c.loaded(m)
	case *groupWrittenMsg:
		c.written(m)
	case groupMessage:
		c.receiveRequest(m)
	case groupReleaseMsg:
		c.failEverything(kerr.CoordinatorNotAvailable.Code, errCoordinatorRestarting)
		ctx.Stop(c.self)
		return
	case groupRetentionTickMsg:
		if c.phase == phaseServing {
			c.expire()
		}
	case panicMsg:
		panic("actors: group coordinator: injected panic")
	default:
		if c.phase == phaseServing {
			c.timer(m)
		}
	}
	c.publish()
}

func (c *groupCoordinator) started(ctx actor.Context) {
	c.self = ctx.Self()
	c.writes = make(map[*pendingGroupWrite]struct{})
	c.offsets = make(map[meta.TopicPartition]meta.CommittedOffset)
	c.classic.init()
	c.consumer.init()
	if c.start == nil {
		// Restarted after a panic: the group's durable state is in the
		// store, behind any write this coordinator sent before.
		c.phase = phaseLoading
		c.b.send(c.store, &loadGroupMsg{name: c.name, replyTo: c.self})
		return
	}
	c.adopt(c.start.stored)
	c.start = nil
	c.phase = phaseServing
}

func (c *groupCoordinator) loaded(m *groupLoadedMsg) {
	if c.phase != phaseLoading {
		return
	}
	if m.err != nil {
		c.b.log.Error("reloading a consumer group failed; retrying", "group", c.name, "err", m.err)
		self, b, store, name := c.self, c.b, c.store, c.name
		time.AfterFunc(groupLoadRetryInterval, func() { b.send(store, &loadGroupMsg{name: name, replyTo: self}) })
		return
	}
	var stored *meta.StoredGroup
	if m.found {
		stored = &m.group
	}
	c.adopt(stored)
	c.phase = phaseServing
	c.unstash()
}

// adopt takes the stored state: the record and the offsets. Members are
// never stored: a group starts empty and its members rejoin.
func (c *groupCoordinator) adopt(stored *meta.StoredGroup) {
	c.info = meta.GroupInfo{Name: c.name}
	if stored == nil {
		return
	}
	c.info, c.persisted = stored.Info, true
	c.info.Name = c.name
	for _, o := range stored.Offsets {
		c.offsets[meta.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o
	}
	c.classic.protocolType = stored.Info.ProtocolType
}

func (c *groupCoordinator) unstash() {
	stash := c.stash
	c.stash = nil
	for _, m := range stash {
		c.receiveRequest(m)
	}
}

// receiveRequest serves m, or holds it, or passes it back to the manager,
// depending on the phase.
func (c *groupCoordinator) receiveRequest(m groupMessage) {
	switch c.phase {
	case phaseLoading, phaseRetiring:
		c.stash = append(c.stash, m)
	case phaseRetired:
		c.b.send(c.manager, m)
	case phaseServing:
		c.serve(m)
	}
}

// serve dispatches a request or a part to its API's handler.
func (c *groupCoordinator) serve(m groupMessage) {
	switch m := m.(type) {
	case *groupCall:
		switch req := m.req.(type) {
		case *kmsg.JoinGroupRequest:
			c.joinGroup(m, req)
		case *kmsg.SyncGroupRequest:
			c.syncGroup(m, req)
		case *kmsg.HeartbeatRequest:
			c.heartbeat(m, req)
		case *kmsg.LeaveGroupRequest:
			c.leaveGroup(m, req)
		case *kmsg.OffsetCommitRequest:
			c.offsetCommit(m, req)
		case *kmsg.OffsetDeleteRequest:
			c.offsetDelete(m, req)
		case *kmsg.ConsumerGroupHeartbeatRequest:
			c.consumerGroupHeartbeat(m, req)
		default:
			m.answerError(kerr.InvalidRequest.Code)
		}
	case *describeGroupPart:
		c.describe(m)
	case *offsetFetchPart:
		c.fetchOffsets(m)
	case *deleteGroupPart:
		c.deleteGroup(m)
	case *consumerDescribePart:
		c.consumerDescribe(m)
	}
}

// write sends change to the group store; done (may be nil) runs here when
// it is durable or has failed.
func (c *groupCoordinator) write(change meta.GroupChange, done func(err error)) {
	w := &pendingGroupWrite{done: done}
	c.writes[w] = struct{}{}
	c.b.send(c.store, &groupWriteMsg{change: change, replyTo: c.self, token: w})
}

func (c *groupCoordinator) written(m *groupWrittenMsg) {
	if _, ok := c.writes[m.token]; !ok {
		return // written for an earlier instance of this coordinator
	}
	delete(c.writes, m.token)
	if m.token.done != nil {
		m.token.done(m.err)
	} else if m.err != nil {
		c.b.log.Warn("writing a consumer group's record failed", "group", c.name, "err", m.err)
	}
}

// writeInfo stores the group's record; nothing waits for it. The record
// makes the group exist after a restart (members rejoin) and carries the
// time it became empty, from which its offsets expire.
func (c *groupCoordinator) writeInfo() {
	if c.info.Created.IsZero() {
		c.info.Created = time.Now().UTC().Round(0)
	}
	info := c.info
	c.persisted = true
	c.write(meta.GroupChange{Group: c.name, Info: &info}, nil)
}

// failEverything answers every parked request and fails every pending
// write's waiter: the coordinator is about to lose its state.
func (c *groupCoordinator) failEverything(code int16, err error) {
	c.classic.failParked(code)
	c.consumer.failParked(code)
	for w := range c.writes {
		delete(c.writes, w)
		if w.done != nil {
			w.done(err)
		}
	}
	for _, m := range c.stash {
		m.answerError(code)
	}
	c.stash = nil
}

// hasMembers reports whether anyone is in (or joining) the group.
func (c *groupCoordinator) hasMembers() bool {
	return c.classic.hasMembers() || c.consumer.hasMembers()
}

// exists is whether the group exists in Kafka's sense: it has members, or
// offsets, or a stored record. A coordinator spawned by a request that then
// failed (an invalid JoinGroup) holds a group that does not exist yet.
func (c *groupCoordinator) exists() bool {
	return c.phase != phaseRetired && (c.persisted || len(c.offsets) > 0 || c.hasMembers())
}

func (c *groupCoordinator) isConsumerGroup() bool { return c.info.Type == groupTypeConsumer }

func (c *groupCoordinator) state() groupState {
	if c.isConsumerGroup() {
		return c.consumer.state
	}
	return c.classic.state
}

func (c *groupCoordinator) groupType() string {
	if c.isConsumerGroup() {
		return groupTypeConsumer
	}
	return groupTypeClassic
}

func (c *groupCoordinator) protocolType() string {
	if c.isConsumerGroup() {
		return groupTypeConsumer
	}
	return c.classic.protocolType
}

// publish makes the group's summary visible to the manager's ListGroups.
// Every received message ends with it; a change answered from inside a
// handler (a write's done callback) publishes before it answers, so that a
// client's next ListGroups sees what it was told.
func (c *groupCoordinator) publish() {
	if c.handle == nil || c.phase == phaseLoading {
		return
	}
	s := groupSummary{exists: c.exists(), state: c.state().String(), protocolType: c.protocolType(), groupType: c.groupType()}
	if s == c.published {
		return
	}
	c.published = s
	c.handle.summary.Store(&s)
}

// expire deletes expired offsets (KIP-211: only an empty group's offsets
// expire) and offsets of topics that no longer exist, and retires the group
// when it is empty with no offsets left. It waits for a tick without writes
// in flight, so that it never deletes an offset a commit is replacing.
func (c *groupCoordinator) expire() {
	if len(c.writes) > 0 || c.hasMembers() {
		return
	}
	now := time.Now()
	snap := c.b.reg.load()
	var gone []meta.TopicPartition
	for tp, o := range c.offsets {
		if offsetExpired(o, c.info.EmptySince, now, c.cfg.OffsetsRetention) || (c.b.ready.Load() && !offsetTopicExists(snap, o)) {
			gone = append(gone, tp)
		}
	}
	if len(gone) == len(c.offsets) {
		c.b.log.Info("consumer group expired", "group", c.name, "offsets", len(gone))
		c.retire(func(error) {})
		return
	}
	if len(gone) == 0 {
		return
	}
	sort.Slice(gone, func(i, j int) bool { return lessTopicPartition(gone[i], gone[j]) })
	c.write(meta.GroupChange{Group: c.name, DeleteOffsets: gone}, func(err error) {
		if err != nil {
			c.b.log.Warn("expiring offsets failed", "group", c.name, "err", err)
			return
		}
		for _, tp := range gone {
			delete(c.offsets, tp)
		}
		c.b.log.Info("offsets expired", "group", c.name, "offsets", len(gone))
	})
}

// retire deletes the group (its record and offsets, if stored) and then
// hands the group back to the manager; done gets the outcome of the delete.
// The caller has checked that the group has no members.
func (c *groupCoordinator) retire(done func(err error)) {
	finish := func(err error) {
		if err != nil {
			c.phase = phaseServing
			done(err)
			c.unstash()
			return
		}
		c.offsets = make(map[meta.TopicPartition]meta.CommittedOffset)
		c.persisted = false
		c.phase = phaseRetired
		c.publish() // before the answer: a ListGroups sent after it must not list the group
		done(nil)
		c.b.send(c.manager, &groupRetiredMsg{name: c.name, pid: c.self})
		// Sent after the retirement, so the manager routes them anew.
		stash := c.stash
		c.stash = nil
		for _, m := range stash {
			c.b.send(c.manager, m)
		}
	}
	c.phase = phaseRetiring
	if !c.persisted && len(c.offsets) == 0 {
		finish(nil)
		return
	}
	c.write(meta.GroupChange{Group: c.name, Delete: true}, finish)
}

// timer handles the coordinator's timer messages.
func (c *groupCoordinator) timer(m any) {
	switch m := m.(type) {
	case *classicMemberTimerMsg:
		c.classicMemberTimer(m)
	case *classicPendingTimerMsg:
		c.classicPendingTimer(m)
	case *classicJoinTimerMsg:
		c.classicJoinTimer(m)
	case *classicSyncTimerMsg:
		c.classicSyncTimer(m)
	case *consumerMemberTimerMsg:
		c.consumerMemberTimer(m)
	case *consumerRevokeTimerMsg:
		c.consumerRevokeTimer(m)
	}
}

// after sends msg to the coordinator after d.
func (c *groupCoordinator) after(d time.Duration, msg any) *time.Timer {
	b, self := c.b, c.self
	return time.AfterFunc(d, func() { b.send(self, msg) })
}

func offsetTopicExists(snap *snapshot, o meta.CommittedOffset) bool {
	t := snap.byName[o.Topic]
	return t != nil && (o.TopicID == [16]byte{} || t.id == o.TopicID)
}

func lessTopicPartition(a, b meta.TopicPartition) bool {
	if a.Topic != b.Topic {
		return a.Topic < b.Topic
	}
	return a.Partition < b.Partition
}
