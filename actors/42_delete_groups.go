package actors

// DeleteGroups (key 42), versions from wire's table (0..3).
//
// Behaviour: the group manager splits the request by group; a coordinator
// deletes its group only when it has no members (classic Empty, or a
// KIP-848 group with no members): the record and every committed offset go
// in one metadata-store transaction, fsynced before the answer. The
// coordinator then retires (see group_service.go); a later request for the
// same group id starts a new group.
//
// Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP,
// COORDINATOR_NOT_AVAILABLE (the metadata store failed the delete),
// COORDINATOR_LOAD_IN_PROGRESS. v3 adds an error message to each error.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleDeleteGroups(r *netloop.Request, _ *kmsg.DeleteGroupsRequest) {
	b.sendGroupCall(r)
}

// deleteGroupPart is one group of a DeleteGroups.
type deleteGroupPart struct {
	name string
	slot *kmsg.DeleteGroupsResponseGroup
	f    *fanIn
}

func (p *deleteGroupPart) groupName() string    { return p.name }
func (p *deleteGroupPart) createsGroup() bool   { return false }
func (p *deleteGroupPart) answerAbsent(*Broker) { p.answerError(kerr.GroupIDNotFound.Code) }
func (p *deleteGroupPart) answerError(code int16) {
	p.slot.ErrorCode = code
	if code != 0 {
		p.slot.ErrorMessage = errorMessage(code, "")
	}
	p.f.finished()
}

func (m *groupManager) deleteGroups(call *groupCall, req *kmsg.DeleteGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	slots := make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	f := &fanIn{shape: func() { resp.Groups = slots }}
	f.start(call.r, resp, len(req.Groups))
	for i, name := range req.Groups {
		slots[i] = kmsg.NewDeleteGroupsResponseGroup()
		slots[i].Group = name
		part := &deleteGroupPart{name: name, slot: &slots[i], f: f}
		if !validGroupID(name) {
			part.answerError(kerr.InvalidGroupID.Code)
			continue
		}
		m.route(part)
	}
	f.sent()
}

func (c *groupCoordinator) deleteGroup(p *deleteGroupPart) {
	switch {
	case !c.exists():
		p.answerAbsent(c.b)
	case c.hasMembers():
		p.answerError(kerr.NonEmptyGroup.Code)
	default:
		c.retire(func(err error) {
			if err != nil {
				c.b.log.Error("deleting a consumer group failed", "group", c.name, "err", err)
				p.answerError(kerr.CoordinatorNotAvailable.Code)
				return
			}
			c.b.log.Info("consumer group deleted", "group", c.name)
			p.answerError(0)
		})
	}
}
