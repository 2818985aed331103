package actors

// OffsetFetch (key 9), versions from wire's table (1..10).
//
// Behaviour: the group manager splits the request by group (v8+ asks for
// several groups at once, KIP-709) and each coordinator answers from its
// committed offsets, which hold only what the metadata store has made
// durable. A null topic list (v2+) means every committed offset of the
// group. A partition without a commit is answered with offset -1 and no
// error, as Kafka does; so is an offset of a topic that was deleted (or
// deleted and created again: offsets remember the topic id). A group that
// does not exist answers the same way. require_stable (v7+, KIP-447) needs
// nothing: without transactions no offset is ever unstable. v9 carries a
// KIP-848 member id and epoch, checked for consumer groups. v10 names
// topics by id.
//
// Errors: INVALID_GROUP_ID (per group v8+, else top level),
// UNKNOWN_MEMBER_ID and STALE_MEMBER_EPOCH (v9, KIP-848 groups),
// UNKNOWN_TOPIC_ID (v10), COORDINATOR_LOAD_IN_PROGRESS.
//
// Not supported: v0 (offsets kept in ZooKeeper; removed in Kafka 4.0).

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

func (b *Broker) handleOffsetFetch(r *netloop.Request, _ *kmsg.OffsetFetchRequest) {
	b.sendGroupCall(r)
}

// offsetFetchTopic is one requested topic, its name resolved.
type offsetFetchTopic struct {
	name       string
	id         [16]byte
	partitions []int32
	unknownID  bool // v10: an id we do not know
}

// offsetFetchPart is one group's share of an OffsetFetch.
type offsetFetchPart struct {
	name        string
	topics      []offsetFetchTopic // nil: every committed offset
	memberID    *string
	memberEpoch int32
	version     int16
	slot        *kmsg.OffsetFetchResponseGroup
	f           *fanIn
}

func (p *offsetFetchPart) groupName() string  { return p.name }
func (p *offsetFetchPart) createsGroup() bool { return false }
func (p *offsetFetchPart) answerError(code int16) {
	p.slot.ErrorCode = code
	p.f.finished()
}

// answerAbsent: no offsets, no error.
func (p *offsetFetchPart) answerAbsent(*Broker) {
	for _, t := range p.topics {
		p.slot.Topics = append(p.slot.Topics, offsetFetchMissing(t))
	}
	p.f.finished()
}

// offsetFetch splits a request by group; v0-7 ask for one group, answered
// in the old shape.
func (m *groupManager) offsetFetch(call *groupCall, req *kmsg.OffsetFetchRequest) {
	snap := m.b.reg.load()
	groups := req.Groups
	if req.Version < 8 {
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = req.Group
		if req.Topics != nil || req.Version < 2 {
			g.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
			for _, t := range req.Topics {
				gt := kmsg.NewOffsetFetchRequestGroupTopic()
				gt.Topic, gt.Partitions = t.Topic, t.Partitions
				g.Topics = append(g.Topics, gt)
			}
		}
		groups = []kmsg.OffsetFetchRequestGroup{g}
	}
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	slots := make([]kmsg.OffsetFetchResponseGroup, len(groups))
	f := &fanIn{shape: func() {
		if req.Version >= 8 {
			resp.Groups = slots
		} else {
			oldOffsetFetchResponse(resp, &slots[0])
		}
	}}
	f.start(call.r, resp, len(groups))
	for i, g := range groups {
		slots[i] = kmsg.NewOffsetFetchResponseGroup()
		slots[i].Group = g.Group
		part := &offsetFetchPart{name: g.Group, memberID: g.MemberID, memberEpoch: g.MemberEpoch, version: req.Version, slot: &slots[i], f: f}
		if g.Topics != nil {
			part.topics = make([]offsetFetchTopic, 0, len(g.Topics))
			for _, t := range g.Topics {
				ft := offsetFetchTopic{name: t.Topic, id: t.TopicID, partitions: t.Partitions}
				if req.Version >= 10 {
					if te := snap.byID[t.TopicID]; te != nil {
						ft.name = te.name
					} else {
						ft.unknownID = true
					}
				}
				part.topics = append(part.topics, ft)
			}
		}
		if !validGroupID(g.Group) {
			part.answerError(kerr.InvalidGroupID.Code)
			continue
		}
		m.route(part)
	}
	f.sent()
}

