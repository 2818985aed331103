package supervision

// Consumer groups end to end with franz-go: group consumers of each
// protocol sharing partitions through joins, a clean leave and a killed
// member; committed offsets across a broker restart; and the protocol's
// error codes, provoked with raw requests.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// killSwitch is a dialer whose connections can all be cut at once, with
// every later dial refused: the client is dead to the broker without having
// left its group.
type killSwitch struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("test: client killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
}

// member is one group consumer: a poll loop that records what it consumed
// and commits synchronously after every poll, recording what the broker
// acknowledged.
type member struct {
	t      *testing.T
	name   string
	topic  string
	cl     *kgo.Client
	kill   *killSwitch
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	consumed  map[int32][]int64
	committed map[int32]int64 // acknowledged commits (next offset to read)
	assigned  map[int32]bool
	first     map[int32]int64 // first offset seen per partition
}

func startMember(t *testing.T, n *Node, name, group, topic string, opts ...kgo.Opt) *member {
	t.Helper()
	m := &member{t: t, name: name, topic: topic, kill: &killSwitch{}, done: make(chan struct{}),
		consumed: make(map[int32][]int64), committed: make(map[int32]int64), assigned: make(map[int32]bool), first: make(map[int32]int64)}
	base := []kgo.Opt{
		kgo.SeedBrokers(n.Addr().String()),
		kgo.Dialer(m.kill.dial),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.setAssigned(a[topic], true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.setAssigned(r[topic], false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.setAssigned(l[topic], false) }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.loop(ctx)
	return m
}

func (m *member) setAssigned(ps []int32, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		if on {
			m.assigned[p] = true
		} else {
			delete(m.assigned, p)
		}
	}
}

func (m *member) assignedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.assigned)
}

func (m *member) loop(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		fs := m.cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			return
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		offsets := make(map[int32]kgo.EpochOffset)
		m.mu.Lock()
		for _, r := range recs {
			if _, ok := m.first[r.Partition]; !ok {
				m.first[r.Partition] = r.Offset
			}
			m.consumed[r.Partition] = append(m.consumed[r.Partition], r.Offset)
			offsets[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
		m.mu.Unlock()
		commitCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		m.cl.CommitOffsetsSync(commitCtx, map[string]map[int32]kgo.EpochOffset{m.topic: offsets},
			func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil || len(req.Topics) != len(resp.Topics) {
					return
				}
				m.mu.Lock()
				defer m.mu.Unlock()
				for i, rt := range resp.Topics {
					for j, rp := range rt.Partitions {
						if rp.ErrorCode == 0 && j < len(req.Topics[i].Partitions) {
							p := req.Topics[i].Partitions[j]
							m.committed[p.Partition] = max(m.committed[p.Partition], p.Offset)
						}
					}
				}
			})
		cancel()
	}
}

// stop ends the poll loop; no commit is in flight afterwards.
func (m *member) stop() {
	m.cancel()
	<-m.done
}

// leave stops and closes the client, which leaves the group.
func (m *member) leave() {
	m.stop()
	m.cl.Close()
}

// die stops the loop and cuts the client off without leaving; the client
// is closed in the background (its leave attempt fails).
func (m *member) die() {
	m.stop()
	m.kill.kill()
	go m.cl.Close()
}

// coverage adds to seen what the member consumed: everything, or (for a
// member that did not stay to the end) only what it committed.
func (m *member) coverage(seen map[int32]map[int64]bool, onlyCommitted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, offsets := range m.consumed {
		if seen[p] == nil {
			seen[p] = make(map[int64]bool)
		}
		for _, o := range offsets {
			if !onlyCommitted || o < m.committed[p] {
				seen[p][o] = true
			}
		}
	}
}

// producer produces round-robin over the partitions until stopped.
type producer struct {
	cancel context.CancelFunc
	done   chan struct{}
	errs   chan error
}

func startProducer(t *testing.T, n *Node, topic string, partitions int32, interval time.Duration) *producer {
	cl := newClient(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{cancel: cancel, done: make(chan struct{}), errs: make(chan error, 1)}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			for part := int32(0); part < partitions; part++ {
				cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)}, func(_ *kgo.Record, err error) {
					if err != nil {
						select {
						case p.errs <- err:
						default:
						}
					}
				})
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		fctx, fcancel := context.WithTimeout(context.Background(), time.Minute)
		defer fcancel()
		if err := cl.Flush(fctx); err != nil {
			p.errs <- err
		}
	}()
	return p
}

func (p *producer) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	<-p.done
	select {
	case err := <-p.errs:
		t.Fatalf("produce: %v", err)
	default:
	}
}

