package actors

// SyncGroup (key 14), versions from wire's table (0..5).
//
// Behaviour: served by the group's coordinator. In CompletingRebalance a
// follower's SyncGroup parks until the leader's arrives; the leader's
// carries every member's assignment, which the coordinator keeps (copied),
// hands to the parked followers, and the group becomes Stable. A member
// that syncs later (in Stable) gets its assignment at once. A member the
// leader left out gets an empty assignment: for protocol type "consumer" an
// encoded empty ConsumerMemberAssignment, which every client can decode.
// Members that never sync within the rebalance timeout are removed and the
// group rebalances. v5 checks the protocol type and name against the
// group's.
//
// Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL (v5),
// REBALANCE_IN_PROGRESS (PreparingRebalance, or the rebalance restarted
// while parked), COORDINATOR_LOAD_IN_PROGRESS.

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleSyncGroup(r *netloop.Request, req *kmsg.SyncGroupRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) syncGroup(call *groupCall, req *kmsg.SyncGroupRequest) {
	g := &c.classic
	m, code := c.validateClassicMember(req.MemberID, req.InstanceID, req.Generation)
	if code == 0 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol)) {
		code = kerr.InconsistentGroupProtocol.Code
	}
	if code != 0 {
		call.answerError(code)
		return
	}
	m.heartbeatReceived()
	switch g.state {
	case statePreparingRebalance:
		call.answerError(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		delete(g.pendingSync, m.id)
		if m.sync != nil {
			m.sync.answerError(kerr.RebalanceInProgress.Code)
		}
		m.sync = call
		if m.id == g.leader {
			c.completeSync(req)
		}
	case stateStable:
		delete(g.pendingSync, m.id)
		c.answerSync(m, call)
	default:
		call.answerError(kerr.UnknownMemberID.Code)
	}
}

// completeSync takes the leader's assignment: the group is Stable and every
// parked SyncGroup is answered.
func (c *groupCoordinator) completeSync(leader *kmsg.SyncGroupRequest) {
	g := &c.classic
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range leader.GroupAssignment {
		if m := g.members[a.MemberID]; m != nil {
			m.assignment = bytes.Clone(a.MemberAssignment)
		}
	}
	g.state = stateStable
	for _, m := range g.members {
		if len(m.assignment) == 0 && g.protocolType == "consumer" {
			m.assignment = emptyConsumerAssignment()
		}
		if m.sync != nil {
			c.answerSync(m, m.sync)
			m.sync = nil
		}
	}
	if len(g.pendingSync) == 0 {
		stopTimer(g.syncTimer)
	}
}

func (c *groupCoordinator) answerSync(m *classicMember, call *groupCall) {
	g := &c.classic
	resp := call.req.(*kmsg.SyncGroupRequest).ResponseKind().(*kmsg.SyncGroupResponse)
	protocolType, protocol := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &protocolType, &protocol
	resp.MemberAssignment = m.assignment
	m.heartbeatReceived()
	call.r.Respond(resp)
}
