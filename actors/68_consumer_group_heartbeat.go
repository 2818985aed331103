package actors

// ConsumerGroupHeartbeat (key 68), versions from wire's table (0..1),
// KIP-848.
//
// Behaviour: served by the group's coordinator (see group_consumer.go for
// epochs and reconciliation). Member epoch 0 joins (v1: with a member id
// the client made; v0: the broker makes one), -1 leaves, -2 is a static
// member leaving for a while, anything else is a heartbeat at that epoch.
// The assignment is computed on the broker by the member's server assignor,
// "uniform" (the default) or "range"; a join must report no owned
// partitions. An answer carries the assignment on a join, on a full
// heartbeat (rebalance timeout, subscription and owned partitions all
// given) and whenever it changed. A heartbeat at the member's previous
// epoch is accepted when its owned partitions are a subset of what it was
// given (a lost answer). v1 subscribes by regex (Go's RE2 syntax, matched
// against the whole topic name, like Kafka's RE2/J). A subscribed topic
// that gains partitions moves the group epoch at the next heartbeat. An
// empty classic group becomes a consumer group on its first join.
//
// Errors: INVALID_GROUP_ID, INVALID_REQUEST (a malformed join or epoch),
// UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, UNSUPPORTED_ASSIGNOR,
// UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED,
// INVALID_REGULAR_EXPRESSION (v1), GROUP_ID_NOT_FOUND (a classic group with
// members), COORDINATOR_LOAD_IN_PROGRESS.
//
// Not supported: rack-aware assignment (racks are kept and described,
// not used), client-side assignors, classic members in a consumer group.

import (
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleConsumerGroupHeartbeat(r *netloop.Request, req *kmsg.ConsumerGroupHeartbeatRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) consumerGroupHeartbeat(call *groupCall, req *kmsg.ConsumerGroupHeartbeatRequest) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.HeartbeatIntervalMillis = int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds())
	fail := func(code int16, detail string) {
		resp.ErrorCode, resp.ErrorMessage = code, errorMessage(code, detail)
		call.r.Respond(resp)
	}
	if code, detail := validateConsumerHeartbeat(req); code != 0 {
		fail(code, detail)
		return
	}
	if !c.isConsumerGroup() {
		if c.classic.hasMembers() {
			fail(kerr.GroupIDNotFound.Code, "the group is a classic group with members")
			return
		}
		if req.MemberEpoch != 0 {
			fail(kerr.UnknownMemberID.Code, "")
			return
		}
		c.becomeConsumerGroup()
	}
	c.refreshTopicMetadata()
	var code int16
	var detail string
	switch req.MemberEpoch {
	case 0:
		code, detail = c.consumerJoin(call, req, resp)
	case -1, memberEpochStaticLeave:
		code = c.consumerLeave(req, resp)
	default:
		code = c.consumerHeartbeat(req, resp)
	}
	c.updateConsumerState()
	if code != 0 {
		fail(code, detail)
		return
	}
	call.r.Respond(resp)
}

// validateConsumerHeartbeat applies Kafka's request checks.
func validateConsumerHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) (int16, string) {
	switch {
	case req.MemberEpoch < memberEpochStaticLeave:
		return kerr.InvalidRequest.Code, "MemberEpoch is invalid"
	case req.MemberEpoch != 0 && req.MemberID == "":
		return kerr.InvalidRequest.Code, "MemberId can't be empty"
	case req.MemberEpoch == 0 && req.Version >= 1 && req.MemberID == "":
		return kerr.InvalidRequest.Code, "MemberId can't be empty"
	case req.MemberEpoch == 0 && req.RebalanceTimeoutMillis <= 0:
		return kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request"
	case req.MemberEpoch == 0 && (req.Topics == nil || len(req.Topics) > 0):
		return kerr.InvalidRequest.Code, "TopicPartitions must be empty when (re-)joining"
	case req.MemberEpoch == 0 && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return kerr.InvalidRequest.Code, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request"
	case req.ServerAssignor != nil && !validAssignor(*req.ServerAssignor):
		return kerr.UnsupportedAssignor.Code, "ServerAssignor " + *req.ServerAssignor + " is not supported: uniform or range"
	}
	if req.SubscribedTopicRegex != nil {
		if _, err := compileTopicRegex(*req.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression.Code, err.Error()
		}
	}
	return 0, ""
}

// compileTopicRegex compiles a subscription regex that must match a whole
// topic name.
func compileTopicRegex(source string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + source + ")$")
}