// waitFor polls cond (the group's state lives in clients and broker
// timers) until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// balanced: every live member has partitions and together they hold all.
func balanced(members []*member, partitions int) func() bool {
	return func() bool {
		total := 0
		for _, m := range members {
			n := m.assignedCount()
			if n == 0 {
				return false
			}
			total += n
		}
		return total == partitions
	}
}

func endOffsets(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func committedOffsets(t *testing.T, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	out := make(map[int32]int64)
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out
}

// groupScenario: a producer runs while three members share twelve
// partitions; one leaves cleanly, one joins, one is killed and removed by
// its session timeout. Every produced record must be consumed (counting a
// departed member's records only up to its acknowledged commits), the
// final commits must equal the end offsets, and a new member must resume
// exactly there.
func groupScenario(t *testing.T, n *Node, group string, killTimeout time.Duration, opts ...kgo.Opt) {
	const partitions = 12
	topic := group + "-topic"
	admin := newClient(t, n)
	createTopic(t, admin, topic, partitions, nil)
	start := time.Now()
	prod := startProducer(t, n, topic, partitions, 10*time.Millisecond)

	c1 := startMember(t, n, "c1", group, topic, opts...)
	c2 := startMember(t, n, "c2", group, topic, opts...)
	c3 := startMember(t, n, "c3", group, topic, opts...)
	waitFor(t, time.Minute, "three members share the partitions", balanced([]*member{c1, c2, c3}, partitions))
	t.Logf("%v: three members balanced", time.Since(start).Round(time.Millisecond))

	c1.leave()
	waitFor(t, time.Minute, "two members after a clean leave", balanced([]*member{c2, c3}, partitions))
	t.Logf("%v: c1 left", time.Since(start).Round(time.Millisecond))

	c4 := startMember(t, n, "c4", group, topic, opts...)
	waitFor(t, time.Minute, "a member joins", balanced([]*member{c2, c3, c4}, partitions))
	t.Logf("%v: c4 joined", time.Since(start).Round(time.Millisecond))

	c2.die()
	waitFor(t, killTimeout, "the killed member's partitions move", balanced([]*member{c3, c4}, partitions))
	t.Logf("%v: c2 killed and removed", time.Since(start).Round(time.Millisecond))

	time.Sleep(time.Second) // let the survivors consume under production for a moment
	prod.stop(t)
	ends := endOffsets(t, admin, topic)
	total := int64(0)
	for _, e := range ends {
		total += e
	}
	t.Logf("%v: produced %d records", time.Since(start).Round(time.Millisecond), total)

	covered := func() bool {
		seen := make(map[int32]map[int64]bool)
		c1.coverage(seen, true)
		c2.coverage(seen, true)
		c3.coverage(seen, false)
		c4.coverage(seen, false)
		for p, end := range ends {
			if int64(len(seen[p])) < end {
				return false
			}
		}
		return true
	}
	waitFor(t, 2*time.Minute, "every record consumed", covered)
	waitFor(t, time.Minute, "commits reach the end offsets", func() bool {
		committed := committedOffsets(t, admin, group, topic)
		for p, end := range ends {
			if committed[p] != end {
				return false
			}
		}
		return true
	})
	c3.leave()
	c4.leave()
	committed := committedOffsets(t, admin, group, topic)
	for p, end := range ends {
		if committed[p] != end {
			t.Fatalf("p%d: committed %d after the members left, end %d", p, committed[p], end)
		}
	}
	t.Logf("%v: all consumed and committed", time.Since(start).Round(time.Millisecond))

	// A new member resumes at the committed offsets.
	produceAll(t, admin, topic, partitions, 20, 10)
	c5 := startMember(t, n, "c5", group, topic, opts...)
	defer c5.leave()
	waitFor(t, time.Minute, "the new member reads the new records", func() bool {
		c5.mu.Lock()
		defer c5.mu.Unlock()
		for p := int32(0); p < partitions; p++ {
			if len(c5.consumed[p]) < 20 {
				return false
			}
		}
		return true
	})
	c5.mu.Lock()
	defer c5.mu.Unlock()
	for p := int32(0); p < partitions; p++ {
		if c5.first[p] != ends[p] {
			t.Errorf("p%d: resumed at %d, committed %d", p, c5.first[p], ends[p])
		}
	}
	t.Logf("%v: resumed at the committed offsets", time.Since(start).Round(time.Millisecond))
}

func TestGroupConsumersRange(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	groupScenario(t, n, "range", time.Minute,
		kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond), kgo.RebalanceTimeout(20*time.Second))
}

