package actors

// DescribeGroups (key 15), versions from wire's table (0..6).
//
// Behaviour: the group manager splits the request by group; each
// coordinator describes its classic group: state, protocol type, selected
// protocol and members with client id and host. As in Kafka, members carry
// their metadata (for the selected protocol) and assignment only while the
// group is Stable. A group that does not exist is "Dead" with no error
// before v6 and GROUP_ID_NOT_FOUND from v6 (KIP-1043); so is a KIP-848
// consumer group, which ConsumerGroupDescribe describes. Authorized
// operations (v3+) are not computed: the field keeps its "not requested"
// value.
//
// Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND (v6+),
// COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleDescribeGroups(r *netloop.Request, _ *kmsg.DescribeGroupsRequest) {
	b.sendGroupCall(r)
}

// describeGroupPart is one group of a DescribeGroups.
type describeGroupPart struct {
	name    string
	version int16
	slot    *kmsg.DescribeGroupsResponseGroup
	f       *fanIn
}

func (p *describeGroupPart) groupName() string  { return p.name }
func (p *describeGroupPart) createsGroup() bool { return false }
func (p *describeGroupPart) answerError(code int16) {
	p.slot.ErrorCode = code
	p.f.finished()
}

func (p *describeGroupPart) answerAbsent(*Broker) { p.answerMissing("group does not exist") }

func (p *describeGroupPart) answerMissing(detail string) {
	p.slot.State = "Dead"
	if p.version >= 6 {
		p.slot.ErrorCode = kerr.GroupIDNotFound.Code
		p.slot.ErrorMessage = errorMessage(p.slot.ErrorCode, detail)
	}
	p.f.finished()
}

func (m *groupManager) describeGroups(call *groupCall, req *kmsg.DescribeGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	slots := make([]kmsg.DescribeGroupsResponseGroup, len(req.Groups))
	f := &fanIn{shape: func() { resp.Groups = slots }}
	f.start(call.r, resp, len(req.Groups))
	for i, name := range req.Groups {
		slots[i] = kmsg.NewDescribeGroupsResponseGroup()
		slots[i].Group = name
		part := &describeGroupPart{name: name, version: req.Version, slot: &slots[i], f: f}
		if !validGroupID(name) {
			part.answerError(kerr.InvalidGroupID.Code)
			continue
		}
		m.route(part)
	}
	f.sent()
}

func (c *groupCoordinator) describe(p *describeGroupPart) {
	if !c.exists() {
		p.answerAbsent(c.b)
		return
	}
	if c.isConsumerGroup() {
		p.answerMissing("not a classic group: use ConsumerGroupDescribe")
		return
	}
	g := &c.classic
	p.slot.State, p.slot.ProtocolType, p.slot.Protocol = g.state.String(), g.protocolType, g.protocol
	for _, id := range c.sortedMemberIDs() {
		m := g.members[id]
		rm := kmsg.NewDescribeGroupsResponseGroupMember()
		rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		if g.state == stateStable {
			rm.ProtocolMetadata, rm.MemberAssignment = m.metadataFor(g.protocol), m.assignment
		}
		p.slot.Members = append(p.slot.Members, rm)
	}
	p.f.finished()
}
