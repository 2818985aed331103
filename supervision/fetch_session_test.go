package supervision

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionFetcher sends raw Fetch requests (v12, the broker's highest) over
// one client's fetch connection, where a fetch session lives.
type sessionFetcher struct {
	t     *testing.T
	b     *kgo.Broker
	topic string
}

func newSessionFetcher(t *testing.T, n *Node, topic string) *sessionFetcher {
	t.Helper()
	cl := newClient(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Brokers) != 1 || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata: %v %+v", err, resp)
	}
	return &sessionFetcher{t: t, b: cl.Broker(int(resp.Brokers[0].NodeID)), topic: topic}
}

// fetchAt is one partition to name in a request and its fetch offset.
type fetchAt struct {
	partition int32
	offset    int64
}

// fetch sends one Fetch naming parts and forgetting forgotten, waiting at
// most wait for min bytes 1.
func (f *sessionFetcher) fetch(sessionID, epoch int32, parts []fetchAt, forgotten []int32, maxBytes int32, wait time.Duration) *kmsg.FetchResponse {
	f.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(wait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = maxBytes
	req.SessionID, req.SessionEpoch = sessionID, epoch
	if len(parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = f.topic
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.partition, p.offset, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(forgotten) > 0 {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.Partitions = f.topic, forgotten
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kresp, err := f.b.Request(ctx, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return kresp.(*kmsg.FetchResponse)
}

// answered lists, per partition in the answer, how many records it carries
// (-1: named without records), failing on a partition error or on a topic
// other than the fetcher's.
func (f *sessionFetcher) answered(resp *kmsg.FetchResponse) map[int32]int {
	f.t.Helper()
	got := make(map[int32]int)
	for _, rt := range resp.Topics {
		if rt.Topic != f.topic {
			f.t.Fatalf("answer names topic %q", rt.Topic)
		}
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				f.t.Fatalf("p%d: %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
			}
			n := countRecords(f.t, rp.RecordBatches)
			if n == 0 {
				n = -1
			}
			got[rp.Partition] = n
		}
	}
	return got
}

// firstWithRecords is the first partition in the answer that carries records.
func firstWithRecords(resp *kmsg.FetchResponse) int32 {
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if len(rp.RecordBatches) > 0 {
				return rp.Partition
			}
		}
	}
	return -1
}

func countRecords(t *testing.T, batches []byte) int {
	t.Helper()
	n := 0
	for len(batches) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(batches); err != nil {
			t.Fatalf("batch: %v", err)
		}
		n += int(b.NumRecords)
		batches = batches[12+b.Length:]
	}
	return n
}

func sameAnswer(got, want map[int32]int) bool {
	if len(got) != len(want) {
		return false
	}
	for p, n := range want {
		if got[p] != n {
			return false
		}
	}
	return true
}

