package actors

// ListOffsets (key 2), versions from wire's table.
//
// Behaviour: latest (-1) is the high watermark and earliest (-2) the log start
// offset, both read lock-free from what the partition actor publishes; max
// timestamp (-3, KIP-734) and a timestamp go to the partition actor, which
// answers the first record at or after the time, as Kafka does, reading the
// one batch that holds it (see partition.lookupTime). Isolation levels are
// equal: no transactions.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION. Not supported: v0's multiple old-style
// offsets (v0 is not in the version table).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

type listOffsetsRequest struct {
	fanIn
	slots []*kmsg.ListOffsetsResponseTopicPartition
}

func (lr *listOffsetsRequest) done(slot int, code int16, offset, timestamp int64) {
	p := lr.slots[slot]
	p.ErrorCode, p.Offset, p.Timestamp = code, offset, timestamp
	lr.finished()
}

func (b *Broker) handleListOffsets(r *netloop.Request, req *kmsg.ListOffsetsRequest) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	lr := &listOffsetsRequest{}
	snap := b.reg.load()
	total := 0
	for _, t := range req.Topics {
		total += len(t.Partitions)
	}
	lr.start(r, resp, total)
	lr.slots = make([]*kmsg.ListOffsetsResponseTopicPartition, total) // never resized: see handleProduce
	next := 0
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderEpoch = 0
			slot := next
			next++
			lr.slots[slot] = rp
			_, ref := snap.partition(t.Topic, p.Partition)
			switch {
			case ref == nil:
				lr.done(slot, kerr.UnknownTopicOrPartition.Code, -1, -1)
			case p.Timestamp == -1:
				lr.done(slot, 0, ref.highWatermark.Load(), -1)
			case p.Timestamp == -2:
				lr.done(slot, 0, ref.logStartOffset.Load(), -1)
			default:
				b.send(ref.pid, &listOffsetMsg{lr: lr, slot: slot, timestamp: p.Timestamp})
			}
		}
	}
	lr.sent()
}