func TestGroupConsumersCooperativeSticky(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	groupScenario(t, n, "coop", time.Minute,
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond), kgo.RebalanceTimeout(20*time.Second))
}

// KIP-848: the broker assigns. A killed member is fenced after the
// broker's consumer session timeout (45 s by default).
func TestGroupConsumersKIP848(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	groupScenario(t, n, "kip848", 2*time.Minute, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(), kgo.RebalanceTimeout(20*time.Second))
}

// Committed offsets and the group survive a broker restart; the group
// re-forms and resumes where it committed.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	cl := newClient(t, n)
	createTopic(t, cl, "durable", 3, nil)
	produceAll(t, cl, "durable", 3, 100, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	commits := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		commits.Add(kadm.Offset{Topic: "durable", Partition: p, At: int64(10 * (p + 1)), LeaderEpoch: 0, Metadata: fmt.Sprintf("meta-%d", p)})
	}
	if resp, err := adm.CommitOffsets(ctx, "kept", commits); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	cl.Close()
	stopNode(t, n)

	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl = newClient(t, n)
	adm = kadm.NewClient(cl)
	var fetched kadm.OffsetResponses
	waitFor(t, 30*time.Second, "offsets after restart", func() bool {
		var err error
		fetched, err = adm.FetchOffsets(ctx, "kept")
		return err == nil && fetched.Error() == nil
	})
	for p := int32(0); p < 3; p++ {
		o, ok := fetched.Lookup("durable", p)
		if !ok || o.At != int64(10*(p+1)) || o.Metadata != fmt.Sprintf("meta-%d", p) || o.LeaderEpoch != 0 {
			t.Fatalf("p%d after restart: %+v", p, o)
		}
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil || !slices.Contains(groups.Groups(), "kept") {
		t.Fatalf("groups after restart: %v %v", groups, err)
	}
	m := startMember(t, n, "resumer", "kept", "durable", kgo.SessionTimeout(6*time.Second))
	defer m.leave()
	waitFor(t, time.Minute, "the group resumes", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.first) == 3
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := int32(0); p < 3; p++ {
		if m.first[p] != int64(10*(p+1)) {
			t.Errorf("p%d resumed at %d", p, m.first[p])
		}
	}
}

// rawBroker sends requests straight to the broker (node 0), without the
// client's coordinator lookup and retries. OffsetCommit and OffsetFetch are
// capped at v9 so these requests can name topics (v10 uses topic ids; the
// group consumers above use v10).
func rawBroker(t *testing.T, n *Node) func(kmsg.Request) kmsg.Response {
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(kmsg.OffsetCommit.Int16(), 9)
	versions.SetMaxKeyVersion(kmsg.OffsetFetch.Int16(), 9)
	cl := newClient(t, n, kgo.MaxVersions(versions))
	return func(req kmsg.Request) kmsg.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := cl.Broker(0).Request(ctx, req)
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		return resp
	}
}

func rawJoin(group, member string, instance *string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.InstanceID = group, member, instance
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10_000, 10_000
	req.ProtocolType = "consumer"
	sub := kmsg.ConsumerMemberMetadata{Topics: []string{"errs"}}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub.AppendTo(nil)}}
	return req
}