// A fetch session (KIP-227), spoken raw: the answers to incremental
// fetches carry only partitions with news, forgotten partitions stay out,
// epochs and session ids are checked, and a session does not cross
// connections.
func TestFetchSessions(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	admin := newClient(t, n)
	createTopic(t, admin, "fs", 3, nil)
	produceRange(t, admin, "fs", 2, 0, 5, 100) // p0 and p1: 5 records each; p2 empty
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := func(p int32, i int) { produceOne(t, ctx, admin, "fs", p, i, 100) }
	f := newSessionFetcher(t, n, "fs")
	expect := func(step string, resp *kmsg.FetchResponse, session int32, want map[int32]int) {
		t.Helper()
		if got := f.answered(resp); resp.ErrorCode != 0 || resp.SessionID != session || !sameAnswer(got, want) {
			t.Fatalf("%s: error %d, session %d, answered %v; want session %d, %v", step, resp.ErrorCode, resp.SessionID, got, session, want)
		}
	}

	// Epoch 0 opens a session; the answer names every partition.
	resp := f.fetch(0, 0, []fetchAt{{0, 0}, {1, 0}, {2, 0}}, nil, 1<<20, 0)
	id := resp.SessionID
	if id == 0 {
		t.Fatal("no session opened")
	}
	expect("open", resp, id, map[int32]int{0: 5, 1: 5, 2: -1})

	// Nothing new: an incremental fetch waits, then names nothing.
	expect("nothing new", f.fetch(id, 1, []fetchAt{{0, 5}, {1, 5}}, nil, 1<<20, 100*time.Millisecond), id, map[int32]int{})

	// A record on p2: the answer names p2 alone, though the request named
	// no partition.
	produce(2, 0)
	expect("new on p2", f.fetch(id, 2, nil, nil, 1<<20, 5*time.Second), id, map[int32]int{2: 1})

	// Forget p1: its next record is not answered.
	expect("forget p1", f.fetch(id, 3, []fetchAt{{2, 1}}, []int32{1}, 1<<20, 50*time.Millisecond), id, map[int32]int{})
	produce(1, 5)
	produce(0, 5)
	expect("after forgetting p1", f.fetch(id, 4, nil, nil, 1<<20, 5*time.Second), id, map[int32]int{0: 1})

	// A repeated epoch is refused, and the session stays usable.
	if resp = f.fetch(id, 4, nil, nil, 1<<20, 0); resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("repeated epoch: error %d", resp.ErrorCode)
	}
	expect("after a repeated epoch", f.fetch(id, 5, []fetchAt{{0, 6}}, nil, 1<<20, 0), id, map[int32]int{})

	// An unknown id, and the id from another connection, are not found.
	if resp = f.fetch(id+1000, 1, nil, nil, 1<<20, 0); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: error %d", resp.ErrorCode)
	}
	other := newSessionFetcher(t, n, "fs")
	if resp = other.fetch(id, 6, nil, nil, 1<<20, 0); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("session from another connection: error %d", resp.ErrorCode)
	}

	// Epoch -1 closes the session, as a plain full fetch.
	expect("close", f.fetch(id, -1, []fetchAt{{2, 0}}, nil, 1<<20, 0), 0, map[int32]int{2: 1})
	if resp = f.fetch(id, 6, nil, nil, 1<<20, 0); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: error %d", resp.ErrorCode)
	}
}

