package actors

// CreateTopics (key 19), versions from wire's table.
//
// Behaviour: handled by the topic manager (it writes the metadata store).
// num_partitions -1 means the broker default (v4+); replication factor -1 or
// 1 is accepted, any other is INVALID_REPLICATION_FACTOR (one copy on this
// broker, durability from the WAL and object storage). Manual replica
// assignments are refused with INVALID_REPLICA_ASSIGNMENT. validate_only
// checks everything and creates nothing. v5+ responses carry the partition
// count, replication factor and the topic's configs.
//
// Errors: TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
// INVALID_CONFIG, INVALID_REQUEST for a name given twice.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/wire"
)

// maxPartitionsPerTopic bounds one request's work and the actors it spawns.
const maxPartitionsPerTopic = 10000

func (b *Broker) handleCreateTopics(r *netloop.Request, req *kmsg.CreateTopicsRequest) {
	b.send(b.topics, &createTopicsMsg{r: r, req: req})
}

func (tm *topicManager) createTopics(m *createTopicsMsg) {
	resp := m.req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int)
	for _, t := range m.req.Topics {
		seen[t.Topic]++
	}
	for _, t := range m.req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		code, msg := tm.createOne(&rt, t, m.req.ValidateOnly, seen[t.Topic] > 1)
		rt.ErrorCode = code
		if msg != "" {
			rt.ErrorMessage = &msg
		}
		if code != 0 {
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
		}
		resp.Topics = append(resp.Topics, rt)
	}
	m.r.Respond(resp)
}

func (tm *topicManager) createOne(rt *kmsg.CreateTopicsResponseTopic, t kmsg.CreateTopicsRequestTopic, validateOnly, duplicate bool) (int16, string) {
	partitions := t.NumPartitions
	if partitions == -1 {
		partitions = tm.b.cfg.DefaultPartitions
	}
	configs := make(map[string]string)
	for _, c := range t.Configs {
		if c.Value == nil {
			continue
		}
		if err := validateTopicConfig(c.Name, *c.Value); err != nil {
			return kerr.InvalidConfig.Code, err.Error()
		}
		configs[c.Name] = *c.Value
	}
	switch {
	case duplicate:
		return kerr.InvalidRequest.Code, "topic named more than once in the request"
	case wire.ValidateTopicName(t.Topic) != nil:
		return kerr.InvalidTopicException.Code, wire.ValidateTopicName(t.Topic).Error()
	case tm.b.reg.load().byName[t.Topic] != nil:
		return kerr.TopicAlreadyExists.Code, fmt.Sprintf("topic %q already exists", t.Topic)
	case partitions <= 0 || partitions > maxPartitionsPerTopic:
		return kerr.InvalidPartitions.Code, fmt.Sprintf("partitions must be in [1, %d]", maxPartitionsPerTopic)
	case t.ReplicationFactor != -1 && t.ReplicationFactor != 1:
		return kerr.InvalidReplicationFactor.Code, "floe keeps one copy: replication factor must be 1 or -1"
	case len(t.ReplicaAssignment) > 0:
		return kerr.InvalidReplicaAssignment.Code, "manual replica assignment is not supported"
	}
	rt.NumPartitions, rt.ReplicationFactor = partitions, 1
	rt.Configs = describeTopicConfigsForCreate(parseTopicConfig(configs))
	if validateOnly {
		return 0, ""
	}
	te, err := tm.createTopic(t.Topic, partitions, configs)
	if errors.Is(err, meta.ErrTopicExists) {
		return kerr.TopicAlreadyExists.Code, err.Error()
	}
	if err != nil {
		tm.b.log.Error("create topic", "topic", t.Topic, "err", err)
		return kerr.UnknownServerError.Code, err.Error()
	}
	rt.TopicID = te.id
	return 0, ""
}

func describeTopicConfigsForCreate(c topicConfig) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, dc := range topicConfigs(c) {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name = dc.name
		value := dc.value
		rc.Value = &value
		rc.Source = int8(dc.source)
		out = append(out, rc)
	}
	return out
}
