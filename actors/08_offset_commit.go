package actors

// OffsetCommit (key 8), versions from wire's table (2..10).
//
// Behaviour: served by the group's coordinator, which checks the member and
// then sends the commit to the group store: all partitions of the request
// in one metadata-store transaction, fsynced before the answer (and before
// OffsetFetch can see them), so a commit that was answered survives kill -9.
// The metadata string (up to OffsetMetadataMaxBytes) and the leader epoch
// (v6+, KIP-320) are kept with the offset. A commit with generation -1 to an
// empty group stores offsets without group management (kadm, simple
// consumers) and creates the group if needed. v2-4 retention times are
// ignored (KIP-211: offsets expire only once the group is empty). v7+ static
// members are checked by instance id. v9 commits to a KIP-848 group carry
// the member epoch. v10 names topics by id (KIP-848's follow-up): ids are
// resolved here, and UNKNOWN_TOPIC_ID answers an id we do not know.
//
// Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS (CompletingRebalance: sync
// first), STALE_MEMBER_EPOCH (KIP-848), UNKNOWN_TOPIC_OR_PARTITION,
// UNKNOWN_TOPIC_ID, OFFSET_METADATA_TOO_LARGE, COORDINATOR_NOT_AVAILABLE
// when the metadata store fails the write, COORDINATOR_LOAD_IN_PROGRESS.
//
// Not supported: v0-1 (removed in Kafka 4.0), transactional commits
// (TxnOffsetCommit).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
)

func (b *Broker) handleOffsetCommit(r *netloop.Request, req *kmsg.OffsetCommitRequest) {
	if !validGroupID(req.Group) {
		r.Respond(groupErrorResponse(req, kerr.InvalidGroupID.Code))
		return
	}
	b.sendGroupCall(r)
}

func (c *groupCoordinator) offsetCommit(call *groupCall, req *kmsg.OffsetCommitRequest) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	if code := c.validateCommit(req); code != 0 {
		fillOffsetCommitCode(req, resp, code)
		call.r.Respond(resp)
		return
	}
	snap := c.b.reg.load()
	now := time.Now().UTC().Round(0)
	var commits []meta.CommittedOffset
	var committing []*kmsg.OffsetCommitResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		topic, unknown := snap.byName[t.Topic], kerr.UnknownTopicOrPartition.Code
		if req.Version >= 10 {
			topic, unknown = snap.byID[t.TopicID], kerr.UnknownTopicID.Code
		}
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			metadata := ""
			if p.Metadata != nil {
				metadata = *p.Metadata
			}
			switch {
			case topic == nil:
				rp.ErrorCode = unknown
			case p.Partition < 0 || int(p.Partition) >= len(topic.partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(metadata) > c.cfg.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			case c.staleConsumerCommit(req, topic.id, p.Partition):
				rp.ErrorCode = kerr.StaleMemberEpoch.Code
			default:
				commits = append(commits, meta.CommittedOffset{
					Topic: topic.name, TopicID: topic.id, Partition: p.Partition, Offset: p.Offset,
					LeaderEpoch: p.LeaderEpoch, Metadata: metadata, CommitTime: now,
				})
				committing = append(committing, rp)
			}
		}
	}
	if len(commits) == 0 {
		call.r.Respond(resp)
		return
	}
	c.write(meta.GroupChange{Group: c.name, Commits: commits}, func(err error) {
		if err != nil {
			for _, rp := range committing {
				rp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
			call.r.Respond(resp)
			return
		}
		for _, o := range commits {
			c.offsets[meta.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o
		}
		c.persisted = true // the store creates a record with the first commit
		c.publish()        // before the answer: a ListGroups sent after it must see the group
		call.r.Respond(resp)
	})
}

// validateCommit applies Kafka's member checks to a commit.
func (c *groupCoordinator) validateCommit(req *kmsg.OffsetCommitRequest) int16 {
	if c.isConsumerGroup() && c.consumer.hasMembers() {
		return c.validateConsumerCommit(req)
	}
	g := &c.classic
	if req.Generation < 0 && g.state == stateEmpty {
		return 0 // offsets only, no group management
	}
	m, code := c.validateClassicMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		return code
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	m.heartbeatReceived()
	return 0
}

// fillOffsetCommitCode answers every partition of a commit with code.
func fillOffsetCommitCode(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, code int16) {
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		*rt = kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
}
