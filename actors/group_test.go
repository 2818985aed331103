package actors

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/persistence/meta"
)

// testActors spawns on a plain protoactor system (default dispatcher).
type testActors struct{ sys *actor.ActorSystem }

func (a *testActors) Spawn(_, name string, _ bool, p actor.Producer) (*actor.PID, error) {
	return a.sys.Root.SpawnNamed(actor.PropsFromProducer(p, actor.WithMailbox(actor.Unbounded())), name)
}
func (a *testActors) SpawnOn(_, name string, _ actor.Dispatcher, p actor.Producer) (*actor.PID, error) {
	return a.Spawn("", name, false, p)
}
func (a *testActors) Send(pid *actor.PID, msg any) { a.sys.Root.Send(pid, msg) }
func (a *testActors) Stop(pid *actor.PID)          { a.sys.Root.Stop(pid) }

// recorder is a responder that hands the response to the test.
type recorder chan kmsg.Response

func (r recorder) Respond(resp kmsg.Response) { r <- resp }

type groupHarness struct {
	t     *testing.T
	b     *Broker
	store *meta.Store
	path  string
	sys   *actor.ActorSystem
}

// testTopicID is the id of topic "t" (4 partitions) in the harness.
var testTopicID = [16]byte{0x74}

func newGroupHarness(t *testing.T, cfg GroupConfig, path string) *groupHarness {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "meta.db")
	}
	store, err := meta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	// Quiet: a harness's timers may still fire against its closed store
	// after the test; -v shows everything.
	level := slog.LevelError + 1
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b := NewBroker(Config{Groups: cfg}, Deps{Actors: &testActors{sys: sys}, Meta: store, Logger: logger})
	b.reg.update(func(s *snapshot) {
		s.put(&topicEntry{name: "t", id: testTopicID, partitions: []*partitionRef{{}, {}, {}, {}}})
	})
	b.ready.Store(true)
	if err := b.spawnGroups(); err != nil {
		t.Fatal(err)
	}
	h := &groupHarness{t: t, b: b, store: store, path: path, sys: sys}
	t.Cleanup(h.stop)
	h.eventually("groups loaded", func() bool {
		return h.call(kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse).ErrorCode == 0
	})
	return h
}

func (h *groupHarness) stop() {
	if h.sys != nil {
		h.sys.Shutdown()
		h.store.Close()
		h.sys = nil
	}
}

// send hands req to the group manager as Serve would; the answer arrives
// on the returned channel.
func (h *groupHarness) send(req kmsg.Request) recorder {
	rec := make(recorder, 1)
	h.b.send(h.b.groups.manager, &groupCall{r: rec, req: req, clientID: "client", host: "127.0.0.1:5000"})
	return rec
}

func (h *groupHarness) call(req kmsg.Request) kmsg.Response {
	h.t.Helper()
	return h.wait(h.send(req))
}

func (h *groupHarness) wait(rec recorder) kmsg.Response {
	h.t.Helper()
	select {
	case resp := <-rec:
		return resp
	case <-time.After(10 * time.Second):
		h.t.Fatal("no answer within 10 s")
		return nil
	}
}

// eventually polls cond until it holds: the behaviour under test runs on
// timers of its own.
func (h *groupHarness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func joinRequest(group, member string, instance *string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group, req.MemberID, req.InstanceID = group, member, instance
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10_000, 10_000
	req.ProtocolType = "consumer"
	meta := kmsg.ConsumerMemberMetadata{Topics: []string{"t"}}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	return req
}

// join runs the KIP-394 dance for a new member and returns its parked join.
func (h *groupHarness) join(group string) (string, recorder) {
	h.t.Helper()
	resp := h.call(joinRequest(group, "", nil)).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		h.t.Fatalf("first join: code %d member %q, want MEMBER_ID_REQUIRED with an id", resp.ErrorCode, resp.MemberID)
	}
	return resp.MemberID, h.send(joinRequest(group, resp.MemberID, nil))
}

