package actors

// Fetch (key 1), versions from wire's table.
//
// Behaviour: each partition is read by its actor: from the log cache (tail),
// or through the cold pool from objects when the offset has left the cache.
// Data above the high watermark (not yet fsynced) is never returned. With
// min bytes unmet the fetch parks on its partitions and is woken by new
// durable data, or answered when max wait passes. Max bytes and per-partition
// max bytes are honoured, except that the first batch of the first partition
// with data is returned even when larger (KIP-74). read_committed equals
// read_uncommitted: there are no transactions, so the last stable offset is
// the high watermark.
//
// Fetch sessions (KIP-227) are declined the way the protocol allows: every
// response carries session id 0, so clients send full fetches; a request
// naming an existing session gets FETCH_SESSION_ID_NOT_FOUND.
//
// Errors: OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID
// (v13+). Not supported: follower fetches (replica id ≥ 0), rack-aware
// preferred read replicas.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleFetch(r *netloop.Request, req *kmsg.FetchRequest) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		r.Respond(resp)
		return
	}
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || r.Header.Version < 3 {
		maxBytes = 1 << 30
	}
	fr := &fetchRequest{
		b:        b,
		r:        r,
		resp:     resp,
		minBytes: int(req.MinBytes),
		maxBytes: maxBytes,
		maxWait:  time.Duration(req.MaxWaitMillis) * time.Millisecond,
	}
	snap := b.reg.load()
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		var topic *topicEntry
		unknown := kerr.UnknownTopicOrPartition.Code
		if r.Header.Version >= 13 {
			topic = snap.byID[t.TopicID]
			unknown = kerr.UnknownTopicID.Code
		} else {
			topic = snap.byName[t.Topic]
		}
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
			part := fetchPart{topicIndex: i, partIndex: j, offset: p.FetchOffset, maxBytes: p.PartitionMaxBytes}
			if topic == nil || p.Partition < 0 || int(p.Partition) >= len(topic.partitions) {
				part.code = unknown
			} else {
				part.ref = topic.partitions[p.Partition]
			}
			fr.parts = append(fr.parts, part)
		}
	}
	fr.mu.Lock()
	fr.startRound(fr.maxWait > 0 && fr.minBytes > 0)
	fr.mu.Unlock()
}
