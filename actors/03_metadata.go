package actors

// Metadata (key 3), versions from wire's table.
//
// Behaviour: one broker (this one) leads every partition, with leader epoch
// 0 and itself as the only replica and ISR. Topic ids are returned from v10.
// A request for all topics (a null list; at v0, an empty one) lists every
// topic. Requested topics
// that do not exist are created when auto-creation is on and the request
// allows it (v4+ flag); the request then goes through the topic manager and
// is answered once they exist. Invalid names get INVALID_TOPIC_EXCEPTION.
//
// Not supported: authorized operations (returned as "unknown", -2147483648),
// topic lookup by id without a name (answered UNKNOWN_TOPIC_ID).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/wire"
)

func (b *Broker) handleMetadata(r *netloop.Request, req *kmsg.MetadataRequest) {
	if r.Header.Version == 0 && len(req.Topics) == 0 {
		req.Topics = nil // v0 has no null list: empty asks for every topic
	}
	if b.cfg.AutoCreateTopics && (r.Header.Version < 4 || req.AllowAutoTopicCreation) {
		snap := b.reg.load()
		for _, t := range req.Topics {
			if t.Topic != nil && snap.byName[*t.Topic] == nil && wire.ValidateTopicName(*t.Topic) == nil {
				b.send(b.topics, &metadataMsg{r: r, req: req})
				return
			}
		}
	}
	r.Respond(b.metadataResponse(req))
}

// metadataResponse builds the answer from the current snapshot.
func (b *Broker) metadataResponse(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	broker := kmsg.NewMetadataResponseBroker()
	broker.NodeID, broker.Host, broker.Port = b.cfg.NodeID, b.cfg.AdvertiseHost, b.cfg.AdvertisePort
	resp.Brokers = []kmsg.MetadataResponseBroker{broker}
	clusterID := b.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.cfg.NodeID
	snap := b.reg.load()
	if req.Topics == nil {
		for _, t := range sortedTopics(snap) {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
		}
		return resp
	}
	for _, rt := range req.Topics {
		var t *topicEntry
		if rt.Topic != nil {
			t = snap.byName[*rt.Topic]
		} else {
			t = snap.byID[rt.TopicID]
		}
		if t != nil {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
		switch {
		case rt.Topic == nil:
			mt.ErrorCode = kerr.UnknownTopicID.Code
		case wire.ValidateTopicName(*rt.Topic) != nil:
			mt.ErrorCode = kerr.InvalidTopicException.Code
		default:
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

func (b *Broker) metadataTopic(t *topicEntry) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic, mt.TopicID = &name, t.id
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.partitions))
	for i := range t.partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
		p.Leader = b.cfg.NodeID
		p.LeaderEpoch = 0
		p.Replicas = []int32{b.cfg.NodeID}
		p.ISR = []int32{b.cfg.NodeID}
		mt.Partitions[i] = p
	}
	return mt
}