func commitRequest(group, member string, generation int32, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.MemberID, req.Generation = group, member, generation
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = "t"
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, 7
		md := fmt.Sprintf("md-%d", p)
		rp.Metadata = &md
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{t}
	return req
}

func (h *groupHarness) commit(req *kmsg.OffsetCommitRequest) []int16 {
	h.t.Helper()
	resp := h.call(req).(*kmsg.OffsetCommitResponse)
	var codes []int16
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			codes = append(codes, p.ErrorCode)
		}
	}
	return codes
}

// fetched returns the group's committed offsets by partition (v8 request).
func (h *groupHarness) fetched(group string) map[int32]kmsg.OffsetFetchResponseGroupTopicPartition {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	resp := h.call(req).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		h.t.Fatalf("offset fetch: %+v", resp.Groups)
	}
	out := make(map[int32]kmsg.OffsetFetchResponseGroupTopicPartition)
	for _, t := range resp.Groups[0].Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p
		}
	}
	return out
}

func (h *groupHarness) listGroups() map[string]string {
	h.t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 5
	resp := h.call(req).(*kmsg.ListGroupsResponse)
	out := make(map[string]string)
	for _, g := range resp.Groups {
		out[g.Group] = g.GroupState
	}
	return out
}

// A manager whose groups are not loaded answers every group request with
// COORDINATOR_LOAD_IN_PROGRESS, in each response's own shape.
func TestGroupLoadInProgress(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	b := NewBroker(Config{}, Deps{Actors: &testActors{sys: sys}, Logger: slog.Default()})
	silent, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "silent-store")
	if err != nil {
		t.Fatal(err)
	}
	manager, err := sys.Root.SpawnNamed(actor.PropsFromProducer(b.groupManagerProducer(silent)), "groups")
	if err != nil {
		t.Fatal(err)
	}
	b.groups.manager = manager
	h := &groupHarness{t: t, b: b}
	loading := kerr.CoordinatorLoadInProgress.Code

	if resp := h.call(joinRequest("g", "", nil)).(*kmsg.JoinGroupResponse); resp.ErrorCode != loading || resp.Generation != -1 {
		t.Errorf("join while loading: %+v", resp)
	}
	if codes := h.commit(commitRequest("g", "", -1, map[int32]int64{0: 1, 1: 2})); len(codes) != 2 || codes[0] != loading || codes[1] != loading {
		t.Errorf("commit while loading: %v", codes)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "a"}, {Group: "b"}}
	if resp := h.call(fetch).(*kmsg.OffsetFetchResponse); len(resp.Groups) != 2 || resp.Groups[1].ErrorCode != loading {
		t.Errorf("fetch v8 while loading: %+v", resp.Groups)
	}
	fetch = kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 5
	fetch.Group = "a"
	if resp := h.call(fetch).(*kmsg.OffsetFetchResponse); resp.ErrorCode != loading {
		t.Errorf("fetch v5 while loading: %+v", resp)
	}
	list := kmsg.NewPtrListGroupsRequest()
	if resp := h.call(list).(*kmsg.ListGroupsResponse); resp.ErrorCode != loading {
		t.Errorf("list while loading: %+v", resp)
	}
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.Groups = []string{"x"}
	if resp := h.call(describe).(*kmsg.DescribeGroupsResponse); len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != loading {
		t.Errorf("describe while loading: %+v", resp.Groups)
	}

	// Loaded: the same requests are served.
	b.send(manager, &groupsLoadedMsg{})
	if resp := h.call(list).(*kmsg.ListGroupsResponse); resp.ErrorCode != 0 {
		t.Errorf("list once loaded: %+v", resp)
	}
}

