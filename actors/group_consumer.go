package actors

// KIP-848 consumer groups: the broker assigns partitions and every member
// reconciles towards its target by heartbeating (ConsumerGroupHeartbeat).
//
// Epochs. The group epoch moves whenever membership or subscriptions change
// (or a subscribed topic gains partitions); the target assignment is then
// recomputed at once with the group's assignor (group_assign.go), and its
// epoch becomes the group epoch. A member's epoch moves to the target epoch
// when it has been told its new partitions.
//
// Reconciliation (Kafka's CurrentAssignmentBuilder, in short): a member
// first gives up what it must lose. Its answer lists only the partitions it
// keeps; the ones it must revoke stay "revoking" (and owned) until a
// heartbeat's owned partitions no longer contain them, or its rebalance
// timeout passes and it is fenced. Then it moves to the target epoch and is
// given the new partitions that nobody else owns any more; partitions still
// held by another member are given on a later heartbeat, once released. So
// a partition never has two owners.
//
// Static members (group.instance.id): a leave with epoch -2 keeps the
// member and its partitions reserved until its session expires; a new
// member with the same instance id then takes them over. A new instance
// while the old one is active gets UNRELEASED_INSTANCE_ID.
//
// A member whose heartbeats stop is fenced when its session expires
// (ConsumerSessionTimeout); its partitions are freed and the target
// recomputed.

