package actors

// The classic group protocol's rebalance machinery (JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup are in their API files). It follows Kafka's
// GroupCoordinator:
//
//	Empty ──join──▶ PreparingRebalance ──all rejoined / timeout──▶ CompletingRebalance
//	  ▲                  ▲                                           │ leader's SyncGroup
//	  │ last member      │ member joins, leaves, changes protocols,   ▼
//	  └──── leaves ──────┴──────────── or its session expires ◀── Stable
//
// A rebalance waits for every known member to send JoinGroup (their
// requests are parked) for at most the largest rebalance timeout; members
// that have not rejoined by then are removed (static members stay until
// their session expires). The first rebalance of an empty group also waits
// InitialRebalanceDelay for more members (Kafka's delayed initial join).
// Completing the join bumps the generation, selects the protocol every
// member supports that most members prefer, keeps or picks the leader, and
// answers the parked JoinGroups; the leader's answer carries every member's
// metadata. The leader's SyncGroup carries the assignment; the parked
// SyncGroups of the others are answered with theirs.
//
// Cooperative rebalancing needs nothing more from the broker: clients that
// still own partitions being moved rejoin at once after revoking them, and
// the second rebalance hands them over.
//
// Timers: each member has one timer for its session. When it fires, a
// member that heartbeated meanwhile (its deadline moved) re-arms it for the
// rest, so a heartbeat costs no timer operation; a member with a parked
// JoinGroup or SyncGroup is alive by definition. Rebalance and sync timers
// carry the rebalance round they were armed in and are ignored once the
// group has moved on.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type classicMember struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol // metadata copied out of the request
	assignment       []byte
	join             *groupCall // parked JoinGroup
	sync             *groupCall // parked SyncGroup
	deadline         time.Time  // session expiry, moved by heartbeats
	timer            *time.Timer
}

// pendingMember is a member id handed out with MEMBER_ID_REQUIRED (KIP-394)
// whose JoinGroup has not come back yet.
type pendingMember struct {
	id    string
	timer *time.Timer
}

type classicGroup struct {
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*classicMember
	pending      map[string]*pendingMember
	static       map[string]string // group.instance.id → member id
	pendingSync  map[string]bool   // members answered JoinGroup that have not synced

	round            uint64 // rebalances begun; timers carry theirs
	joinTimer        *time.Timer
	syncTimer        *time.Timer
	initialDelay     bool // the first join of an empty group is waiting for more members
	newMemberAdded   bool
	initialRemaining time.Duration
}

// Timer messages of the classic protocol.
type (
	classicMemberTimerMsg  struct{ m *classicMember }
	classicPendingTimerMsg struct{ p *pendingMember }
	classicJoinTimerMsg    struct{ round uint64 }
	classicSyncTimerMsg    struct{ round uint64 }
)

func (g *classicGroup) init() {
	g.members = make(map[string]*classicMember)
	g.pending = make(map[string]*pendingMember)
	g.static = make(map[string]string)
	g.pendingSync = make(map[string]bool)
}

func (g *classicGroup) hasMembers() bool { return len(g.members) > 0 || len(g.pending) > 0 }

func (g *classicGroup) stopTimers() {
	for _, m := range g.members {
		stopTimer(m.timer)
	}
	for _, p := range g.pending {
		stopTimer(p.timer)
	}
	stopTimer(g.joinTimer)
	stopTimer(g.syncTimer)
}

