package actors

// DeleteTopics (key 20), versions from wire's table.
//
// Behaviour: handled by the topic manager: the topic leaves the metadata
// store and the registry, its partition actors stop; its streams are recorded
// as deleted so their objects can be removed by retention. Topics may be named
// or, from v6, given by id.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

func (b *Broker) handleDeleteTopics(r *netloop.Request, req *kmsg.DeleteTopicsRequest) {
	b.send(b.topics, &deleteTopicsMsg{r: r, req: req})
}

func (tm *topicManager) deleteTopics(m *deleteTopicsMsg) {
	resp := m.req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	names := m.req.TopicNames
	var ids [][16]byte
	if len(m.req.Topics) > 0 {
		names = names[:0]
		for _, t := range m.req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			} else {
				ids = append(ids, t.TopicID)
			}
		}
	}
	for _, name := range names {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		rt.Topic = &n
		t := tm.b.reg.load().byName[name]
		if t != nil {
			rt.TopicID = t.id
		}
		rt.ErrorCode = tm.deleteTopic(t)
		resp.Topics = append(resp.Topics, rt)
	}
	for _, id := range ids {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.TopicID = id
		t := tm.b.reg.load().byID[id]
		if t == nil {
			rt.ErrorCode = kerr.UnknownTopicID.Code
		} else {
			n := t.name
			rt.Topic = &n
			rt.ErrorCode = tm.deleteTopic(t)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	m.r.Respond(resp)
}

func (tm *topicManager) deleteTopic(t *topicEntry) int16 {
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code
	}
	if _, err := tm.b.deps.Meta.DeleteTopic(t.name); err != nil && !errors.Is(err, meta.ErrUnknownTopic) {
		tm.b.log.Error("delete topic", "topic", t.name, "err", err)
		return kerr.UnknownServerError.Code
	}
	tm.b.reg.update(func(s *snapshot) { s.remove(t) })
	for _, p := range t.partitions {
		tm.b.deps.Actors.Stop(p.pid)
	}
	tm.b.log.Info("topic deleted", "topic", t.name)
	return 0
}
