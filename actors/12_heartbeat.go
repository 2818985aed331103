package actors

// Heartbeat (key 12), versions from wire's table (0..4).
//
// Behaviour: served by the group's coordinator; moves the member's session
// deadline (no timer is touched: the session timer checks the deadline when
// it fires). In PreparingRebalance the answer is REBALANCE_IN_PROGRESS,
// which is how members learn to rejoin. v3+ carries the instance id of a
// static member (KIP-345).
//
// Errors, in Kafka's order: INVALID_GROUP_ID, FENCED_INSTANCE_ID,
// UNKNOWN_MEMBER_ID (also for a group that does not exist),
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleHeartbeat(r *netloop.Request, req *kmsg.HeartbeatRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) heartbeat(call *groupCall, req *kmsg.HeartbeatRequest) {
	m, code := c.validateClassicMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		call.answerError(code)
		return
	}
	m.heartbeatReceived()
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	switch c.classic.state {
	case statePreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	call.r.Respond(resp)
}