// failParked answers every parked JoinGroup and SyncGroup with code.
func (g *classicGroup) failParked(code int16) {
	for _, m := range g.members {
		if m.join != nil {
			m.join.answerError(code)
			m.join = nil
		}
		if m.sync != nil {
			m.sync.answerError(code)
			m.sync = nil
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// newMemberID is Kafka's form: the client id (or the instance id of a
// static member), a dash and a random UUID.
func newMemberID(clientID string, instanceID *string) string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand panics instead)
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	h := hex.EncodeToString(id[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// clientHost is Kafka's form of a member's address: "/" and the IP.
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return "/" + host
	}
	return "/" + remote
}

// addClassicMember adds a member whose JoinGroup is parked (join may be
// nil for a static member replaced without a rebalance).
func (c *groupCoordinator) addClassicMember(m *classicMember) {
	g := &c.classic
	if len(g.members) == 0 {
		// The first member sets the type (ids handed out with
		// MEMBER_ID_REQUIRED are not members yet).
		g.protocolType = m.protocolType
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	m.deadline = time.Now().Add(m.sessionTimeout)
	m.timer = c.after(m.sessionTimeout, &classicMemberTimerMsg{m: m})
	if g.state == statePreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
	if !c.persisted || c.info.ProtocolType != g.protocolType || c.info.Type == groupTypeConsumer {
		c.info.ProtocolType, c.info.Type = g.protocolType, groupTypeClassic
		c.writeInfo()
	}
}

// removeClassicMember drops a member without deciding about a rebalance;
// its parked requests are answered with code.
func (c *groupCoordinator) removeClassicMember(m *classicMember, code int16) {
	g := &c.classic
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	stopTimer(m.timer)
	if m.join != nil {
		m.join.answerError(code)
		m.join = nil
	}
	if m.sync != nil {
		m.sync.answerError(code)
		m.sync = nil
	}
}

// classicMemberGone removes a member and moves the group on: a rebalance
// from Stable or CompletingRebalance, or another look at whether the
// current one can complete.
func (c *groupCoordinator) classicMemberGone(m *classicMember, reason string) {
	c.removeClassicMember(m, kerr.UnknownMemberID.Code)
	c.b.log.Debug("group member removed", "group", c.name, "member", m.id, "reason", reason)
	switch c.classic.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalance()
	case statePreparingRebalance:
		c.tryCompleteJoin()
	}
}

// prepareRebalance moves the group to PreparingRebalance.
func (c *groupCoordinator) prepareRebalance() {
	g := &c.classic
	if g.state == stateCompletingRebalance {
		// The assignment being handed out is void: the members waiting
		// for it rejoin.
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				m.sync.answerError(kerr.RebalanceInProgress.Code)
				m.sync = nil
			}
		}
	}
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	g.round++
	stopTimer(g.joinTimer)
	stopTimer(g.syncTimer)
	clear(g.pendingSync)
	total := c.maxRebalanceTimeout()
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		delay := min(c.cfg.InitialRebalanceDelay, total)
		g.initialDelay, g.newMemberAdded, g.initialRemaining = true, false, total-delay
		g.joinTimer = c.after(delay, &classicJoinTimerMsg{round: g.round})
		return
	}
	g.initialDelay = false
	g.joinTimer = c.after(total, &classicJoinTimerMsg{round: g.round})
	c.tryCompleteJoin()
}

func (c *groupCoordinator) maxRebalanceTimeout() time.Duration {
	var longest time.Duration
	for _, m := range c.classic.members {
		longest = max(longest, m.rebalanceTimeout)
	}
	return max(longest, time.Millisecond)
}

func (c *groupCoordinator) classicJoinTimer(m *classicJoinTimerMsg) {
	g := &c.classic
	if g.state != statePreparingRebalance || m.round != g.round {
		return
	}
	if g.initialDelay && g.newMemberAdded && g.initialRemaining > 0 {
		// Kafka's delayed initial join: someone joined during the
		// delay, so wait one more delay (within the rebalance timeout).
		delay := min(c.cfg.InitialRebalanceDelay, g.initialRemaining)
		g.newMemberAdded, g.initialRemaining = false, g.initialRemaining-delay
		g.joinTimer = c.after(delay, &classicJoinTimerMsg{round: g.round})
		return
	}
	g.initialDelay = false
	c.completeJoin()
}

// tryCompleteJoin completes the rebalance once every member has rejoined
// and no member id handed out is still on its way back.
func (c *groupCoordinator) tryCompleteJoin() {
	g := &c.classic
	if g.state != statePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	c.completeJoin()
}