// Partitions that returned records go to the back of the session, so under
// a tight max bytes every partition gets its turn.
func TestFetchSessionRotates(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	admin := newClient(t, n)
	createTopic(t, admin, "fsrot", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 { // a batch per record
		for p := range int32(2) {
			if err := admin.ProduceSync(ctx, testRecord("fsrot", p, i, 1000)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := newSessionFetcher(t, n, "fsrot")
	// Max bytes 1: each answer holds one batch, of the first partition with data.
	resp := f.fetch(0, 0, []fetchAt{{0, 0}, {1, 0}}, nil, 1, 0)
	if first := firstWithRecords(resp); first != 0 || resp.SessionID == 0 {
		t.Fatalf("open: first records from p%d, session %d", first, resp.SessionID)
	}
	next := map[int32]int64{0: 0, 1: 0}
	for epoch, wantFirst := range []int32{1, 0, 1, 0} {
		got := f.answered(resp)
		var named []fetchAt
		for p, k := range got {
			if k > 0 {
				next[p] += int64(k)
				named = append(named, fetchAt{p, next[p]})
			}
		}
		resp = f.fetch(resp.SessionID, int32(epoch+1), named, nil, 1, 0)
		if first := firstWithRecords(resp); first != wantFirst || resp.ErrorCode != 0 {
			t.Fatalf("epoch %d: first records from p%d, want p%d (error %d)", epoch+1, first, wantFirst, resp.ErrorCode)
		}
	}
}

// counter reads the value of a counter family's series whose label has the
// given value.
func counter(t *testing.T, n *Node, name, label, value string) float64 {
	t.Helper()
	if m := series(t, n, name, label, value); m != nil && m.Counter != nil {
		return m.Counter.GetValue()
	}
	return 0
}

// franz-go's consumer opens a session and then fetches incrementally, and
// reads every record exactly as produced through it.
func TestConsumerUsesFetchSession(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	createTopic(t, cl, "fskgo", 4, nil)
	produceAll(t, cl, "fskgo", 4, 500, 200)
	consumeAll(t, n, "fskgo", 4, 500, 200, kgo.FetchMaxBytes(16<<10), kgo.FetchMaxPartitionBytes(16<<10))
	open := counter(t, n, "floe_fetch_requests_total", "session", "open")
	incremental := counter(t, n, "floe_fetch_requests_total", "session", "incremental")
	errors := counter(t, n, "floe_fetch_requests_total", "session", "error")
	if open < 1 || incremental < 2 || errors != 0 {
		t.Fatalf("fetches: %v opening, %v incremental, %v refused", open, incremental, errors)
	}
}

// partitionMessages returns how many messages each partition actor of topic
// has handled, by partition name ("topic-index").
func partitionMessages(n *Node, topic string) map[string]int64 {
	out := make(map[string]int64)
	for _, pool := range n.System().View().Pools {
		for _, a := range pool.Actors {
			if name, ok := strings.CutPrefix(a.Name, "partition/"+topic+"-"); ok {
				out[name[:strings.IndexByte(name, '.')]] = a.Handled
			}
		}
	}
	return out
}

// gauge reads an unlabelled gauge.
func gauge(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	families, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.Metric) == 1 && f.Metric[0].Gauge != nil {
			return f.Metric[0].Gauge.GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// A long-poll fetch at the high watermark of many partitions parks on them
// from the event loop: the idle partitions' actors handle no message for
// it, whether one partition wakes it or max wait ends it.
func TestLongPollParksWithoutMessages(t *testing.T) {
	cfg := testConfig(t)
	cfg.RetentionCheckInterval, cfg.CompactionInterval = time.Hour, time.Hour // no ticks to the partitions
	n := startNode(t, cfg)
	defer stopNode(t, n)
	admin := newClient(t, n)
	const partitions = 40
	createTopic(t, admin, "wake", partitions, nil)
	f := newSessionFetcher(t, n, "wake")
	var all []fetchAt
	for p := range int32(partitions) {
		all = append(all, fetchAt{p, 0})
	}
	before := partitionMessages(n, "wake")
	if len(before) != partitions {
		t.Fatalf("found %d partition actors", len(before))
	}
	idle := func(what string) {
		t.Helper()
		for p, k := range partitionMessages(n, "wake") {
			if p != "7" && k != before[p] {
				t.Errorf("partition %s handled %d messages for %s", p, k-before[p], what)
			}
		}
	}
	answered := make(chan *kmsg.FetchResponse, 1)
	inFlight := gauge(t, n, "floe_requests_in_flight")
	go func() { answered <- f.fetch(0, -1, all, nil, 1<<20, 20*time.Second) }()
	for deadline := time.Now().Add(10 * time.Second); gauge(t, n, "floe_requests_in_flight") <= inFlight; {
		if time.Now().After(deadline) {
			t.Fatal("the fetch never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.ProduceSync(ctx, testRecord("wake", 7, 0, 100)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-answered:
		if got := f.answered(resp); len(got) != partitions || got[7] != 1 {
			t.Fatalf("answered %v", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the fetch was not woken")
	}
	idle("a woken fetch")

	all[7].offset = 1
	if got := f.answered(f.fetch(0, -1, all, nil, 1<<20, 200*time.Millisecond)); len(got) != partitions || got[7] != -1 {
		t.Fatalf("expired fetch answered %v", got)
	}
	idle("an expired fetch")
}

// fetchAnswer is the outcome of a fetch sent in the background.
type fetchAnswer struct {
	resp *kmsg.FetchResponse
	err  error
}

// longPoll sends, in the background, a fetch outside any session from
// offset 0 of partitions, for min bytes and up to a minute of max wait.
func (f *sessionFetcher) longPoll(ctx context.Context, minBytes int32, partitions ...int32) <-chan fetchAnswer {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.SessionEpoch = -1, -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 60_000, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = f.topic
	for _, p := range partitions {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = p, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	answered := make(chan fetchAnswer, 1)
	go func() {
		resp, err := f.b.Request(ctx, req)
		fresp, _ := resp.(*kmsg.FetchResponse)
		answered <- fetchAnswer{fresp, err}
	}()
	return answered
}

// produceOne produces record i of partition p and waits for its ack.
func produceOne(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, p int32, i, size int) {
	t.Helper()
	if err := cl.ProduceSync(ctx, testRecord(topic, p, i, size)).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// A long poll whose partition has some data, less than min bytes, is woken
// by more data on that partition and answers all of it, as Kafka does; it
// does not wait out max wait and answer what it read first.
func TestLongPollMinBytesFromOnePartition(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	admin := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression())) // the bytes counted are the bytes sent
	createTopic(t, admin, "minb", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce := func(i, size int) { produceOne(t, ctx, admin, "minb", 0, i, size) }
	produce(0, 1000)
	f := newSessionFetcher(t, n, "minb")
	answered := f.longPoll(ctx, 50_000, 0)
	for i := 1; i <= 3; i++ {
		produce(i, 20_000)
	}
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatal(a.err)
		}
		if got := f.answered(a.resp); got[0] != 4 {
			t.Fatalf("answered %v records, want all 4", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("60,000 bytes arrived, but the fetch waits on for max wait")
	}
}

// A long poll woken by one partition reads that partition again, not the
// others: here p0 had data below min bytes and parked the fetch, p1 was
// empty; records on p1 wake the fetch, and p0's actor is not asked twice.
func TestWokenFetchReadsOnlyTheWoken(t *testing.T) {
	cfg := testConfig(t)
	// No uploads, retention or compaction: p0's actor gets fetch messages only.
	cfg.UploadInterval, cfg.UploadBytes = time.Hour, 1<<30
	cfg.RetentionCheckInterval, cfg.CompactionInterval = time.Hour, time.Hour
	n := startNode(t, cfg)
	defer stopNode(t, n)
	admin := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopic(t, admin, "woken", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce := func(p int32, i, size int) { produceOne(t, ctx, admin, "woken", p, i, size) }
	produce(0, 0, 1000)
	f := newSessionFetcher(t, n, "woken")
	before := partitionMessages(n, "woken")["0"]
	answered := f.longPoll(ctx, 50_000, 0, 1)
	// p0 answers the first round (below min bytes) and parks the fetch.
	for deadline := time.Now().Add(10 * time.Second); partitionMessages(n, "woken")["0"] == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("p0 never got the fetch")
		}
	}
	for i := range 3 {
		produce(1, i, 20_000)
	}
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatal(a.err)
		}
		if got := f.answered(a.resp); got[0] != 1 || got[1] != 3 {
			t.Fatalf("answered %v, want 1 record of p0 and 3 of p1", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the fetch was not answered when min bytes arrived")
	}
	if asked := partitionMessages(n, "woken")["0"] - before; asked != 1 {
		t.Fatalf("p0's actor handled %d messages for one fetch woken by p1", asked)
	}
}

// A long poll whose offset is only in object storage parks on the block's
// load and answers when the block is in: the miss answers nothing at once,
// and the load's completion, not max wait, brings the records.
func TestLongPollWaitsForColdLoad(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	populate(t, n, "coldpoll", 1, 100, 1000)
	stopNode(t, n) // uploads everything
	if countObjects(t, cfg.DataDir) == 0 {
		t.Fatal("nothing was uploaded")
	}
	cfg.LogCacheBytes = 1 // nothing is served from memory
	n = startNode(t, cfg)
	defer stopNode(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newSessionFetcher(t, n, "coldpoll")
	select {
	case a := <-f.longPoll(ctx, 1, 0):
		if a.err != nil {
			t.Fatal(a.err)
		}
		if got := f.answered(a.resp); got[0] <= 0 {
			t.Fatalf("answered %v records from the loaded block", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the block is loaded, but the fetch waits on for max wait")
	}
	if n.Broker().ColdReads() == 0 {
		t.Fatal("no fetch was served from objects")
	}
}