func (c *groupCoordinator) consumerJoin(call *groupCall, req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) (int16, string) {
	g := &c.consumer
	id := req.MemberID
	if id == "" {
		id = newMemberID(call.clientID, req.InstanceID)
	}
	var inherit *consumerMember
	if req.InstanceID != nil {
		if oldID, ok := g.static[*req.InstanceID]; ok && oldID != id {
			if old := g.members[oldID]; old != nil {
				if old.epoch != memberEpochStaticLeave {
					return kerr.UnreleasedInstanceID.Code, "instance id " + *req.InstanceID + " is still in use"
				}
				inherit = old
			}
		}
	}
	if prev := g.members[id]; prev != nil {
		if prev.epoch != memberEpochStaticLeave {
			return c.consumerRejoin(call, req, resp, prev)
		}
		inherit = prev
	}
	if inherit == nil && g.activeMembers() >= c.cfg.MaxSize {
		return kerr.GroupMaxSizeReached.Code, ""
	}
	m := &consumerMember{
		id: id, clientID: call.clientID, clientHost: clientHost(call.host),
		instanceID: cloneString(req.InstanceID), rackID: cloneString(req.RackID),
		rebalanceTimeout: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		assignor:         assignorUniform,
		target:           make(assignment), assigned: make(assignment), revoking: make(assignment),
	}
	c.updateSubscription(m, req)
	if inherit != nil {
		// The new instance of a static member takes over the old one's
		// partitions (they stayed reserved while it was away).
		m.target, m.assignedEpochs = inherit.target, inherit.assignedEpochs
		assigned := inherit.assigned
		c.removeConsumerMember(inherit)
		g.members[id] = m
		g.setOwned(m, assigned.clone(), make(assignment))
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	if !c.persisted {
		c.writeInfo()
	}
	g.assignor = m.assignor
	c.bumpEpoch()
	c.reconcile(m, true, req.Topics)
	c.touchConsumerMember(m)
	c.armRevokeTimer(m)
	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	resp.Assignment = m.assigned.toResponse()
	return 0, ""
}

// consumerRejoin: an active member joins again with epoch 0 (it lost its
// state, or was told its epoch is stale). It keeps its id and gets its
// assignment again.
func (c *groupCoordinator) consumerRejoin(call *groupCall, req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse, m *consumerMember) (int16, string) {
	m.clientID, m.clientHost, m.rackID = call.clientID, clientHost(call.host), cloneString(req.RackID)
	m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if c.updateSubscription(m, req) {
		c.bumpEpoch()
	}
	// The member owns nothing now (a join reports no partitions): what it
	// was revoking is released, and it is given its target again.
	m.state = reconcileUnreleased
	c.reconcile(m, false, req.Topics)
	c.touchConsumerMember(m)
	c.armRevokeTimer(m)
	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	resp.Assignment = m.assigned.toResponse()
	return 0, ""
}

func (c *groupCoordinator) consumerLeave(req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) int16 {
	g := &c.consumer
	m := g.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	resp.MemberID, resp.MemberEpoch = &m.id, req.MemberEpoch
	if req.MemberEpoch == memberEpochStaticLeave && m.instanceID != nil {
		// Away for a while: the partitions stay reserved (owned at
		// epoch -2) until the session expires or a new instance comes.
		g.release(m, m.revoking)
		m.revoking = make(assignment)
		m.epoch = memberEpochStaticLeave
		g.setOwned(m, m.assigned, m.revoking)
		stopTimer(m.revokeTimer)
		return 0
	}
	c.removeConsumerMember(m)
	c.bumpEpoch()
	return 0
}

func (c *groupCoordinator) consumerHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) int16 {
	g := &c.consumer
	m := g.members[req.MemberID]
	if m == nil || m.epoch == memberEpochStaticLeave {
		if req.InstanceID != nil {
			if owner, ok := g.static[*req.InstanceID]; ok && owner != req.MemberID {
				return kerr.FencedInstanceID.Code
			}
		}
		return kerr.UnknownMemberID.Code
	}
	if req.MemberEpoch != m.epoch {
		// A lost answer: the member may still be at its previous epoch,
		// owning no more than it was given.
		if req.MemberEpoch != m.previousEpoch || req.Topics == nil || !isSubset(req.Topics, m.assigned) {
			return kerr.FencedMemberEpoch.Code
		}
	}
	c.touchConsumerMember(m)
	full := req.RebalanceTimeoutMillis != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil
	subscriptionChanged := false
	if full {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
		if subscriptionChanged = c.updateSubscription(m, req); subscriptionChanged {
			c.bumpEpoch()
		}
	}
	changed := c.reconcile(m, subscriptionChanged, req.Topics)
	if full || changed {
		resp.Assignment = m.assigned.toResponse()
	}
	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	c.armRevokeTimer(m)
	return 0
}

// updateSubscription takes a heartbeat's subscription and assignor (nil
// fields: unchanged) and reports whether anything changed.
func (c *groupCoordinator) updateSubscription(m *consumerMember, req *kmsg.ConsumerGroupHeartbeatRequest) bool {
	changed := false
	if req.SubscribedTopicNames != nil {
		topics := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(topics)
		topics = slices.Compact(topics)
		if !slices.Equal(topics, m.topics) {
			m.topics, changed = topics, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regexSource {
		re, err := compileTopicRegex(*req.SubscribedTopicRegex)
		if err == nil { // validated before
			m.regex, m.regexSource, changed = re, *req.SubscribedTopicRegex, true
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, changed = *req.ServerAssignor, true
		c.consumer.assignor = m.assignor
	}
	return changed
}
