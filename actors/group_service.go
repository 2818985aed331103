package actors

// Consumer groups: how the pieces fit.
//
// Three kinds of actor serve the group APIs (keys 8-16, 42, 47, 68, 69):
//
//   - The group manager ("groups", one per broker). Serve sends it every
//     group request except FindCoordinator. It answers
//     COORDINATOR_LOAD_IN_PROGRESS until the stored groups are loaded,
//     answers ListGroups itself, splits multi-group requests (OffsetFetch
//     v8+, DescribeGroups, DeleteGroups, ConsumerGroupDescribe) into one
//     part per group, and forwards each request or part to the coordinator
//     of its group, spawning the coordinator on first use. A request for a
//     group that does not exist and would not create one (a Heartbeat, a
//     DescribeGroups) is answered by the manager without spawning anything.
//   - One group coordinator per group ("group/N"). It owns everything about
//     its group: members, generation, rebalance state, committed offsets.
//     All its waiting is parked requests (JoinGroup until the rebalance
//     completes, SyncGroup until the leader's assignment arrives) and
//     timers: time.AfterFunc sends it a message, and the message handler
//     checks the timer still means something. No goroutine waits per member.
//   - The group store ("groupstore"), the only actor that reads or writes
//     groups in the metadata store. It loads all groups for the manager and
//     one group for a coordinator that (re)starts, and applies writes in
//     group commit: writes that queue while one transaction runs go into the
//     next, so many groups committing at once share an fsync.
//
// Placement. The manager and the coordinators only compute: they never
// touch the disk, so they run on the CPU pool dispatcher (pool "groups",
// its own supervisor). A coordinator sends an offset commit to the group
// store, which is on the background pool (its own goroutine, since a bbolt
// transaction waits for fsync), and answers the client when the store says
// the transaction is durable. A commit is therefore one round trip between
// two actors plus one fsync, and a slow disk delays commits but never a
// heartbeat or a join of any group.
//
// # Ownership
//
//   - groupManager.groups (the handle table) is the manager's alone. A
//     handle's summary is written only by its coordinator and read by the
//     manager (atomic pointer).
//   - Everything in a groupCoordinator is its own; the one exception is the
//     handover of the stored group when the manager spawns it (the producer
//     hands it over once, through an atomic swap).
//   - Fan-out requests count down atomically: each coordinator writes only
//     its own slot of the response, and the last one to finish (the atomic
//     countdown orders the writes before the read) answers.
//
// # Lifetimes
//
// A coordinator stops when its group stops existing (DeleteGroups, or an
// empty group whose last offsets expired): it tells the manager
// (groupRetiredMsg), passes back to the manager whatever requests reach it
// afterwards, and stops when the manager confirms it has removed the handle
// (groupReleaseMsg, which the manager sends after everything it had
// forwarded). A coordinator restarted after a panic answers its parked
// requests with COORDINATOR_NOT_AVAILABLE and reloads its group from the
// store; members rejoin. A restarted manager releases every coordinator and
// reloads everything.

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

// GroupConfig is the group coordinator's behaviour; Kafka's names of the
// settings are in brackets.
type GroupConfig struct {
	// OffsetsRetention: committed offsets of a group that has been empty
	// this long are deleted, and the group with them [offsets.retention.minutes,
	// default 7 days].
	OffsetsRetention time.Duration
	// RetentionCheckInterval: how often expiry is checked
	// [offsets.retention.check.interval.ms, default 10 minutes].
	RetentionCheckInterval time.Duration
	// InitialRebalanceDelay: the first rebalance of an empty group waits
	// this long for more members, extended by as much for every member
	// that joins meanwhile, up to the rebalance timeout
	// [group.initial.rebalance.delay.ms, default 3 s]. Negative: no delay.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound a classic member's
	// session timeout [group.min.session.timeout.ms 6 s,
	// group.max.session.timeout.ms 30 min].
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// MaxSize bounds a group's members [group.max.size; Kafka's default is
	// unbounded, ours 10,000].
	MaxSize int
	// OffsetMetadataMaxBytes bounds a commit's metadata string
	// [offset.metadata.max.bytes, 4096].
	OffsetMetadataMaxBytes int
	// ConsumerSessionTimeout and ConsumerHeartbeatInterval are the session
	// and heartbeat interval of KIP-848 consumer groups
	// [group.consumer.session.timeout.ms 45 s,
	// group.consumer.heartbeat.interval.ms 5 s].
	ConsumerSessionTimeout, ConsumerHeartbeatInterval time.Duration
}

func (c *GroupConfig) ensureDefaults() {
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 10 * time.Minute
	}
	if c.InitialRebalanceDelay == 0 {
		c.InitialRebalanceDelay = 3 * time.Second
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 10_000
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = 4096
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = 45 * time.Second
	}
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = 5 * time.Second
	}
}

// poolGroups is the supervisor of the group manager and the coordinators:
// CPU-bound actors (see the package comment above on placement).
const poolGroups = "groups"