// completeJoin ends PreparingRebalance: members that did not rejoin are
// removed (static ones are kept), the generation moves on, and the parked
// JoinGroups are answered.
func (c *groupCoordinator) completeJoin() {
	g := &c.classic
	stopTimer(g.joinTimer)
	g.initialDelay = false
	for _, m := range g.members {
		if m.join == nil && m.instanceID == nil {
			c.removeClassicMember(m, kerr.UnknownMemberID.Code)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		c.becomeEmpty()
		return
	}
	g.protocol = c.selectProtocol(nil)
	if leader := g.members[g.leader]; leader == nil || leader.join == nil {
		g.leader = ""
		for _, id := range c.sortedMemberIDs() {
			if g.members[id].join != nil || g.leader == "" {
				g.leader = id
				if g.members[id].join != nil {
					break
				}
			}
		}
	}
	g.state = stateCompletingRebalance
	now := time.Now()
	for _, m := range g.members {
		if m.join == nil {
			continue
		}
		resp := m.join.req.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
		c.fillJoinResponse(m, resp)
		m.join.r.Respond(resp)
		m.join = nil
		m.deadline = now.Add(m.sessionTimeout)
		g.pendingSync[m.id] = true
	}
	g.syncTimer = c.after(c.maxRebalanceTimeout(), &classicSyncTimerMsg{round: g.round})
}

// becomeEmpty records that the group lost its last member: its offsets
// start expiring from now.
func (c *groupCoordinator) becomeEmpty() {
	g := &c.classic
	g.state, g.protocol, g.leader = stateEmpty, "", ""
	stopTimer(g.joinTimer)
	stopTimer(g.syncTimer)
	c.info.EmptySince = time.Now().UTC().Round(0)
	c.info.ProtocolType = g.protocolType
	c.writeInfo()
}

// classicSyncTimer removes members that were answered JoinGroup but never
// sent SyncGroup within the rebalance timeout, and rebalances.
func (c *groupCoordinator) classicSyncTimer(m *classicSyncTimerMsg) {
	g := &c.classic
	if m.round != g.round || len(g.pendingSync) == 0 || (g.state != stateCompletingRebalance && g.state != stateStable) {
		return
	}
	for id := range g.pendingSync {
		if member := g.members[id]; member != nil {
			c.removeClassicMember(member, kerr.UnknownMemberID.Code)
		}
	}
	clear(g.pendingSync)
	c.prepareRebalance()
}

func (c *groupCoordinator) classicMemberTimer(msg *classicMemberTimerMsg) {
	m := msg.m
	if c.classic.members[m.id] != m {
		return
	}
	now := time.Now()
	if m.join != nil || m.sync != nil {
		m.deadline = now.Add(m.sessionTimeout)
	}
	if now.Before(m.deadline) {
		m.timer = c.after(m.deadline.Sub(now), msg)
		return
	}
	c.classicMemberGone(m, "session timeout")
}

func (c *groupCoordinator) classicPendingTimer(msg *classicPendingTimerMsg) {
	if c.classic.pending[msg.p.id] != msg.p {
		return
	}
	delete(c.classic.pending, msg.p.id)
	c.tryCompleteJoin()
}

// heartbeatReceived moves a member's session deadline.
func (m *classicMember) heartbeatReceived() { m.deadline = time.Now().Add(m.sessionTimeout) }

// selectProtocol picks, among the protocols every member supports, the one
// most members list first; ties go to the name that sorts first. With
// replacing set, that member's protocols count instead of its current ones
// (to ask whether a static member's rejoin would change the choice).
func (c *groupCoordinator) selectProtocol(replacing *classicMember) string {
	members := make([]*classicMember, 0, len(c.classic.members))
	for _, m := range c.classic.members {
		if replacing != nil && m.instanceID != nil && replacing.instanceID != nil && *m.instanceID == *replacing.instanceID {
			continue
		}
		members = append(members, m)
	}
	if replacing != nil {
		members = append(members, replacing)
	}
	supported := make(map[string]int)
	for _, m := range members {
		for _, p := range m.protocols {
			supported[p.Name]++
		}
	}
	votes := make(map[string]int)
	for _, m := range members {
		for _, p := range m.protocols {
			if supported[p.Name] == len(members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for name, n := range votes {
		if n > bestVotes || (n == bestVotes && name < best) {
			best, bestVotes = name, n
		}
	}
	if best == "" && len(members) > 0 && len(members[0].protocols) > 0 {
		// Unreachable: a join is refused unless it shares a protocol
		// with every other member.
		best = members[0].protocols[0].Name
	}
	return best
}

// protocolsCompatible reports whether a join's protocols may join: the
// group's protocol type, and at least one protocol every other member
// supports.
func (c *groupCoordinator) protocolsCompatible(memberID, protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	g := &c.classic
	others := 0
	supported := make(map[string]int)
	for id, m := range g.members {
		if id == memberID {
			continue
		}
		others++
		for _, p := range m.protocols {
			supported[p.Name]++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if supported[p.Name] == others {
			return true
		}
	}
	return false
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// fillJoinResponse answers a member's JoinGroup with the current
// generation; the leader also gets every member's metadata.
func (c *groupCoordinator) fillJoinResponse(m *classicMember, resp *kmsg.JoinGroupResponse) {
	g := &c.classic
	protocolType, protocol := g.protocolType, g.protocol
	resp.Generation = g.generation
	resp.ProtocolType, resp.Protocol = &protocolType, &protocol
	resp.LeaderID, resp.MemberID = g.leader, m.id
	if m.id != g.leader {
		return
	}
	for _, id := range c.sortedMemberIDs() {
		member := g.members[id]
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID = member.id, member.instanceID
		rm.ProtocolMetadata = member.metadataFor(protocol)
		resp.Members = append(resp.Members, rm)
	}
}

func (m *classicMember) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (c *groupCoordinator) sortedMemberIDs() []string {
	ids := make([]string, 0, len(c.classic.members))
	for id := range c.classic.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// validateClassicMember applies Kafka's checks common to SyncGroup,
// Heartbeat and OffsetCommit: a static member fenced by a newer instance,
// an unknown member, a stale generation. It returns the member or a code.
func (c *groupCoordinator) validateClassicMember(memberID string, instanceID *string, generation int32) (*classicMember, int16) {
	g := &c.classic
	if instanceID != nil {
		if current, ok := g.static[*instanceID]; ok && current != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration.Code
	}
	return m, 0
}

// emptyConsumerAssignment is an encoded empty ConsumerMemberAssignment: a
// follower of a "consumer" group that the leader assigned nothing gets this
// rather than no bytes, which some clients cannot decode.
func emptyConsumerAssignment() []byte {
	var a kmsg.ConsumerMemberAssignment
	return a.AppendTo(nil)
}

// answerError answers a group call with code.
func (c *groupCall) answerError(code int16) { c.r.Respond(groupErrorResponse(c.req, code)) }