// groupErrorResponse fills every version's error field.
func TestGroupErrorResponseShapes(t *testing.T) {
	code := kerr.InvalidGroupID.Code
	leave := kmsg.NewPtrLeaveGroupRequest()
	heartbeat := kmsg.NewPtrHeartbeatRequest()
	sync := kmsg.NewPtrSyncGroupRequest()
	offsetDelete := kmsg.NewPtrOffsetDeleteRequest()
	cgh := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	deleteGroups := kmsg.NewPtrDeleteGroupsRequest()
	deleteGroups.Groups = []string{"a", "b"}
	cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cgd.Groups = []string{"a"}
	fetchV1 := kmsg.NewPtrOffsetFetchRequest()
	fetchV1.Version = 1
	fetchV1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}

	if r := groupErrorResponse(leave, code).(*kmsg.LeaveGroupResponse); r.ErrorCode != code {
		t.Error("leave")
	}
	if r := groupErrorResponse(heartbeat, code).(*kmsg.HeartbeatResponse); r.ErrorCode != code {
		t.Error("heartbeat")
	}
	if r := groupErrorResponse(sync, code).(*kmsg.SyncGroupResponse); r.ErrorCode != code {
		t.Error("sync")
	}
	if r := groupErrorResponse(offsetDelete, code).(*kmsg.OffsetDeleteResponse); r.ErrorCode != code {
		t.Error("offset delete")
	}
	if r := groupErrorResponse(cgh, code).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != code {
		t.Error("consumer group heartbeat")
	}
	if r := groupErrorResponse(deleteGroups, code).(*kmsg.DeleteGroupsResponse); len(r.Groups) != 2 || r.Groups[1].ErrorCode != code {
		t.Error("delete groups")
	}
	if r := groupErrorResponse(cgd, code).(*kmsg.ConsumerGroupDescribeResponse); len(r.Groups) != 1 || r.Groups[0].ErrorCode != code {
		t.Error("consumer group describe")
	}
	// v0-1 have no top-level error: every partition carries it.
	r := groupErrorResponse(fetchV1, code).(*kmsg.OffsetFetchResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 2 || r.Topics[0].Partitions[1].ErrorCode != code || r.Topics[0].Partitions[1].Offset != -1 {
		t.Errorf("fetch v1: %+v", r.Topics)
	}
}

