package actors

// ListGroups (key 16), versions from wire's table (0..5).
//
// Behaviour: answered by the group manager from the summaries its
// coordinators publish (and, for stored groups nobody has used since the
// start, from the stored record: state Empty). Sorted by group id. v4+
// filters by state (KIP-518) and v5+ by type, "classic" or "consumer"
// (KIP-848); both case-insensitive, as in Kafka. v4+ answers carry the
// state, v5+ the type.
//
// Errors: COORDINATOR_LOAD_IN_PROGRESS.

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleListGroups(r *netloop.Request, _ *kmsg.ListGroupsRequest) {
	b.sendGroupCall(r)
}

func (m *groupManager) listGroups(call *groupCall, req *kmsg.ListGroupsRequest) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	names := make([]string, 0, len(m.groups))
	for name := range m.groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := m.groups[name].currentSummary()
		if !s.exists || !matchesFilter(req.StatesFilter, s.state) || !matchesFilter(req.TypesFilter, s.groupType) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = name, s.protocolType, s.state, s.groupType
		resp.Groups = append(resp.Groups, rg)
	}
	call.r.Respond(resp)
}

// currentSummary is the coordinator's published summary, or the stored
// record's for a group without a coordinator.
func (h *groupHandle) currentSummary() groupSummary {
	if s := h.summary.Load(); s != nil && h.pid != nil {
		return *s
	}
	s := groupSummary{state: stateEmpty.String(), groupType: groupTypeClassic}
	if h.stored != nil {
		s.exists, s.protocolType = true, h.stored.Info.ProtocolType
		if h.stored.Info.Type == groupTypeConsumer {
			s.groupType, s.protocolType = groupTypeConsumer, groupTypeConsumer
		}
	}
	return s
}

func matchesFilter(filter []string, value string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, value) {
			return true
		}
	}
	return false
}
