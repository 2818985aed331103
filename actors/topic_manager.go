package actors

import (
	"errors"
	"fmt"
	"sort"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

// Messages the topic manager handles. Each carries the request to answer.
type (
	createTopicsMsg struct {
		r   *netloop.Request
		req *kmsg.CreateTopicsRequest
	}
	deleteTopicsMsg struct {
		r   *netloop.Request
		req *kmsg.DeleteTopicsRequest
	}
	createPartitionsMsg struct {
		r   *netloop.Request
		req *kmsg.CreatePartitionsRequest
	}
	alterConfigsMsg struct {
		r   *netloop.Request
		req *kmsg.IncrementalAlterConfigsRequest
	}
	replaceConfigsMsg struct {
		r   *netloop.Request
		req *kmsg.AlterConfigsRequest
	}
	metadataMsg struct {
		r   *netloop.Request
		req *kmsg.MetadataRequest
	}
	initProducerIDMsg struct {
		r   *netloop.Request
		req *kmsg.InitProducerIDRequest
	}
	autoCreateMsg struct{ name string }
)

// producerIDBlock is how many producer ids are reserved in the metadata store
// at once, so InitProducerId rarely writes to disk.
const producerIDBlock = 1000

// topicManager is the only writer of topics: the metadata store's topic
// records, the registry snapshot, and the partition actors' lifetimes. It runs
// on its own goroutine (background pool) because it writes the metadata store.
type topicManager struct {
	b            *Broker
	nextPID      int64
	pidBlockLeft int64
}

func (b *Broker) topicManagerProducer() actor.Producer {
	return func() actor.Actor { return &topicManager{b: b} }
}

func (tm *topicManager) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *createTopicsMsg:
		tm.createTopics(m)
	case *deleteTopicsMsg:
		tm.deleteTopics(m)
	case *createPartitionsMsg:
		tm.createPartitions(m)
	case *alterConfigsMsg:
		tm.alterConfigs(m)
	case *replaceConfigsMsg:
		tm.replaceConfigs(m)
	case *metadataMsg:
		tm.autoCreateFor(m.r, m.req)
		m.r.Respond(tm.b.metadataResponse(m.req))
	case *initProducerIDMsg:
		tm.initProducerID(m)
	case *autoCreateMsg:
		if tm.b.reg.load().byName[m.name] == nil {
			if _, err := tm.createTopic(m.name, tm.b.cfg.DefaultPartitions, nil); err != nil && !errors.Is(err, meta.ErrTopicExists) {
				tm.b.log.Warn("auto-create failed", "topic", m.name, "err", err)
			}
		}
	}
}

// autoCreate asks the topic manager to create name in the background.
func (b *Broker) autoCreate(name string) { b.send(b.topics, &autoCreateMsg{name: name}) }

func (tm *topicManager) autoCreateFor(_ *netloop.Request, req *kmsg.MetadataRequest) {
	for _, t := range req.Topics {
		if t.Topic == nil || tm.b.reg.load().byName[*t.Topic] != nil {
			continue
		}
		if _, err := tm.createTopic(*t.Topic, tm.b.cfg.DefaultPartitions, nil); err != nil && !errors.Is(err, meta.ErrTopicExists) {
			tm.b.log.Warn("auto-create failed", "topic", *t.Topic, "err", err)
		}
	}
}

// createTopic writes the topic to the metadata store, spawns its partition
// actors and publishes it.
func (tm *topicManager) createTopic(name string, partitions int32, configs map[string]string) (*topicEntry, error) {
	mt, err := tm.b.deps.Meta.CreateTopic(name, partitions, configs)
	if err != nil {
		return nil, err
	}
	t, err := tm.b.openTopic(mt, nil)
	if err != nil {
		return nil, err
	}
	tm.b.reg.update(func(s *snapshot) { s.put(t) })
	tm.b.log.Info("topic created", "topic", name, "partitions", partitions)
	return t, nil
}

// openTopic spawns partition actors for a topic from the metadata store;
// recovered holds state rebuilt at start-up, by stream.
func (b *Broker) openTopic(mt meta.Topic, recovered map[uint64]*partitionLog) (*topicEntry, error) {
	t := &topicEntry{name: mt.Name, id: mt.ID, configs: parseTopicConfig(mt.Configs)}
	for _, p := range mt.Partitions {
		ref, err := b.spawnPartition(mt.Name, p, recovered[p.Stream])
		if err != nil {
			return nil, err
		}
		t.partitions = append(t.partitions, ref)
	}
	return t, nil
}

func (b *Broker) spawnPartition(topic string, p meta.Partition, log *partitionLog) (*partitionRef, error) {
	if log == nil {
		log = &partitionLog{}
	}
	ref := &partitionRef{topic: topic, index: p.Index, stream: p.Stream, wal: int(p.Stream % uint64(len(b.shards)))}
	ref.highWatermark.Store(log.highWatermark)
	ref.logStartOffset.Store(log.logStartOffset)
	pid, err := b.deps.Actors.Spawn(poolPartitions, fmt.Sprintf("partition/%s-%d.%d", topic, p.Index, p.Stream), true, b.partitionProducer(ref, log))
	if err != nil {
		return nil, fmt.Errorf("actors: spawn partition %s-%d: %w", topic, p.Index, err)
	}
	ref.pid = pid
	return ref, nil
}

func (tm *topicManager) initProducerID(m *initProducerIDMsg) {
	resp := m.req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if m.req.TransactionalID != nil {
		resp.ErrorCode = errTransactionsUnsupported
		m.r.Respond(resp)
		return
	}
	// KIP-360: an idempotent producer that knows its id asks for an epoch
	// bump to reset its sequences.
	if m.req.ProducerID >= 0 && m.req.ProducerEpoch >= 0 && m.req.ProducerEpoch < 32767 {
		resp.ProducerID, resp.ProducerEpoch = m.req.ProducerID, m.req.ProducerEpoch+1
		m.r.Respond(resp)
		return
	}
	if tm.pidBlockLeft == 0 {
		first, err := tm.b.deps.Meta.AllocateProducerIDs(producerIDBlock)
		if err != nil {
			tm.b.log.Error("allocating producer ids", "err", err)
			resp.ErrorCode = errCoordinatorUnavailable
			m.r.Respond(resp)
			return
		}
		tm.nextPID, tm.pidBlockLeft = first, producerIDBlock
	}
	resp.ProducerID, resp.ProducerEpoch = tm.nextPID, 0
	tm.nextPID++
	tm.pidBlockLeft--
	m.r.Respond(resp)
}

func sortedTopics(s *snapshot) []*topicEntry {
	out := make([]*topicEntry, 0, len(s.byName))
	for _, t := range s.byName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
