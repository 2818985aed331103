package actors

// CreatePartitions (key 37), versions from wire's table.
//
// Behaviour: handled by the topic manager: new partitions get new streams and
// actors; existing partitions are untouched. validate_only checks and changes
// nothing. Manual assignments are refused.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (count not above the
// current one, or above the per-topic limit), INVALID_REPLICA_ASSIGNMENT,
// INVALID_REQUEST for a topic named twice.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

func (b *Broker) handleCreatePartitions(r *netloop.Request, req *kmsg.CreatePartitionsRequest) {
	b.send(b.topics, &createPartitionsMsg{r: r, req: req})
}

func (tm *topicManager) createPartitions(m *createPartitionsMsg) {
	resp := m.req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := make(map[string]int)
	for _, t := range m.req.Topics {
		seen[t.Topic]++
	}
	for _, t := range m.req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		code, msg := tm.createPartitionsOne(t, m.req.ValidateOnly, seen[t.Topic] > 1)
		rt.ErrorCode = code
		if msg != "" {
			rt.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, rt)
	}
	m.r.Respond(resp)
}

func (tm *topicManager) createPartitionsOne(t kmsg.CreatePartitionsRequestTopic, validateOnly, duplicate bool) (int16, string) {
	cur := tm.b.reg.load().byName[t.Topic]
	switch {
	case duplicate:
		return kerr.InvalidRequest.Code, "topic named more than once in the request"
	case cur == nil:
		return kerr.UnknownTopicOrPartition.Code, ""
	case t.Count <= int32(len(cur.partitions)):
		return kerr.InvalidPartitions.Code, fmt.Sprintf("topic has %d partitions; the new count must be larger", len(cur.partitions))
	case t.Count > maxPartitionsPerTopic:
		return kerr.InvalidPartitions.Code, fmt.Sprintf("at most %d partitions per topic", maxPartitionsPerTopic)
	case len(t.Assignment) > 0:
		return kerr.InvalidReplicaAssignment.Code, "manual replica assignment is not supported"
	}
	if validateOnly {
		return 0, ""
	}
	mt, err := tm.b.deps.Meta.AddPartitions(t.Topic, t.Count)
	if err != nil {
		tm.b.log.Error("create partitions", "topic", t.Topic, "err", err)
		return kerr.UnknownServerError.Code, err.Error()
	}
	next := &topicEntry{name: cur.name, id: cur.id, configs: cur.configs, partitions: append([]*partitionRef(nil), cur.partitions...)}
	for _, p := range mt.Partitions[len(cur.partitions):] {
		ref, err := tm.b.spawnPartition(mt.Name, meta.Partition{Index: p.Index, Stream: p.Stream}, nil)
		if err != nil {
			tm.b.log.Error("create partitions", "topic", t.Topic, "err", err)
			return kerr.UnknownServerError.Code, err.Error()
		}
		next.partitions = append(next.partitions, ref)
	}
	tm.b.reg.update(func(s *snapshot) { s.put(next) })
	return 0, ""
}