// oldOffsetFetchResponse puts one group's answer in the v0-7 shape.
func oldOffsetFetchResponse(resp *kmsg.OffsetFetchResponse, g *kmsg.OffsetFetchResponseGroup) {
	resp.ErrorCode = g.ErrorCode
	for _, t := range g.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			if resp.Version < 2 && g.ErrorCode != 0 {
				rp.ErrorCode = g.ErrorCode // v0-1 have no top-level error
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}

// offsetFetchErrorResponse answers a whole OffsetFetch with code.
func offsetFetchErrorResponse(req *kmsg.OffsetFetchRequest, code int16) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
	g := kmsg.NewOffsetFetchResponseGroup()
	g.ErrorCode = code
	for _, t := range req.Topics {
		g.Topics = append(g.Topics, offsetFetchMissing(offsetFetchTopic{name: t.Topic, partitions: t.Partitions}))
	}
	oldOffsetFetchResponse(resp, &g)
	return resp
}

// fetchOffsets answers one group's part.
func (c *groupCoordinator) fetchOffsets(p *offsetFetchPart) {
	if code := c.validateConsumerFetch(p); code != 0 {
		p.answerError(code)
		return
	}
	snap := c.b.reg.load()
	if p.topics == nil {
		p.slot.Topics = c.allOffsets(snap, p.version)
		p.f.finished()
		return
	}
	for _, t := range p.topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.name, t.id
		for _, partition := range t.partitions {
			rp := offsetFetchPartition(partition)
			o, ok := c.offsets[meta.TopicPartition{Topic: t.name, Partition: partition}]
			switch {
			case t.unknownID:
				rp.ErrorCode = kerr.UnknownTopicID.Code
			case ok && offsetTopicExists(snap, o):
				setFetchedOffset(&rp, o)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		p.slot.Topics = append(p.slot.Topics, rt)
	}
	p.f.finished()
}

// allOffsets lists every committed offset of live topics, sorted.
func (c *groupCoordinator) allOffsets(snap *snapshot, version int16) []kmsg.OffsetFetchResponseGroupTopic {
	tps := make([]meta.TopicPartition, 0, len(c.offsets))
	for tp, o := range c.offsets {
		if offsetTopicExists(snap, o) {
			tps = append(tps, tp)
		}
	}
	sort.Slice(tps, func(i, j int) bool { return lessTopicPartition(tps[i], tps[j]) })
	var out []kmsg.OffsetFetchResponseGroupTopic
	for _, tp := range tps {
		o := c.offsets[tp]
		if len(out) == 0 || out[len(out)-1].Topic != tp.Topic {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = tp.Topic
			if version >= 10 {
				rt.TopicID = snap.byName[tp.Topic].id
			}
			out = append(out, rt)
		}
		rp := offsetFetchPartition(tp.Partition)
		setFetchedOffset(&rp, o)
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, rp)
	}
	return out
}

func offsetFetchPartition(partition int32) kmsg.OffsetFetchResponseGroupTopicPartition {
	rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	empty := ""
	rp.Partition, rp.Offset, rp.Metadata = partition, -1, &empty
	return rp
}

func setFetchedOffset(rp *kmsg.OffsetFetchResponseGroupTopicPartition, o meta.CommittedOffset) {
	metadata := o.Metadata
	rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Offset, o.LeaderEpoch, &metadata
}

// offsetFetchMissing answers a topic's partitions with "no offset".
func offsetFetchMissing(t offsetFetchTopic) kmsg.OffsetFetchResponseGroupTopic {
	rt := kmsg.NewOffsetFetchResponseGroupTopic()
	rt.Topic, rt.TopicID = t.name, t.id
	for _, partition := range t.partitions {
		rp := offsetFetchPartition(partition)
		if t.unknownID {
			rp.ErrorCode = kerr.UnknownTopicID.Code
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}