// Two members form a group; offsets commit durably and come back after the
// store is reopened; expiry removes an empty group's offsets.
func TestGroupJoinSyncCommitReload(t *testing.T) {
	// The initial delay lets both members into the first generation.
	cfg := GroupConfig{InitialRebalanceDelay: 300 * time.Millisecond}
	h := newGroupHarness(t, cfg, "")
	a, joinA := h.join("g")
	b, joinB := h.join("g")
	respA, respB := h.wait(joinA).(*kmsg.JoinGroupResponse), h.wait(joinB).(*kmsg.JoinGroupResponse)
	if respA.ErrorCode != 0 || respB.ErrorCode != 0 || respA.Generation != respB.Generation || respA.Generation < 1 {
		t.Fatalf("joins: %+v / %+v", respA, respB)
	}
	leader, follower := respA, respB
	if respB.LeaderID == b {
		leader, follower = respB, respA
	}
	if leader.LeaderID != leader.MemberID || len(leader.Members) != 2 || len(follower.Members) != 0 || *leader.Protocol != "range" {
		t.Fatalf("leader %+v follower %+v", leader, follower)
	}
	gen := leader.Generation
	syncReq := func(member string, assignments ...kmsg.SyncGroupRequestGroupAssignment) *kmsg.SyncGroupRequest {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Version = 5
		req.Group, req.MemberID, req.Generation, req.GroupAssignment = "g", member, gen, assignments
		return req
	}
	followerSync := h.send(syncReq(follower.MemberID))
	leaderSync := h.call(syncReq(leader.MemberID,
		kmsg.SyncGroupRequestGroupAssignment{MemberID: leader.MemberID, MemberAssignment: []byte("L")})).(*kmsg.SyncGroupResponse)
	if leaderSync.ErrorCode != 0 || string(leaderSync.MemberAssignment) != "L" {
		t.Fatalf("leader sync: %+v", leaderSync)
	}
	// Left out by the leader: an empty consumer assignment, decodable.
	fs := h.wait(followerSync).(*kmsg.SyncGroupResponse)
	var empty kmsg.ConsumerMemberAssignment
	if fs.ErrorCode != 0 || empty.ReadFrom(fs.MemberAssignment) != nil {
		t.Fatalf("follower sync: %+v", fs)
	}

	if codes := h.commit(commitRequest("g", a, gen, map[int32]int64{0: 10, 1: 11})); codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("commit: %v", codes)
	}
	if codes := h.commit(commitRequest("g", a, gen+5, map[int32]int64{0: 99})); codes[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit at a wrong generation: %v", codes)
	}
	if codes := h.commit(commitRequest("g", "nobody", gen, map[int32]int64{0: 99})); codes[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("commit of an unknown member: %v", codes)
	}
	bad := commitRequest("g", a, gen, map[int32]int64{9: 1})
	if codes := h.commit(bad); codes[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit to a partition that does not exist: %v", codes)
	}
	got := h.fetched("g")
	if got[0].Offset != 10 || got[1].Offset != 11 || *got[1].Metadata != "md-1" || got[1].LeaderEpoch != 7 || len(got) != 2 {
		t.Fatalf("fetched %+v", got)
	}
	if state := h.listGroups()["g"]; state != "Stable" {
		t.Fatalf("state %q", state)
	}

	// Both leave: the group is empty, its offsets stay.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: a}, {MemberID: b}, {MemberID: "ghost"}}
	lr := h.call(leave).(*kmsg.LeaveGroupResponse)
	if lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != 0 || lr.Members[2].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", lr.Members)
	}
	if state := h.listGroups()["g"]; state != "Empty" {
		t.Fatalf("state after leaving %q", state)
	}

	// A new broker on the same file: the group exists, empty, offsets kept.
	h.stop()
	h = newGroupHarness(t, cfg, h.path)
	if state, ok := h.listGroups()["g"]; !ok || state != "Empty" {
		t.Fatalf("after reload: %v", h.listGroups())
	}
	if got := h.fetched("g"); got[0].Offset != 10 || got[1].Offset != 11 || *got[0].Metadata != "md-0" {
		t.Fatalf("fetched after reload %+v", got)
	}
}

// Offsets of an empty group expire, and the group with them; a stored
// group nobody touches expires too.
func TestGroupOffsetsExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	store, err := meta.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).UTC().Round(0)
	if err := store.CommitOffsets("stale", []meta.CommittedOffset{{Topic: "t", TopicID: testTopicID, Partition: 0, Offset: 5, CommitTime: old}}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	// Retention long enough that a loaded machine cannot expire "fresh"
	// between its commit and the listing below.
	h := newGroupHarness(t, GroupConfig{OffsetsRetention: 3 * time.Second, RetentionCheckInterval: 50 * time.Millisecond}, path)
	if codes := h.commit(commitRequest("fresh", "", -1, map[int32]int64{0: 1})); codes[0] != 0 {
		t.Fatalf("simple commit: %v", codes)
	}
	if _, ok := h.listGroups()["fresh"]; !ok {
		t.Fatal("a simple commit did not create the group")
	}
	h.eventually("both groups expire", func() bool {
		groups, err := h.store.Groups()
		return err == nil && len(groups) == 0 && len(h.listGroups()) == 0
	})
	// The id is free again.
	if codes := h.commit(commitRequest("fresh", "", -1, map[int32]int64{0: 2})); codes[0] != 0 {
		t.Fatalf("commit after expiry: %v", codes)
	}
	if got := h.fetched("fresh"); got[0].Offset != 2 {
		t.Fatalf("fetched %+v", got)
	}
}

