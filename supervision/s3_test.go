package supervision

// Restart tests against a real S3 server (versitygw from .ci/versitygw.sh,
// named by FLOE_TEST_S3_URL, credentials in FLOE_S3_ACCESS_KEY_ID and
// FLOE_S3_SECRET_ACCESS_KEY): everything is read back byte for byte, from the
// bucket, after a clean restart and after kill -9.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/internal/ackcheck"
	"github.com/floe-io/floe/internal/brokerproc"
	"github.com/floe-io/floe/persistence/objstore"
)

// s3TestURL returns FLOE_TEST_S3_URL with the bucket replaced by a fresh one
// named after prefix (create_bucket=true makes the broker create it), and
// deletes every object in it when the test ends. It skips when the variable
// is unset, except under CI=true, where a skip would hide that CI no longer
// tests against a real server.
func s3TestURL(t *testing.T, prefix string) string {
	t.Helper()
	raw := os.Getenv("FLOE_TEST_S3_URL")
	if raw == "" {
		const how = `start versitygw with: eval "$(.ci/versitygw.sh)"`
		if os.Getenv("CI") == "true" {
			t.Fatal("FLOE_TEST_S3_URL is unset under CI=true; .ci/run must " + how)
		}
		t.Skip("FLOE_TEST_S3_URL is unset; " + how)
	}
	parsed, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("FLOE_TEST_S3_URL: %v", err)
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	parsed.Host = prefix + "-" + hex.EncodeToString(suffix[:])
	query := parsed.Query()
	query.Set("create_bucket", "true")
	parsed.RawQuery = query.Encode()
	bucketURL := parsed.String()
	t.Cleanup(func() { emptyBucket(t, bucketURL) })
	return bucketURL
}

// emptyBucket deletes every object in the bucket (the Store interface cannot
// delete the bucket itself; an empty one costs nothing).
func emptyBucket(t *testing.T, bucketURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := objstore.OpenContext(ctx, bucketURL)
	if err != nil {
		t.Logf("cleanup: open %s: %v", bucketURL, err)
		return
	}
	keys, err := store.List(ctx, "")
	if err != nil {
		t.Logf("cleanup: list: %v", err)
		return
	}
	for _, key := range keys {
		if err := store.Delete(ctx, key); err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
	}
}

// bucketKeys lists the bucket, as a check that data went there.
func bucketKeys(t *testing.T, bucketURL string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := objstore.OpenContext(ctx, bucketURL)
	if err != nil {
		t.Fatalf("open %s: %v", bucketURL, err)
	}
	keys, err := store.List(ctx, "")
	if err != nil {
		t.Fatalf("list bucket: %v", err)
	}
	return keys
}

// TestS3RestartByteForByte produces to a node on S3, stops it, restarts it
// with a log cache too small to hold anything, and reads everything back
// from the bucket.
func TestS3RestartByteForByte(t *testing.T) {
	bucketURL := s3TestURL(t, "floe-restart")
	cfg := testConfig(t)
	cfg.ObjectStore = bucketURL
	cfg.UploadBytes = 1 << 20
	cfg.UploadInterval = 200 * time.Millisecond
	// Paced bodies, as with the flag's default.
	cfg.UploadSpread = 0.5
	const topic, partitions, perPartition, size = "s3cold", 4, 5000, 1024 // 20k records of 1 KiB

	n := startNode(t, cfg)
	cl := newClient(t, n)
	createTopic(t, cl, topic, partitions, nil)
	produceAll(t, cl, topic, partitions, perPartition, size)
	cl.Close()
	stopNode(t, n)

	keys := bucketKeys(t, bucketURL)
	if len(keys) == 0 {
		t.Fatal("no objects in the bucket after a clean shutdown")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "objects")); err == nil {
		t.Fatal("the node wrote a local objects directory although its store is S3")
	}

	cfg.LogCacheBytes = 1
	n = startNode(t, cfg)
	defer stopNode(t, n)
	consumeAll(t, n, topic, partitions, perPartition, size)
	if n.Broker().ColdReads() == 0 {
		t.Fatal("no fetch was served from the bucket")
	}
	t.Logf("read %d records back from %d objects in the bucket with %d object reads", partitions*perPartition, len(keys), n.Broker().ColdReads())
}

var walReplayedLine = regexp.MustCompile(`msg="WAL replayed" entries=(\d+) bytes=(\d+)`)

