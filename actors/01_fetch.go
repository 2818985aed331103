package actors

// Fetch (key 1), versions from wire's table.
//
// Behaviour: each partition is read by its actor: from the log cache (tail),
// or through the cold pool from objects when the offset has left the cache.
// A partition the fetch is at the high watermark of is not asked: there is
// nothing to read, and the event loop parks the fetch on it directly.
// Data above the high watermark (not yet fsynced) is never returned. With
// min bytes unmet the fetch parks on its partitions and is woken by new
// durable data, then reads the woken partitions again, or is answered when
// max wait passes. Max bytes and per-partition
// max bytes are honoured, except that the first batch of the first partition
// with data is returned even when larger (KIP-74). read_committed equals
// read_uncommitted: there are no transactions, so the last stable offset is
// the high watermark.
//
// Fetch sessions (KIP-227, v7+) are kept per connection (fetch_session.go):
// epoch 0 opens one, epoch -1 closes one, and an incremental fetch (epoch >
// 0) names only the partitions it changes or forgets, and is answered with
// only the partitions that have news.
//
// Errors: OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID
// (v13+); for sessions FETCH_SESSION_ID_NOT_FOUND and
// INVALID_FETCH_SESSION_EPOCH. Not supported: follower fetches (replica id ≥ 0), rack-aware
// preferred read replicas.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleFetch(r *netloop.Request, req *kmsg.FetchRequest) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	var session *fetchSession
	incremental := false
	if r.Header.Version >= 7 {
		var code int16
		session, incremental, code = b.openSession(r, req)
		if code != 0 {
			b.metrics.fetchSessionError.Inc()
			resp.ErrorCode = code
			r.Respond(resp)
			return
		}
		if session != nil {
			resp.SessionID = session.id
		}
	}
	switch {
	case incremental:
		b.metrics.fetchIncremental.Inc()
	case session != nil:
		b.metrics.fetchOpening.Inc()
	default:
		b.metrics.fetchSessionless.Inc()
	}
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || r.Header.Version < 3 {
		maxBytes = 1 << 30
	}
	fr := &fetchRequest{
		b:           b,
		r:           r,
		resp:        resp,
		session:     session,
		incremental: incremental,
		minBytes:    int(req.MinBytes),
		maxBytes:    maxBytes,
		maxWait:     time.Duration(req.MaxWaitMillis) * time.Millisecond,
	}
	byIDs := r.Header.Version >= 13
	if incremental {
		fr.addSessionParts(byIDs)
	} else {
		fr.addRequestParts(req, byIDs)
	}
	fr.mu.Lock()
	fr.startRound(fr.maxWait > 0 && fr.minBytes > 0, true)
	fr.mu.Unlock()
}

// addRequestParts makes the fetch's partitions those the request names, in
// its order.
func (fr *fetchRequest) addRequestParts(req *kmsg.FetchRequest, byIDs bool) {
	snap := fr.b.reg.load()
	fr.resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &fr.resp.Topics[i]
		*rt = kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		topic := snap.fetchTopic(t.Topic, t.TopicID, byIDs)
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			fr.addPart(topic, i, j, keyOf(t.Topic, t.TopicID, p.Partition, byIDs), p.FetchOffset, p.PartitionMaxBytes, byIDs)
		}
	}
}

// addSessionParts makes the fetch's partitions those of its session, in the
// session's order. Partitions of one topic next to each other share a
// response topic; a topic split by another appears twice, as in Kafka.
func (fr *fetchRequest) addSessionParts(byIDs bool) {
	snap := fr.b.reg.load()
	s := fr.session
	s.mu.Lock()
	defer s.mu.Unlock()
	var topic *topicEntry
	for _, sp := range s.parts {
		ti := len(fr.resp.Topics) - 1
		if ti < 0 || fr.resp.Topics[ti].Topic != sp.key.topic || fr.resp.Topics[ti].TopicID != sp.key.id {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = sp.key.topic, sp.key.id
			fr.resp.Topics = append(fr.resp.Topics, rt)
			ti++
			topic = snap.fetchTopic(sp.key.topic, sp.key.id, byIDs)
		}
		rt := &fr.resp.Topics[ti]
		rt.Partitions = append(rt.Partitions, kmsg.FetchResponseTopicPartition{})
		fr.addPart(topic, ti, len(rt.Partitions)-1, sp.key, sp.offset, sp.maxBytes, byIDs)
	}
}

// addPart adds one partition to the fetch and its answer's entry.
func (fr *fetchRequest) addPart(topic *topicEntry, ti, pi int, key sessionKey, offset int64, maxBytes int32, byIDs bool) {
	rp := &fr.resp.Topics[ti].Partitions[pi]
	*rp = kmsg.NewFetchResponseTopicPartition()
	rp.Partition = key.partition
	rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
	part := fetchPart{topicIndex: ti, partIndex: pi, key: key, offset: offset, maxBytes: maxBytes}
	if topic == nil || key.partition < 0 || int(key.partition) >= len(topic.partitions) {
		part.code = kerr.UnknownTopicOrPartition.Code
		if byIDs {
			part.code = kerr.UnknownTopicID.Code
		}
	} else {
		part.ref = topic.partitions[key.partition]
	}
	fr.parts = append(fr.parts, part)
}
