package actors

// Produce (key 0), versions from wire's table (v3+: record batch v2 only).
//
// Behaviour: each partition's records go to its partition actor, which
// validates the batch (framing, CRC32C, max.message.bytes, idempotent
// sequence), assigns offsets and hands the batch to its WAL shard. acks=1 and
// acks=all are answered once the WAL has fsynced the batch (floe has one copy
// on local disk until upload, so both mean the same); acks=0 releases the
// connection's slot at once and is never answered; when one of its
// partitions refuses its batch, the connection is closed after the answers
// to the requests before it (netloop's Request.Fail), as Kafka closes it,
// so that the client notices and refreshes its metadata. A WAL failure
// after an acks=0 batch was handed over is not reported on that
// connection (nothing waits for it); the broker's sticky storage error
// refuses the next one.
// An idempotent producer's state on a partition is kept for
// --producer-id-expiration after its last write (KIP-854); a producer that
// comes back later starts afresh (KIP-360).
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION (the topic is auto-created in the
// background when allowed, so a retry succeeds), INVALID_TOPIC_EXCEPTION,
// CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_FOR_MESSAGE_FORMAT,
// MESSAGE_TOO_LARGE, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
// REQUEST_TIMED_OUT (not durable within the request's timeout; it may still
// become durable), NOT_ENOUGH_REPLICAS (refused, not written: the WAL is full
// or its queue over its limit — retriable backpressure),
// KAFKA_STORAGE_ERROR after a WAL write or fsync failure.
//
// On a topic with message.timestamp.type=LogAppendTime the partition stamps
// each batch with its append time (timestamp-type bit, max timestamp, CRC)
// before the WAL sees it, and answers that time in LogAppendTime.
//
// Not supported: transactions. A request with a transactional id gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (with acks=0, a closed connection);
// transactional batches get INVALID_TXN_STATE.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/wire"
)

// produceRequest is one Produce fanned out to its partitions.
type produceRequest struct {
	fanIn
	slots    []*kmsg.ProduceResponseTopicPartition
	acks     int16
	version  int16 // of the request: zstd needs v7+
	deadline int64 // unix nanos
	received int64 // unix nanos: when the loop read the request
	// fail closes an acks=0 request's connection when a batch is refused.
	fail func(reason string)
}

func (pr *produceRequest) done(slot int, code int16, base, logStart int64) {
	p := pr.slots[slot]
	p.ErrorCode = code
	if code != 0 && pr.silent {
		pr.fail("acks=0 produce refused: " + kerr.ErrorForCode(code).Error())
	}
	p.BaseOffset = base
	p.LogStartOffset = logStart
	pr.finished()
}

// durable answers a slot whose batch is durable at base; appendTime is its
// LogAppendTime (ms), -1 on a CreateTime topic.
func (pr *produceRequest) durable(slot int, base, logStart, appendTime int64) {
	pr.slots[slot].LogAppendTime = appendTime
	pr.done(slot, 0, base, logStart)
}

func (b *Broker) handleProduce(r *netloop.Request, req *kmsg.ProduceRequest) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if req.TransactionID != nil {
		// No transaction coordinator: refuse at the request level. An
		// acks=0 client reads no answer, and one would put its next
		// answer out of step; Kafka closes such a connection instead.
		if req.Acks == 0 {
			r.Close("transactional produce with acks=0: floe has no transactions")
			return
		}
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		r.Respond(resp)
		return
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	pr := &produceRequest{acks: req.Acks, version: req.Version, deadline: r.Received.Add(timeout).UnixNano(), received: r.Received.UnixNano()}
	pr.silent, pr.fail = req.Acks == 0, r.Fail
	snap := b.reg.load()
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	total := 0
	for i := range req.Topics {
		resp.Topics[i] = kmsg.NewProduceResponseTopic()
		resp.Topics[i].Topic = req.Topics[i].Topic
		resp.Topics[i].Partitions = make([]kmsg.ProduceResponseTopicPartition, len(req.Topics[i].Partitions))
		total += len(req.Topics[i].Partitions)
	}
	// Full length before any send: partitions read their own element while
	// the loop below fills later ones; the slice itself never changes.
	pr.slots = make([]*kmsg.ProduceResponseTopicPartition, total)
	next := 0
	pr.start(r, resp, total)
	resp.ThrottleMillis = b.walThrottleMillis()
	if req.Acks == 0 {
		r.Skip()
	}
	for i, t := range req.Topics {
		topic := snap.byName[t.Topic]
		nameErr := wire.ValidateTopicName(t.Topic)
		if topic == nil && nameErr == nil && b.cfg.AutoCreateTopics {
			b.autoCreate(t.Topic)
		}
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.BaseOffset = -1
			slot := next
			next++
			pr.slots[slot] = rp
			var code int16
			var ref *partitionRef
			switch {
			case nameErr != nil:
				code = kerr.InvalidTopicException.Code
			case topic == nil:
				code = kerr.UnknownTopicOrPartition.Code
			default:
				_, ref = snap.partition(t.Topic, p.Partition)
				if ref == nil {
					code = kerr.UnknownTopicOrPartition.Code
				} else if !b.walAdmit(ref, len(p.Records)) {
					// NOT_ENOUGH_REPLICAS: retriable, and it tells the
					// client nothing was written (REQUEST_TIMED_OUT would
					// mean "maybe written", which an idempotent producer
					// can never give up on). floe's durable replica is the
					// WAL, and it has no room.
					b.metrics.produceRefused.Inc()
					code = kerr.NotEnoughReplicas.Code
				}
			}
			if code != 0 {
				pr.done(slot, code, -1, -1)
				continue
			}
			b.send(ref.pid, &produceMsg{pr: pr, slot: slot, records: p.Records, config: topic.configs})
		}
	}
	pr.sent()
}

// walAdmit refuses a produce when its WAL shard is full or too much is queued
// for it: the producer gets a retriable error instead of the broker buffering
// without bound. It reads atomics only (it runs on the event loop).
func (b *Broker) walAdmit(ref *partitionRef, size int) bool {
	queued := b.walQueued.Load()
	if queued+int64(size) > b.cfg.WALQueueBytes {
		return false
	}
	w := b.deps.WALs[ref.wal]
	return w.Used()+queued+int64(size) <= w.Capacity()
}

// walThrottleMillis asks producers to slow down as the WALs fill (KIP-219
// throttling; clients wait that long before their next produce).
func (b *Broker) walThrottleMillis() int32 {
	worst := b.walFullness()
	if worst < 0.75 {
		return 0
	}
	return int32((worst - 0.75) * 4 * 1000)
}

// walFullness is the share of its capacity the fullest WAL shard holds.
func (b *Broker) walFullness() float64 {
	var worst float64
	for _, w := range b.deps.WALs {
		worst = max(worst, float64(w.Used())/float64(w.Capacity()))
	}
	return worst
}
