package actors

// OffsetDelete (key 47), version 0 (KIP-496).
//
// Behaviour: served by the group's coordinator. Offsets of topics the group
// is not subscribed to are deleted in one metadata-store transaction,
// fsynced before the answer. Subscriptions come from the members: for a
// classic group of protocol type "consumer", each member's subscription in
// its protocol metadata (an undecodable one counts as subscribed to every
// topic, as in Kafka); for a KIP-848 group, the members' subscribed topic
// names and regexes. An empty group is subscribed to nothing. Deleting a
// partition without a committed offset succeeds.
//
// Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (a classic
// group with members and a protocol type other than "consumer"), per
// partition GROUP_SUBSCRIBED_TO_TOPIC and UNKNOWN_TOPIC_OR_PARTITION,
// COORDINATOR_NOT_AVAILABLE (the metadata store failed the delete),
// COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

func (b *Broker) handleOffsetDelete(r *netloop.Request, req *kmsg.OffsetDeleteRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) offsetDelete(call *groupCall, req *kmsg.OffsetDeleteRequest) {
	if !c.exists() {
		call.answerError(kerr.GroupIDNotFound.Code)
		return
	}
	subscribed, known := c.subscribedTopics()
	if !known {
		call.answerError(kerr.NonEmptyGroup.Code)
		return
	}
	snap := c.b.reg.load()
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var deleting []meta.TopicPartition
	var slots []*kmsg.OffsetDeleteResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		topic := snap.byName[t.Topic]
		rt.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case topic == nil || p.Partition < 0 || int(p.Partition) >= len(topic.partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case subscribed == nil || subscribed[t.Topic]:
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				tp := meta.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if _, ok := c.offsets[tp]; ok {
					deleting = append(deleting, tp)
					slots = append(slots, rp)
				}
			}
		}
	}
	if len(deleting) == 0 {
		call.r.Respond(resp)
		return
	}
	c.write(meta.GroupChange{Group: c.name, DeleteOffsets: deleting}, func(err error) {
		if err != nil {
			for _, rp := range slots {
				rp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
		} else {
			for _, tp := range deleting {
				delete(c.offsets, tp)
			}
			c.publish() // before the answer, as for commits
		}
		call.r.Respond(resp)
	})
}

// subscribedTopics returns the topics the group's members subscribe to: an
// empty set for a group without members, nil for "every topic" (a
// subscription we cannot read), and known false for a classic group whose
// protocol type says nothing about topics.
func (c *groupCoordinator) subscribedTopics() (topics map[string]bool, known bool) {
	if c.isConsumerGroup() {
		return c.consumerSubscribedTopics(), true
	}
	g := &c.classic
	topics = make(map[string]bool)
	if len(g.members) == 0 {
		return topics, true
	}
	if g.protocolType != "consumer" {
		return nil, false
	}
	for _, m := range g.members {
		metadata := m.metadataFor(g.protocol)
		if g.protocol == "" && len(m.protocols) > 0 {
			metadata = m.protocols[0].Metadata
		}
		var sub kmsg.ConsumerMemberMetadata
		if err := sub.ReadFrom(metadata); err != nil {
			return nil, true
		}
		for _, t := range sub.Topics {
			topics[t] = true
		}
	}
	return topics, true
}