// groupService is what the broker keeps of the group actors: the manager,
// which Serve sends to. Written once in spawnGroups, before the broker is
// ready; read by event loops after (the ready flag orders the two).
type groupService struct {
	manager *actor.PID
}

// spawnGroups starts the group store and the group manager. The store comes
// first: the manager asks it for the stored groups as soon as it starts.
func (b *Broker) spawnGroups() error {
	store, err := b.deps.Actors.Spawn(poolBackground, "groupstore", false, b.groupStoreProducer())
	if err != nil {
		return fmt.Errorf("actors: spawn group store: %w", err)
	}
	manager, err := b.deps.Actors.Spawn(poolGroups, "groups", true, b.groupManagerProducer(store))
	if err != nil {
		return fmt.Errorf("actors: spawn group manager: %w", err)
	}
	b.groups.manager = manager
	return nil
}

// responder answers one request: *netloop.Request in the broker, a
// recording fake in unit tests.
type responder interface {
	Respond(resp kmsg.Response)
}

// groupCall is one group request on its way to the manager and then to a
// coordinator.
type groupCall struct {
	r        responder
	req      kmsg.Request
	clientID string
	host     string
}

// sendGroupCall hands a request to the group manager. It runs on an event
// loop: a Send, nothing more.
func (b *Broker) sendGroupCall(r *netloop.Request) {
	b.send(b.groups.manager, &groupCall{r: r, req: r.Body, clientID: r.Header.ClientID, host: r.Remote})
}

// groupMessage is a request, or one group's part of a request, for one
// group's coordinator.
type groupMessage interface {
	groupName() string
	// createsGroup reports whether the message creates a group that does
	// not exist (JoinGroup, OffsetCommit, a joining
	// ConsumerGroupHeartbeat); the others are answered as for a missing
	// group without spawning a coordinator.
	createsGroup() bool
	// answerAbsent answers as Kafka does for a group that does not exist.
	answerAbsent(b *Broker)
	// answerError answers with code everywhere the response has one.
	answerError(code int16)
}

// validGroupID: Kafka's legacy rule let offset APIs use the empty group id;
// its current coordinator (KIP-848) refuses it everywhere, as do we.
func validGroupID(group string) bool { return group != "" }

// groupErrorResponse is the response to a group request that fails as a
// whole with code (COORDINATOR_LOAD_IN_PROGRESS, INVALID_GROUP_ID, ...),
// with the code wherever the response of that version carries one.
func groupErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.OffsetCommitRequest:
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		fillOffsetCommitCode(req, resp, code)
		return resp
	case *kmsg.OffsetFetchRequest:
		return offsetFetchErrorResponse(req, code)
	case *kmsg.JoinGroupRequest:
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID = code, req.MemberID
		return resp
	case *kmsg.HeartbeatRequest:
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.SyncGroupRequest:
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	case *kmsg.ListGroupsRequest:
		resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DeleteGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	case *kmsg.OffsetDeleteRequest:
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.ConsumerGroupHeartbeatRequest:
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.ConsumerGroupDescribeRequest:
		resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewConsumerGroupDescribeResponseGroup()
			rg.Group, rg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
	panic(fmt.Sprintf("actors: groupErrorResponse: %T is not a group request", req))
}

// errorMessage returns a pointer for an optional ErrorMessage field.
func errorMessage(code int16, detail string) *string {
	msg := kerr.ErrorForCode(code).Error()
	if detail != "" {
		msg += ": " + detail
	}
	return &msg
}

func (c *groupCall) groupName() string {
	switch req := c.req.(type) {
	case *kmsg.JoinGroupRequest:
		return req.Group
	case *kmsg.SyncGroupRequest:
		return req.Group
	case *kmsg.HeartbeatRequest:
		return req.Group
	case *kmsg.LeaveGroupRequest:
		return req.Group
	case *kmsg.OffsetCommitRequest:
		return req.Group
	case *kmsg.OffsetDeleteRequest:
		return req.Group
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return req.Group
	}
	panic(fmt.Sprintf("actors: %T is not a single-group request", c.req))
}

func (c *groupCall) createsGroup() bool {
	switch req := c.req.(type) {
	case *kmsg.JoinGroupRequest, *kmsg.OffsetCommitRequest:
		return true
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return req.MemberEpoch == 0
	}
	return false
}

// answerAbsent answers as Kafka does for a group it does not know: members
// are unknown, OffsetDelete finds no group.
func (c *groupCall) answerAbsent(*Broker) {
	switch req := c.req.(type) {
	case *kmsg.OffsetDeleteRequest:
		c.answerError(kerr.GroupIDNotFound.Code)
	case *kmsg.LeaveGroupRequest:
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		for _, m := range req.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, kerr.UnknownMemberID.Code
			resp.Members = append(resp.Members, rm)
		}
		c.r.Respond(resp)
	default:
		c.answerError(kerr.UnknownMemberID.Code)
	}
}
