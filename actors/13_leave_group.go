package actors

// LeaveGroup (key 13), versions from wire's table (0..5).
//
// Behaviour: served by the group's coordinator. v0-2 name one member; v3+
// a batch of members, each by member id and/or instance id (KIP-345), each
// answered on its own. A leaving member's parked requests are answered
// UNKNOWN_MEMBER_ID, and the group rebalances (or, mid-rebalance, checks
// whether everyone left has rejoined). A member id handed out with
// MEMBER_ID_REQUIRED that never joined can leave too. v5 reasons are
// accepted and ignored.
//
// Errors: INVALID_GROUP_ID; per member UNKNOWN_MEMBER_ID (also for a group
// that does not exist, at the top level too) and FENCED_INSTANCE_ID (an
// instance id given with another member's id); COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleLeaveGroup(r *netloop.Request, req *kmsg.LeaveGroupRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) leaveGroup(call *groupCall, req *kmsg.LeaveGroupRequest) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Version < 3 {
		resp.ErrorCode = c.leaveOne(req.MemberID, nil)
		call.r.Respond(resp)
		return
	}
	for _, lm := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		rm.ErrorCode = c.leaveOne(lm.MemberID, lm.InstanceID)
		resp.Members = append(resp.Members, rm)
	}
	call.r.Respond(resp)
}

func (c *groupCoordinator) leaveOne(memberID string, instanceID *string) int16 {
	g := &c.classic
	if instanceID != nil {
		current, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case memberID != "" && memberID != current:
			return kerr.FencedInstanceID.Code
		}
		memberID = current
	}
	if p := g.pending[memberID]; p != nil {
		stopTimer(p.timer)
		delete(g.pending, memberID)
		c.tryCompleteJoin()
		return 0
	}
	m := g.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	c.classicMemberGone(m, "left the group")
	return 0
}