// startFloeProcess runs `floe serve` (the binary bin) on dir with the S3
// credentials of this process's environment (and no other FLOE_ variable),
// and waits for it to serve.
func startFloeProcess(t *testing.T, bin, dir string, extra ...string) *brokerproc.Process {
	t.Helper()
	env := brokerproc.CleanEnv("FLOE_S3_ACCESS_KEY_ID", "FLOE_S3_SECRET_ACCESS_KEY")
	args := []string{"--http", brokerproc.FreeLoopbackAddr(t), "--wal-capacity", "64MiB"}
	return brokerproc.Start(t, bin, dir, env, append(args, extra...)...)
}

// TestS3Kill9 kills the broker (SIGKILL) while producers run and part of the
// data is in the bucket and the rest only in the WAL; a restart with an empty
// log cache must return every acknowledged record at its offset, exactly once.
func TestS3Kill9(t *testing.T) {
	const (
		topic      = "s3crash"
		partitions = 4
		ackTarget  = 20_000
	)
	bucketURL := s3TestURL(t, "floe-kill9")
	dir, err := os.MkdirTemp(".", "testdata-s3kill9-") // not t.TempDir: tmpfs refuses O_DIRECT
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	storeArgs := []string{"--object-store", bucketURL, "--upload-size", "1MiB", "--upload-interval", "200ms"}

	bin, err := brokerproc.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := startFloeProcess(t, bin, dir, storeArgs...)
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	resp, err := kadm.NewClient(admin).CreateTopics(ctx, partitions, 1, nil, topic)
	cancel()
	admin.Close()
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	ps := startAckedProducers(t, b.Addr, topic, partitions, nil, nil, nil)
	book := ps.book
	// Kill only while the WAL holds data no object does yet: a kill just
	// after an upload had caught up once left nothing to replay (CI, session
	// 13), and the check after the restart then failed on its premise.
	ready := func() bool {
		return book.acks.Load() >= ackTarget && b.Metric("floe_upload_bytes_total") > 0 && b.Metric("floe_wal_used_bytes") > 0
	}
	if !ackcheck.WaitFor(60*time.Second, ready) {
		t.Fatalf("after 60 s: %d acks (want %d), %v bytes uploaded; failures: %s", book.acks.Load(), ackTarget, b.Metric("floe_upload_bytes_total"), book.errorSummary())
	}
	if failed := book.failed.Load(); failed > 0 {
		t.Fatalf("%d produces failed before the kill: %s", failed, book.errorSummary())
	}
	uploaded := b.Metric("floe_upload_bytes_total")
	b.Kill9()
	atKill := len(bucketKeys(t, bucketURL))
	// Every record now ends: acknowledged if its answer came before the
	// kill, failed otherwise.
	stopKilled(t, ps)
	acked := book.Snapshot(t)
	t.Logf("killed with %d acks, %.1f MiB uploaded in %d objects; %d produces failed after the kill", book.acks.Load(), uploaded/(1<<20), atKill, book.failed.Load())
	if atKill == 0 {
		t.Fatal("nothing in the bucket at the kill: the test would not cover reads from S3")
	}

	b2 := startFloeProcess(t, bin, dir, append(storeArgs, "--log-cache-size", "1")...)
	// Part of the acknowledged data was only in the WAL at the kill: recovery
	// replays it (and uploads it) before serving.
	m := walReplayedLine.FindStringSubmatch(b2.Log())
	if m == nil {
		t.Fatalf("no WAL replay line in the restarted broker's log:\n%s", b2.Tail(40))
	}
	if m[1] == "0" {
		t.Fatal("the WAL held nothing at the kill: the test would not cover WAL replay with S3")
	}
	t.Logf("restart replayed %s WAL entries (%s bytes)", m[1], m[2])
	verifyAcknowledged(t, b2.Addr, topic, partitions, acked)
	if reads := b2.Metric("floe_cold_read_bytes_total"); reads == 0 {
		t.Fatal("after the restart with an empty log cache, no byte was read from the bucket")
	}
	if code := b2.Terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// stopKilled ends production after the broker died: closing the clients
// fails what they still hold, and every record gets its one promise call.
func stopKilled(t *testing.T, ps *ackedProducers) {
	t.Helper()
	ps.stopOnce.Do(func() { close(ps.stopping) })
	// Close before waiting: a producer may be blocked in Produce on a full
	// buffer, which only a failed record (here: the client closing) frees.
	for _, cl := range ps.clients {
		cl.Close()
	}
	ps.wg.Wait()
	b := ps.book
	if !ackcheck.WaitFor(30*time.Second, func() bool { return b.acks.Load()+b.failed.Load() == b.sent.Load() }) {
		t.Fatalf("%d records sent, %d acknowledged, %d failed: promises missing", b.sent.Load(), b.acks.Load(), b.failed.Load())
	}
}
