package actors

// DeleteRecords (key 21), versions from wire's table.
//
// Behaviour: each partition's log start offset moves forward to the given
// offset (-1 means the high watermark); the partition actor checks and
// applies it, the maintenance actor makes it durable in the metadata store,
// and only then is the partition answered with its new low watermark.
// Objects whose data all lies below the log start offset are deleted by the
// maintenance actor later. An offset at or below the current log start is a
// no-op answered with the current low watermark.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (above the high
// watermark), KAFKA_STORAGE_ERROR if the metadata store write fails.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

type deleteRecordsRequest struct {
	fanIn
	slots []*kmsg.DeleteRecordsResponseTopicPartition
}

func (dr *deleteRecordsRequest) done(slot int, code int16, lowWatermark int64) {
	p := dr.slots[slot]
	p.ErrorCode, p.LowWatermark = code, lowWatermark
	dr.finished()
}

func (b *Broker) handleDeleteRecords(r *netloop.Request, req *kmsg.DeleteRecordsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	dr := &deleteRecordsRequest{}
	snap := b.reg.load()
	total := 0
	for _, t := range req.Topics {
		total += len(t.Partitions)
	}
	dr.start(r, resp, total)
	dr.slots = make([]*kmsg.DeleteRecordsResponseTopicPartition, total) // never resized: see handleProduce
	next := 0
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			slot := next
			next++
			dr.slots[slot] = rp
			_, ref := snap.partition(t.Topic, p.Partition)
			if ref == nil {
				dr.done(slot, kerr.UnknownTopicOrPartition.Code, -1)
				continue
			}
			b.send(ref.pid, &deleteRecordsMsg{dr: dr, slot: slot, offset: p.Offset})
		}
	}
	dr.sent()
}
