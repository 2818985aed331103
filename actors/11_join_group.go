package actors

// JoinGroup (key 11), versions from wire's table (0..9).
//
// Behaviour: served by the group's coordinator (see group_classic.go for the
// rebalance). A join parks until the rebalance completes. v4+ (KIP-394): a
// member joining without a member id is given one with MEMBER_ID_REQUIRED
// and must join again with it within its session timeout; until it does,
// the rebalance waits for it. v5+ static membership (KIP-345): a join with
// a group.instance.id skips MEMBER_ID_REQUIRED; a known instance id joining
// without its member id replaces the old member (whose parked requests get
// FENCED_INSTANCE_ID) and, in a Stable group whose protocol would not
// change, gets the current generation without a rebalance (the leader with
// SkipAssignment, v9, KIP-814). A member rejoining with unchanged protocols
// in CompletingRebalance, or a non-leader in Stable, gets the current
// generation again. v0 has no rebalance timeout: the session timeout is
// used. v8 reasons are accepted and ignored.
//
// Errors: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT (outside the broker's
// bounds), INCONSISTENT_GROUP_PROTOCOL (no protocol type, no protocols, a
// different protocol type, or no protocol shared with every member; also a
// classic join to a KIP-848 group with members), UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, MEMBER_ID_REQUIRED, GROUP_MAX_SIZE_REACHED,
// REBALANCE_IN_PROGRESS (a parked join replaced by a newer one of the same
// member), COORDINATOR_LOAD_IN_PROGRESS.
//
// Not supported: mixing classic and KIP-848 members in one group (Kafka's
// online migration).

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleJoinGroup(r *netloop.Request, req *kmsg.JoinGroupRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) joinGroup(call *groupCall, req *kmsg.JoinGroupRequest) {
	if c.isConsumerGroup() && c.consumer.hasMembers() {
		call.answerError(kerr.InconsistentGroupProtocol.Code)
		return
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		call.answerError(kerr.InvalidSessionTimeout.Code)
		return
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	if !c.protocolsCompatible(req.MemberID, req.ProtocolType, req.Protocols) {
		call.answerError(kerr.InconsistentGroupProtocol.Code)
		return
	}
	joining := &classicMember{
		instanceID:       cloneString(req.InstanceID),
		clientID:         call.clientID,
		clientHost:       clientHost(call.host),
		sessionTimeout:   session,
		rebalanceTimeout: rebalance,
		protocolType:     req.ProtocolType,
		protocols:        cloneProtocols(req.Protocols),
	}
	if req.MemberID == "" {
		c.joinNewMember(call, req, joining)
		return
	}
	c.joinKnownMember(call, req, joining)
}

// joinNewMember handles a join without a member id.
func (c *groupCoordinator) joinNewMember(call *groupCall, req *kmsg.JoinGroupRequest, joining *classicMember) {
	g := &c.classic
	if req.InstanceID != nil {
		if oldID, ok := g.static[*req.InstanceID]; ok {
			if old := g.members[oldID]; old != nil {
				c.replaceStaticMember(call, req, old, joining)
				return
			}
			delete(g.static, *req.InstanceID)
		}
	}
	if len(g.members)+len(g.pending) >= c.cfg.MaxSize {
		call.answerError(kerr.GroupMaxSizeReached.Code)
		return
	}
	joining.id = newMemberID(call.clientID, req.InstanceID)
	if req.InstanceID == nil && req.Version >= 4 {
		p := &pendingMember{id: joining.id}
		p.timer = c.after(joining.sessionTimeout, &classicPendingTimerMsg{p: p})
		g.pending[p.id] = p
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID = kerr.MemberIDRequired.Code, joining.id
		call.r.Respond(resp)
		return
	}
	c.joinAsNewMember(call, joining)
}

func (c *groupCoordinator) joinAsNewMember(call *groupCall, joining *classicMember) {
	if c.isConsumerGroup() {
		// An empty KIP-848 group becomes a classic one.
		c.consumer.reset()
	}
	joining.join = call
	c.addClassicMember(joining)
	if c.classic.state == statePreparingRebalance {
		c.tryCompleteJoin()
		return
	}
	c.prepareRebalance()
}

// joinKnownMember handles a join with a member id.
func (c *groupCoordinator) joinKnownMember(call *groupCall, req *kmsg.JoinGroupRequest, joining *classicMember) {
	g := &c.classic
	if req.InstanceID != nil {
		if current, ok := g.static[*req.InstanceID]; ok && current != req.MemberID {
			call.answerError(kerr.FencedInstanceID.Code)
			return
		}
	}
	if p := g.pending[req.MemberID]; p != nil {
		stopTimer(p.timer)
		delete(g.pending, p.id)
		joining.id = p.id
		c.joinAsNewMember(call, joining)
		return
	}
	m := g.members[req.MemberID]
	if m == nil {
		call.answerError(kerr.UnknownMemberID.Code)
		return
	}
	m.heartbeatReceived()
	unchanged := sameProtocols(m.protocols, joining.protocols)
	switch g.state {
	case statePreparingRebalance:
		c.updateClassicMember(m, joining, call)
		c.tryCompleteJoin()
	case stateCompletingRebalance, stateStable:
		if unchanged && (g.state == stateCompletingRebalance || m.id != g.leader) {
			// The member lost our answer, or just asks again: the
			// current generation stands.
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			c.fillJoinResponse(m, resp)
			call.r.Respond(resp)
			return
		}
		c.updateClassicMember(m, joining, call)
		c.prepareRebalance()
	default:
		call.answerError(kerr.UnknownMemberID.Code)
	}
}

// updateClassicMember takes a rejoining member's new protocols and
// timeouts and parks its join.
func (c *groupCoordinator) updateClassicMember(m, joining *classicMember, call *groupCall) {
	m.protocols, m.protocolType = joining.protocols, joining.protocolType
	m.sessionTimeout, m.rebalanceTimeout = joining.sessionTimeout, joining.rebalanceTimeout
	m.clientID, m.clientHost = joining.clientID, joining.clientHost
	if m.join != nil {
		m.join.answerError(kerr.RebalanceInProgress.Code)
	}
	m.join = call
}

// replaceStaticMember lets a static member's new instance take the place of
// its old one (KIP-345).
func (c *groupCoordinator) replaceStaticMember(call *groupCall, req *kmsg.JoinGroupRequest, old, joining *classicMember) {
	g := &c.classic
	joining.id = newMemberID(call.clientID, req.InstanceID)
	joining.assignment = old.assignment
	wasLeader, wasPendingSync := g.leader == old.id, g.pendingSync[old.id]
	c.removeClassicMember(old, kerr.FencedInstanceID.Code)
	c.addClassicMember(joining)
	if wasLeader {
		g.leader = joining.id
	}
	if wasPendingSync {
		g.pendingSync[joining.id] = true
	}
	switch g.state {
	case stateStable:
		if c.selectProtocol(nil) == g.protocol {
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			c.fillJoinResponse(joining, resp)
			resp.SkipAssignment = joining.id == g.leader
			call.r.Respond(resp)
			return
		}
		joining.join = call
		c.prepareRebalance()
	case stateCompletingRebalance:
		joining.join = call
		c.prepareRebalance()
	default:
		joining.join = call
		c.tryCompleteJoin()
	}
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// cloneProtocols copies the metadata out of the request, whose bytes may
// belong to the connection's read buffer.
func cloneProtocols(protocols []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(protocols))
	for i, p := range protocols {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	return out
}