// A coordinator that panics restarts from the store: committed offsets are
// all there, members rejoin.
func TestGroupCoordinatorRestartKeepsOffsets(t *testing.T) {
	h := newGroupHarness(t, GroupConfig{InitialRebalanceDelay: -1}, "")
	if codes := h.commit(commitRequest("g", "", -1, map[int32]int64{0: 3, 2: 4})); codes[0] != 0 {
		t.Fatalf("commit: %v", codes)
	}
	member, join := h.join("g")
	if resp := h.wait(join).(*kmsg.JoinGroupResponse); resp.ErrorCode != 0 {
		t.Fatalf("join: %+v", resp)
	}
	h.b.InjectGroupPanic("g")
	if got := h.fetched("g"); got[0].Offset != 3 || got[2].Offset != 4 {
		t.Fatalf("fetched after restart %+v", got)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", member, 1
	if resp := h.call(hb).(*kmsg.HeartbeatResponse); resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of a member the restart forgot: %d", resp.ErrorCode)
	}
}

// A member whose session lapses is removed and the group rebalances
// without it.
func TestGroupSessionTimeout(t *testing.T) {
	h := newGroupHarness(t, GroupConfig{InitialRebalanceDelay: -1, MinSessionTimeout: 10 * time.Millisecond}, "")
	a, joinA := h.join("g")
	respA := h.wait(joinA).(*kmsg.JoinGroupResponse)
	if respA.ErrorCode != 0 {
		t.Fatalf("join: %+v", respA)
	}
	// A second member with a short session that never heartbeats.
	req := joinRequest("g", "", nil)
	req.SessionTimeoutMillis = 200
	resp := h.call(req).(*kmsg.JoinGroupResponse)
	req.MemberID = resp.MemberID
	joinB := h.send(req)
	// a rejoins when told of the rebalance.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", a, respA.Generation
	if r := h.call(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during a rebalance: %d", r.ErrorCode)
	}
	joinA = h.send(joinRequest("g", a, nil))
	r1, r2 := h.wait(joinA).(*kmsg.JoinGroupResponse), h.wait(joinB).(*kmsg.JoinGroupResponse)
	if r1.ErrorCode != 0 || r2.ErrorCode != 0 || len(r1.Members)+len(r2.Members) != 2 {
		t.Fatalf("second generation: %+v %+v", r1, r2)
	}
	// Neither syncs nor heartbeats b: it expires, a is alone.
	h.eventually("b expires", func() bool {
		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Groups = []string{"g"}
		g := h.call(d).(*kmsg.DescribeGroupsResponse).Groups[0]
		if len(g.Members) == 1 && g.State == "PreparingRebalance" {
			return true
		}
		h.call(hb) // keep a alive
		return false
	})
}

func TestDeleteGroupsAndOffsetDelete(t *testing.T) {
	h := newGroupHarness(t, GroupConfig{InitialRebalanceDelay: -1}, "")
	if codes := h.commit(commitRequest("offsets-only", "", -1, map[int32]int64{0: 1, 1: 2})); codes[0] != 0 {
		t.Fatal(codes)
	}
	_, join := h.join("busy")
	h.wait(join)
	if codes := h.commit(commitRequest("busy", "", -1, map[int32]int64{0: 1})); codes[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit to a group with members: %v", codes)
	}

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "busy"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	if r := h.call(od).(*kmsg.OffsetDeleteResponse); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("offset delete of a subscribed topic: %+v", r)
	}
	od.Group = "offsets-only"
	if r := h.call(od).(*kmsg.OffsetDeleteResponse); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", r)
	}
	if got := h.fetched("offsets-only"); len(got) != 1 || got[1].Offset != 2 {
		t.Fatalf("after offset delete %+v", got)
	}
	od.Group = "nope"
	if r := h.call(od).(*kmsg.OffsetDeleteResponse); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("offset delete of a missing group: %+v", r)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version = 3
	del.Groups = []string{"offsets-only", "busy", "nope", "", "offsets-only"}
	r := h.call(del).(*kmsg.DeleteGroupsResponse)
	want := []int16{0, kerr.NonEmptyGroup.Code, kerr.GroupIDNotFound.Code, kerr.InvalidGroupID.Code, kerr.GroupIDNotFound.Code}
	for i, g := range r.Groups {
		if g.ErrorCode != want[i] {
			t.Errorf("delete %q: %d, want %d", g.Group, g.ErrorCode, want[i])
		}
	}
	groups, err := h.store.Groups()
	if err != nil || len(groups) != 1 || groups[0].Info.Name != "busy" {
		t.Fatalf("stored groups after delete: %+v %v", groups, err)
	}
	if got := h.fetched("offsets-only"); len(got) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", got)
	}
}