import (
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memberEpochStaticLeave marks a static member that left for a while.
const memberEpochStaticLeave = -2

type reconcileState int8

const (
	reconcileStable     reconcileState = iota
	reconcileUnrevoked                 // waiting for the member to release partitions
	reconcileUnreleased                // waiting for other members to release partitions
)

type consumerMember struct {
	id, clientID, clientHost string
	instanceID, rackID       *string
	epoch, previousEpoch     int32
	state                    reconcileState
	rebalanceTimeout         time.Duration
	assignor                 string
	topics                   []string // sorted
	regexSource              string
	regex                    *regexp.Regexp

	target   assignment
	assigned assignment // what the member was last told it owns
	revoking assignment // told to release, not yet released
	// assignedEpochs: the member epoch at which each owned partition was
	// assigned (KIP-1251: a commit must not be older).
	assignedEpochs map[topicPartitionID]int32

	deadline    time.Time
	timer       *time.Timer
	revokeTimer *time.Timer
}

type partitionOwner struct {
	member string
	epoch  int32
}

type consumerGroup struct {
	state       groupState
	epoch       int32 // group epoch
	targetEpoch int32 // epoch of the current target assignment
	assignor    string
	members     map[string]*consumerMember
	static      map[string]string // instance id → member id
	owners      map[topicPartitionID]partitionOwner
	// subscribed is the partition count of every subscribed topic the last
	// target was computed from; seen is the topic snapshot it came from.
	subscribed map[[16]byte]int32
	seen       *snapshot
}

// Timer messages of KIP-848 groups.
type (
	consumerMemberTimerMsg struct{ m *consumerMember }
	consumerRevokeTimerMsg struct {
		m     *consumerMember
		epoch int32
	}
)

func (g *consumerGroup) init() {
	g.members = make(map[string]*consumerMember)
	g.static = make(map[string]string)
	g.owners = make(map[topicPartitionID]partitionOwner)
	g.subscribed = make(map[[16]byte]int32)
}

// reset forgets everything but the epoch (a new group epoch must be
// greater than any a member has seen).
func (g *consumerGroup) reset() {
	g.stopTimers()
	epoch := g.epoch
	*g = consumerGroup{epoch: epoch}
	g.init()
}

func (g *consumerGroup) hasMembers() bool { return len(g.members) > 0 }

func (g *consumerGroup) stopTimers() {
	for _, m := range g.members {
		stopTimer(m.timer)
		stopTimer(m.revokeTimer)
	}
}

// failParked: KIP-848 requests never park.
func (g *consumerGroup) failParked(int16) {}

func (g *consumerGroup) activeMembers() int {
	n := 0
	for _, m := range g.members {
		if m.epoch != memberEpochStaticLeave {
			n++
		}
	}
	return n
}

// becomeConsumerGroup turns an empty classic group into a KIP-848 one.
func (c *groupCoordinator) becomeConsumerGroup() {
	c.classic.stopTimers()
	generation := c.classic.generation
	c.classic = classicGroup{generation: generation}
	c.classic.init()
	c.info.Type, c.info.ProtocolType = groupTypeConsumer, groupTypeConsumer
	c.writeInfo()
}

// subscriptionTopics resolves the topics the members subscribe to. A static
// member away (epoch -2) still counts: its partitions wait for it.
func (c *groupCoordinator) subscriptionTopics(snap *snapshot) []assignTopic {
	names := c.consumerSubscribedTopicsIn(snap)
	topics := make([]assignTopic, 0, len(names))
	for name := range names {
		if t := snap.byName[name]; t != nil {
			topics = append(topics, assignTopic{name: name, id: t.id, partitions: int32(len(t.partitions))})
		}
	}
	sort.Slice(topics, func(i, j int) bool { return topics[i].name < topics[j].name })
	return topics
}

// consumerSubscribedTopicsIn is the union of the members' subscriptions,
// regexes matched against the current topics.
func (c *groupCoordinator) consumerSubscribedTopicsIn(snap *snapshot) map[string]bool {
	out := make(map[string]bool)
	for _, m := range c.consumer.members {
		for name := range m.subscribedIn(snap) {
			out[name] = true
		}
	}
	return out
}

func (c *groupCoordinator) consumerSubscribedTopics() map[string]bool {
	return c.consumerSubscribedTopicsIn(c.b.reg.load())
}

func (m *consumerMember) subscribedIn(snap *snapshot) map[string]bool {
	out := make(map[string]bool, len(m.topics))
	for _, t := range m.topics {
		out[t] = true
	}
	if m.regex != nil {
		for name := range snap.byName {
			if m.regex.MatchString(name) {
				out[name] = true
			}
		}
	}
	return out
}

// computeTarget recomputes every active member's target assignment at the
// current group epoch.
func (c *groupCoordinator) computeTarget() {
	g := &c.consumer
	snap := c.b.reg.load()
	topics := c.subscriptionTopics(snap)
	g.seen = snap
	clear(g.subscribed)
	for _, t := range topics {
		g.subscribed[t.id] = t.partitions
	}
	var members []assignMember
	for _, m := range g.members {
		members = append(members, assignMember{id: m.id, instanceID: m.instanceID, subscribed: m.subscribedIn(snap), previous: m.target})
	}
	var targets map[string]assignment
	if g.assignor == assignorRange {
		targets = assignRangePerTopic(topics, members)
	} else {
		targets = assignUniformSticky(topics, members)
	}
	for id, a := range targets {
		g.members[id].target = a
	}
	g.targetEpoch = g.epoch
}

// bumpEpoch moves the group epoch and recomputes the target.
func (c *groupCoordinator) bumpEpoch() {
	c.consumer.epoch++
	c.computeTarget()
}

// refreshTopicMetadata bumps the epoch when a subscribed topic appeared,
// disappeared or gained partitions since the target was computed.
func (c *groupCoordinator) refreshTopicMetadata() {
	g := &c.consumer
	snap := c.b.reg.load()
	if snap == g.seen || g.activeMembers() == 0 {
		return
	}
	topics := c.subscriptionTopics(snap)
	changed := len(topics) != len(g.subscribed)
	for _, t := range topics {
		if n, ok := g.subscribed[t.id]; !ok || n != t.partitions {
			changed = true
		}
	}
	g.seen = snap
	if changed {
		c.bumpEpoch()
	}
}

// updateConsumerState sets the group state from its members.
func (c *groupCoordinator) updateConsumerState() {
	g := &c.consumer
	was := g.state
	g.state = stateStable
	active := 0
	for _, m := range g.members {
		if m.epoch == memberEpochStaticLeave {
			continue
		}
		active++
		if m.state != reconcileStable || m.epoch != g.targetEpoch {
			g.state = stateReconciling
		}
	}
	if active == 0 {
		g.state = stateEmpty
	}
	if g.state == stateEmpty && was != stateEmpty && c.isConsumerGroup() {
		c.info.EmptySince = time.Now().UTC().Round(0)
		c.writeInfo()
	}
}

// setOwned replaces what a member owns (assigned and revoking) in the
// owners map.
func (g *consumerGroup) setOwned(m *consumerMember, assigned, revoking assignment) {
	g.release(m, m.assigned)
	g.release(m, m.revoking)
	m.assigned, m.revoking = assigned, revoking
	for _, a := range []assignment{assigned, revoking} {
		for id, ps := range a {
			for _, p := range ps {
				g.owners[topicPartitionID{id, p}] = partitionOwner{member: m.id, epoch: m.epoch}
			}
		}
	}
	epochs := make(map[topicPartitionID]int32, assigned.count())
	for id, ps := range assigned {
		for _, p := range ps {
			tp := topicPartitionID{id, p}
			if e, ok := m.assignedEpochs[tp]; ok {
				epochs[tp] = e
			} else {
				epochs[tp] = m.epoch
			}
		}
	}
	m.assignedEpochs = epochs
}

// release frees the partitions of a that m owns.
func (g *consumerGroup) release(m *consumerMember, a assignment) {
	for id, ps := range a {
		for _, p := range ps {
			tp := topicPartitionID{id, p}
			if g.owners[tp].member == m.id {
				delete(g.owners, tp)
			}
		}
	}
}

// removeConsumerMember fences a member: its partitions are free.
func (c *groupCoordinator) removeConsumerMember(m *consumerMember) {
	g := &c.consumer
	g.release(m, m.assigned)
	g.release(m, m.revoking)
	stopTimer(m.timer)
	stopTimer(m.revokeTimer)
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
}

func (c *groupCoordinator) consumerMemberTimer(msg *consumerMemberTimerMsg) {
	m := msg.m
	if c.consumer.members[m.id] != m {
		return
	}
	now := time.Now()
	if now.Before(m.deadline) {
		m.timer = c.after(m.deadline.Sub(now), msg)
		return
	}
	c.b.log.Debug("consumer group member fenced: session timeout", "group", c.name, "member", m.id)
	c.removeConsumerMember(m)
	c.bumpEpoch()
	c.updateConsumerState()
}

func (c *groupCoordinator) consumerRevokeTimer(msg *consumerRevokeTimerMsg) {
	m := msg.m
	if c.consumer.members[m.id] != m || m.epoch != msg.epoch || len(m.revoking) == 0 {
		return
	}
	c.b.log.Debug("consumer group member fenced: did not revoke within its rebalance timeout", "group", c.name, "member", m.id)
	c.removeConsumerMember(m)
	c.bumpEpoch()
	c.updateConsumerState()
}

func (c *groupCoordinator) touchConsumerMember(m *consumerMember) {
	session := c.cfg.ConsumerSessionTimeout
	m.deadline = time.Now().Add(session)
	if m.timer == nil {
		m.timer = c.after(session, &consumerMemberTimerMsg{m: m})
	}
}

// armRevokeTimer fences the member if it still holds partitions to revoke
// after its rebalance timeout.
func (c *groupCoordinator) armRevokeTimer(m *consumerMember) {
	stopTimer(m.revokeTimer)
	m.revokeTimer = nil
	if len(m.revoking) > 0 {
		m.revokeTimer = c.after(m.rebalanceTimeout, &consumerRevokeTimerMsg{m: m, epoch: m.epoch})
	}
}

// reconcile moves a member towards its target; owned is what the member
// reports owning (nil: unchanged since its last heartbeat). It reports
// whether the member's assignment changed.
func (c *groupCoordinator) reconcile(m *consumerMember, subscriptionChanged bool, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) bool {
	g := &c.consumer
	if owned != nil {
		// Partitions being revoked that the member no longer reports
		// are released.
		reported := ownedAssignment(owned)
		still := make(assignment)
		for id, ps := range m.revoking {
			for _, p := range ps {
				if reported.has(id, p) {
					still.add(id, p)
				}
			}
		}
		g.setOwned(m, m.assigned, still)
	}
	if !subscriptionChanged && m.state == reconcileStable && m.epoch == g.targetEpoch {
		return false
	}
	before, beforeRevoking, beforeEpoch := m.assigned, m.revoking, m.epoch
	switch {
	case m.state == reconcileUnrevoked && ownsAny(m.revoking, owned):
		if subscriptionChanged {
			c.dropUnsubscribed(m, owned)
		}
	case m.state == reconcileStable && m.epoch == g.targetEpoch:
		c.dropUnsubscribed(m, owned)
	default:
		c.nextAssignment(m, owned)
	}
	changed := !before.equal(m.assigned) || !beforeRevoking.equal(m.revoking)
	if !changed && m.epoch != beforeEpoch {
		g.setOwned(m, m.assigned, m.revoking) // re-stamp at the new epoch
	}
	return changed
}

// nextAssignment computes what the member keeps, must revoke and may take.
func (c *groupCoordinator) nextAssignment(m *consumerMember, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) {
	g := &c.consumer
	keep, revoke, take := make(assignment), m.revoking.clone(), make(assignment)
	blocked := false
	for id, ps := range m.assigned {
		for _, p := range ps {
			if m.target.has(id, p) {
				keep.add(id, p)
			} else {
				revoke.add(id, p)
			}
		}
	}
	for id, ps := range m.target {
		for _, p := range ps {
			if keep.has(id, p) {
				continue
			}
			owner, ok := g.owners[topicPartitionID{id, p}]
			if !ok || owner.member == m.id {
				take.add(id, p)
			} else {
				blocked = true
			}
		}
	}
	if revoke.count() > 0 && ownsAny(revoke, owned) {
		m.state = reconcileUnrevoked
		g.setOwned(m, keep, revoke)
		return
	}
	m.state = reconcileStable
	if blocked {
		m.state = reconcileUnreleased
	}
	m.previousEpoch, m.epoch = m.epoch, g.targetEpoch
	for id, ps := range take {
		for _, p := range ps {
			keep.add(id, p)
		}
	}
	g.setOwned(m, keep, make(assignment))
}

// dropUnsubscribed revokes the partitions of topics the member no longer
// subscribes to, without moving its epoch.
func (c *groupCoordinator) dropUnsubscribed(m *consumerMember, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) {
	snap := c.b.reg.load()
	subscribed := make(map[[16]byte]bool)
	for name := range m.subscribedIn(snap) {
		if t := snap.byName[name]; t != nil {
			subscribed[t.id] = true
		}
	}
	keep, revoke := make(assignment), m.revoking.clone()
	for id, ps := range m.assigned {
		for _, p := range ps {
			if subscribed[id] {
				keep.add(id, p)
			} else {
				revoke.add(id, p)
			}
		}
	}
	if revoke.count() == m.revoking.count() {
		return
	}
	if ownsAny(revoke, owned) {
		m.state = reconcileUnrevoked
	}
	c.consumer.setOwned(m, keep, revoke)
}

func ownedAssignment(topics []kmsg.ConsumerGroupHeartbeatRequestTopic) assignment {
	a := make(assignment, len(topics))
	for _, t := range topics {
		for _, p := range t.Partitions {
			a.add(t.TopicID, p)
		}
	}
	return a
}

// ownsAny: does the member (by its report; nil means "as before") still
// hold any of pending?
func ownsAny(pending assignment, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) bool {
	if pending.count() == 0 {
		return false
	}
	if owned == nil {
		return true
	}
	reported := ownedAssignment(owned)
	for id, ps := range pending {
		for _, p := range ps {
			if reported.has(id, p) {
				return true
			}
		}
	}
	return false
}

// isSubset reports whether every reported partition is in a.
func isSubset(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, a assignment) bool {
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !a.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

func (a assignment) toResponse() *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	out := new(kmsg.ConsumerGroupHeartbeatResponseAssignment)
	for _, id := range sortedTopicIDs(a) {
		t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
		t.TopicID, t.Partitions = id, slices.Clone(a[id])
		out.Topics = append(out.Topics, t)
	}
	return out
}

func (a assignment) toDescribe() kmsg.Assignment {
	var out kmsg.Assignment
	for _, id := range sortedTopicIDs(a) {
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Partitions = id, slices.Clone(a[id])
		out.TopicPartitions = append(out.TopicPartitions, tp)
	}
	return out
}

// validateConsumerCommit applies KIP-848's (KIP-1251's relaxed) checks to
// a commit to a group with members: a known member at an epoch no newer
// than its own.
func (c *groupCoordinator) validateConsumerCommit(req *kmsg.OffsetCommitRequest) int16 {
	if req.Version < 9 {
		return kerr.UnsupportedVersion.Code
	}
	m := c.consumer.members[req.MemberID]
	if m == nil || m.epoch == memberEpochStaticLeave {
		return kerr.UnknownMemberID.Code
	}
	if req.Generation > m.epoch {
		return kerr.StaleMemberEpoch.Code
	}
	c.touchConsumerMember(m)
	return 0
}

// staleConsumerCommit reports a commit at an epoch older than the one the
// partition was assigned to the member at (KIP-1251).
func (c *groupCoordinator) staleConsumerCommit(req *kmsg.OffsetCommitRequest, topic [16]byte, partition int32) bool {
	if !c.isConsumerGroup() {
		return false
	}
	m := c.consumer.members[req.MemberID]
	if m == nil {
		return false
	}
	e, ok := m.assignedEpochs[topicPartitionID{topic, partition}]
	return ok && req.Generation < e
}

// validateConsumerFetch checks an OffsetFetch v9+ member of a KIP-848
// group.
func (c *groupCoordinator) validateConsumerFetch(p *offsetFetchPart) int16 {
	if !c.isConsumerGroup() || p.memberID == nil {
		return 0
	}
	m := c.consumer.members[*p.memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if p.memberEpoch != -1 && p.memberEpoch != m.epoch {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}
