package actors

// ConsumerGroupDescribe (key 69), versions from wire's table (0..1),
// KIP-848.
//
// Behaviour: the group manager splits the request by group; each
// coordinator describes its consumer group: state, group epoch, target
// assignment epoch, assignor, and every member with its epoch, client,
// subscription, current assignment and target assignment. v1 gives each
// member's type (1: consumer protocol). Authorized operations keep their
// "not requested" value.
//
// Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND (no such group, or a classic
// group), COORDINATOR_LOAD_IN_PROGRESS.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleConsumerGroupDescribe(r *netloop.Request, _ *kmsg.ConsumerGroupDescribeRequest) {
	b.sendGroupCall(r)
}

// consumerDescribePart is one group of a ConsumerGroupDescribe.
type consumerDescribePart struct {
	name string
	slot *kmsg.ConsumerGroupDescribeResponseGroup
	f    *fanIn
}

func (p *consumerDescribePart) groupName() string  { return p.name }
func (p *consumerDescribePart) createsGroup() bool { return false }
func (p *consumerDescribePart) answerAbsent(*Broker) {
	p.answerErrorDetail(kerr.GroupIDNotFound.Code, "group does not exist")
}
func (p *consumerDescribePart) answerError(code int16) { p.answerErrorDetail(code, "") }

func (p *consumerDescribePart) answerErrorDetail(code int16, detail string) {
	p.slot.ErrorCode, p.slot.ErrorMessage = code, errorMessage(code, detail)
	p.f.finished()
}

func (m *groupManager) consumerGroupDescribe(call *groupCall, req *kmsg.ConsumerGroupDescribeRequest) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	slots := make([]kmsg.ConsumerGroupDescribeResponseGroup, len(req.Groups))
	f := &fanIn{shape: func() { resp.Groups = slots }}
	f.start(call.r, resp, len(req.Groups))
	for i, name := range req.Groups {
		slots[i] = kmsg.NewConsumerGroupDescribeResponseGroup()
		slots[i].Group = name
		part := &consumerDescribePart{name: name, slot: &slots[i], f: f}
		if !validGroupID(name) {
			part.answerError(kerr.InvalidGroupID.Code)
			continue
		}
		m.route(part)
	}
	f.sent()
}

func (c *groupCoordinator) consumerDescribe(p *consumerDescribePart) {
	if !c.exists() {
		p.answerAbsent(c.b)
		return
	}
	if !c.isConsumerGroup() {
		p.answerErrorDetail(kerr.GroupIDNotFound.Code, "not a consumer group: use DescribeGroups")
		return
	}
	g := &c.consumer
	p.slot.State, p.slot.Epoch, p.slot.AssignmentEpoch = g.state.String(), g.epoch, g.targetEpoch
	p.slot.AssignorName = g.assignor
	if p.slot.AssignorName == "" {
		p.slot.AssignorName = assignorUniform
	}
	for _, id := range sortedKeys(g.members) {
		m := g.members[id]
		rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.id, m.instanceID, m.rackID, m.epoch
		rm.ClientID, rm.ClientHost = m.clientID, m.clientHost
		rm.SubscribedTopics = append([]string(nil), m.topics...)
		if m.regex != nil {
			source := m.regexSource
			rm.SubscribedTopicRegex = &source
		}
		rm.Assignment, rm.TargetAssignment = m.assigned.toDescribe(), m.target.toDescribe()
		rm.MemberType = 1
		p.slot.Members = append(p.slot.Members, rm)
	}
	p.f.finished()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