func TestAssignors(t *testing.T) {
	a, b := [16]byte{1}, [16]byte{2}
	topics := []assignTopic{{name: "a", id: a, partitions: 5}, {name: "b", id: b, partitions: 2}}
	subs := map[string]bool{"a": true, "b": true}
	members := func() []assignMember {
		return []assignMember{{id: "m1", subscribed: subs}, {id: "m2", subscribed: subs}, {id: "m3", subscribed: map[string]bool{"a": true}}}
	}
	r := assignRangePerTopic(topics, members())
	if !slices2(r["m1"][a], 0, 1) || !slices2(r["m2"][a], 2, 3) || !slices2(r["m3"][a], 4) || !slices2(r["m1"][b], 0) || !slices2(r["m2"][b], 1) {
		t.Fatalf("range: %v", r)
	}
	u := assignUniformSticky(topics, members())
	total := 0
	for _, m := range u {
		n := m.count()
		total += n
		if n < 2 || n > 3 {
			t.Fatalf("uniform unbalanced: %v", u)
		}
	}
	if total != 7 {
		t.Fatalf("uniform assigned %d of 7: %v", total, u)
	}
	// Sticky: with m3 gone, m1 and m2 keep what they had.
	ms := members()[:2]
	ms[0].previous, ms[1].previous = u["m1"], u["m2"]
	u2 := assignUniformSticky(topics, ms)
	for _, id := range []string{"m1", "m2"} {
		for tid, ps := range u[id] {
			for _, p := range ps {
				if !u2[id].has(tid, p) {
					t.Fatalf("uniform moved %s's partition %d: %v → %v", id, p, u, u2)
				}
			}
		}
	}
	if u2["m1"].count()+u2["m2"].count() != 7 {
		t.Fatalf("uniform after a leave: %v", u2)
	}
}

func slices2(got []int32, want ...int32) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestFindCoordinatorVersions(t *testing.T) {
	b := NewBroker(Config{NodeID: 3, AdvertiseHost: "h", AdvertisePort: 9}, Deps{})
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 3, "g"
	if r := b.findCoordinator(req); r.ErrorCode != 0 || r.NodeID != 3 || r.Host != "h" || r.Port != 9 {
		t.Fatalf("v3: %+v", r)
	}
	req.CoordinatorType = 1
	if r := b.findCoordinator(req); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code || r.NodeID != -1 {
		t.Fatalf("v3 transaction key: %+v", r)
	}
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKeys, req.CoordinatorType = 6, []string{"a", "", "b"}, 0
	r := b.findCoordinator(req)
	if len(r.Coordinators) != 3 || r.Coordinators[0].Port != 9 || r.Coordinators[1].ErrorCode != kerr.InvalidGroupID.Code || r.Coordinators[2].Key != "b" {
		t.Fatalf("v6: %+v", r.Coordinators)
	}
	req.CoordinatorType = 2
	if r := b.findCoordinator(req); r.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("share key: %+v", r.Coordinators[0])
	}
}