// code checks an error code; want nil means success.
func code(t *testing.T, got int16, want *kerr.Error, what string) {
	t.Helper()
	var wantCode int16
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

var emptyAssignment = (&kmsg.ConsumerMemberAssignment{}).AppendTo(nil)

// Each error of the group protocol, from a raw request.
func TestGroupProtocolErrors(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	admin := newClient(t, n)
	createTopic(t, admin, "errs", 2, nil)
	send := rawBroker(t, n)

	// FindCoordinator, batched (the client sends our max, v6; the v0-3
	// form is a unit test in actors).
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"a", "", "b"}
	r := send(fc).(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) != 3 || r.Coordinators[0].ErrorCode != 0 || r.Coordinators[2].Key != "b" {
		t.Errorf("find coordinator batched: %+v", r.Coordinators)
	}
	code(t, r.Coordinators[1].ErrorCode, kerr.InvalidGroupID, "find coordinator of an empty key")

	// JoinGroup errors.
	code(t, send(rawJoin("", "", nil)).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidGroupID, "join with an empty group id")
	short := rawJoin("g", "", nil)
	short.SessionTimeoutMillis = 1000
	code(t, send(short).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidSessionTimeout, "join with a 1 s session")
	none := rawJoin("g", "", nil)
	none.Protocols = nil
	code(t, send(none).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol, "join without protocols")
	first := send(rawJoin("g", "", nil)).(*kmsg.JoinGroupResponse)
	code(t, first.ErrorCode, kerr.MemberIDRequired, "first join")
	code(t, send(rawJoin("g", "made-up", nil)).(*kmsg.JoinGroupResponse).ErrorCode, kerr.UnknownMemberID, "join with an unknown member id")
	joined := send(rawJoin("g", first.MemberID, nil)).(*kmsg.JoinGroupResponse)
	if joined.ErrorCode != 0 || joined.LeaderID != first.MemberID || joined.Generation != 1 {
		t.Fatalf("join: %+v", joined)
	}
	other := rawJoin("g", "", nil)
	other.ProtocolType = "connect"
	code(t, send(other).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol, "join with another protocol type")
	a := first.MemberID

	// SyncGroup and Heartbeat.
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", a, 7
	code(t, send(sync).(*kmsg.SyncGroupResponse).ErrorCode, kerr.IllegalGeneration, "sync at a wrong generation")
	sync.Generation = 1
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: a, MemberAssignment: emptyAssignment}}
	code(t, send(sync).(*kmsg.SyncGroupResponse).ErrorCode, nil, "leader's sync")
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", "nobody", 1
	code(t, send(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID, "heartbeat of an unknown member")
	hb.MemberID, hb.Generation = a, 2
	code(t, send(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.IllegalGeneration, "heartbeat at a wrong generation")
	hb.Generation = 1
	code(t, send(hb).(*kmsg.HeartbeatResponse).ErrorCode, nil, "heartbeat")
	hb.Group = "no-such-group"
	code(t, send(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID, "heartbeat to a group that does not exist")
	hb.Group = "g"

	// A second member joining starts a rebalance: the first learns of it
	// from its heartbeat. The second has its own client: its parked join
	// would hold up the first's rejoin on a shared connection.
	sendSecond := rawBroker(t, n)
	second := sendSecond(rawJoin("g", "", nil)).(*kmsg.JoinGroupResponse)
	secondDone := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { secondDone <- sendSecond(rawJoin("g", second.MemberID, nil)).(*kmsg.JoinGroupResponse) }()
	waitFor(t, 10*time.Second, "the rebalance starts", func() bool {
		return send(hb).(*kmsg.HeartbeatResponse).ErrorCode == kerr.RebalanceInProgress.Code
	})
	sync.GroupAssignment = nil
	code(t, send(sync).(*kmsg.SyncGroupResponse).ErrorCode, kerr.RebalanceInProgress, "sync during a rebalance")
	rejoin := send(rawJoin("g", a, nil)).(*kmsg.JoinGroupResponse)
	secondJoined := <-secondDone
	if rejoin.ErrorCode != 0 || rejoin.Generation != 2 || secondJoined.Generation != 2 || rejoin.LeaderID != a || len(rejoin.Members) != 2 {
		t.Fatalf("second generation: %+v / %+v", rejoin, secondJoined)
	}
	sync.Generation = 2
	code(t, send(sync).(*kmsg.SyncGroupResponse).ErrorCode, nil, "leader's sync in generation 2")
	followerSync := kmsg.NewPtrSyncGroupRequest()
	followerSync.Group, followerSync.MemberID, followerSync.Generation = "g", second.MemberID, 2
	if fr := sendSecond(followerSync).(*kmsg.SyncGroupResponse); fr.ErrorCode != 0 || len(fr.MemberAssignment) == 0 {
		t.Fatalf("follower's sync: %+v", fr)
	}

	// Offsets: errors per partition, then a commit the group keeps.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "g", a, 2
	big := string(make([]byte, 5000))
	commit.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "errs", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, LeaderEpoch: -1}, {Partition: 1, Offset: 5, Metadata: &big}, {Partition: 7, Offset: 1}}},
		{Topic: "nope", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}},
	}
	cr := send(commit).(*kmsg.OffsetCommitResponse)
	code(t, cr.Topics[0].Partitions[0].ErrorCode, nil, "commit")
	code(t, cr.Topics[0].Partitions[1].ErrorCode, kerr.OffsetMetadataTooLarge, "commit with 5000 bytes of metadata")
	code(t, cr.Topics[0].Partitions[2].ErrorCode, kerr.UnknownTopicOrPartition, "commit to a partition that does not exist")
	code(t, cr.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition, "commit to a topic that does not exist")
	commit.Topics = commit.Topics[:1]
	commit.Topics[0].Partitions = commit.Topics[0].Partitions[:1]
	commit.Generation = 1
	code(t, send(commit).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration, "commit at an old generation")
	commit.MemberID = "nobody"
	code(t, send(commit).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID, "commit of an unknown member")

	// OffsetDelete, DeleteGroups.
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "errs", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	code(t, send(od).(*kmsg.OffsetDeleteResponse).Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic, "offset delete of a subscribed topic")
	od.Group = "no-such-group"
	code(t, send(od).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.GroupIDNotFound, "offset delete in a group that does not exist")
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"g", "no-such-group"}
	dr := send(dg).(*kmsg.DeleteGroupsResponse)
	code(t, dr.Groups[0].ErrorCode, kerr.NonEmptyGroup, "delete of a group with members")
	code(t, dr.Groups[1].ErrorCode, kerr.GroupIDNotFound, "delete of a group that does not exist")
	dgs := kmsg.NewPtrDescribeGroupsRequest()
	dgs.Groups = []string{"g", "no-such-group"}
	gr := send(dgs).(*kmsg.DescribeGroupsResponse)
	if gr.Groups[0].ErrorCode != 0 || len(gr.Groups[0].Members) != 2 || gr.Groups[0].Protocol != "range" {
		t.Errorf("describe: %+v", gr.Groups[0])
	}
	code(t, gr.Groups[1].ErrorCode, kerr.GroupIDNotFound, "describe (v6) of a group that does not exist")

	// Static membership: a new instance fences the old one.
	inst := "instance-1"
	s1 := send(rawJoin("static", "", &inst)).(*kmsg.JoinGroupResponse)
	if s1.ErrorCode != 0 {
		t.Fatalf("static join: %+v", s1)
	}
	s2 := send(rawJoin("static", "", &inst)).(*kmsg.JoinGroupResponse)
	if s2.ErrorCode != 0 || s2.MemberID == s1.MemberID {
		t.Fatalf("static rejoin: %+v", s2)
	}
	shb := kmsg.NewPtrHeartbeatRequest()
	shb.Group, shb.MemberID, shb.InstanceID, shb.Generation = "static", s1.MemberID, &inst, s1.Generation
	code(t, send(shb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.FencedInstanceID, "heartbeat of a replaced static member")
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "static"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: s1.MemberID, InstanceID: &inst}, {MemberID: s2.MemberID, InstanceID: &inst}}
	lr := send(leave).(*kmsg.LeaveGroupResponse)
	code(t, lr.Members[0].ErrorCode, kerr.FencedInstanceID, "leave of a replaced static member")
	code(t, lr.Members[1].ErrorCode, nil, "leave of the current static member")

	// The emptied group can be deleted; several groups at once in one
	// OffsetFetch; ListGroups with a state filter.
	dg.Groups = []string{"static"}
	code(t, send(dg).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, nil, "delete of the emptied group")
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "errs", Partitions: []int32{0, 1}}}}, {Group: "no-such-group"}}
	ofr := send(of).(*kmsg.OffsetFetchResponse)
	if len(ofr.Groups) != 2 || ofr.Groups[0].Topics[0].Partitions[0].Offset != 5 || ofr.Groups[0].Topics[0].Partitions[1].Offset != -1 || len(ofr.Groups[1].Topics) != 0 {
		t.Errorf("offset fetch of two groups: %+v", ofr.Groups)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.StatesFilter = []string{"completingrebalance", "Stable"}
	lgr := send(lg).(*kmsg.ListGroupsResponse)
	if len(lgr.Groups) != 1 || lgr.Groups[0].Group != "g" {
		t.Errorf("list groups: %+v", lgr.Groups)
	}
}

// A subscribed topic gains partitions: classic groups rebalance when their
// leader's metadata shows it (client side), KIP-848 groups when the broker
// sees it at the next heartbeat. Either way the new partitions get owners.
func TestGroupTopicGainsPartitions(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	admin := newClient(t, n)
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"classic", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}},
		{"kip848", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "growing-" + tc.name
			createTopic(t, admin, topic, 2, nil)
			opts := append([]kgo.Opt{kgo.MetadataMaxAge(time.Second), kgo.MetadataMinAge(100 * time.Millisecond)}, tc.opts...)
			a := startMember(t, n, "a", topic+"-group", topic, opts...)
			defer a.leave()
			b := startMember(t, n, "b", topic+"-group", topic, opts...)
			defer b.leave()
			waitFor(t, time.Minute, "two members on two partitions", balanced([]*member{a, b}, 2))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if r, err := kadm.NewClient(admin).CreatePartitions(ctx, 4, topic); err != nil || r[topic].Err != nil {
				t.Fatalf("create partitions: %v %v", err, r)
			}
			waitFor(t, time.Minute, "the new partitions are assigned", balanced([]*member{a, b}, 6))
		})
	}
}
