package main

// Clients in other languages against the real binary: librdkafka (through
// kcat and confluent-kafka-python), kafkajs and kafka-python, each a Kafka
// protocol implementation of its own. Each client writes records that franz-go reads back, and reads,
// in a consumer group, records franz-go wrote as well as its own; the test
// compares both ways byte for byte and checks the group's committed
// offsets. A client that is not installed skips its test, unless
// FLOE_TEST_CLIENTS=required (.ci/run installs them and sets it).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientRecord is one record as a client under test saw it.
type clientRecord struct {
	P int32             `json:"p"`
	O int64             `json:"o"`
	K *string           `json:"k"`
	V *string           `json:"v"`
	H map[string]string `json:"h"`
}

// needClient skips the test when a client is missing, or fails it when
// FLOE_TEST_CLIENTS=required.
func needClient(t *testing.T, missing error, install string) {
	t.Helper()
	if missing == nil {
		return
	}
	if os.Getenv("FLOE_TEST_CLIENTS") == "required" {
		t.Fatalf("%v (FLOE_TEST_CLIENTS=required; %s)", missing, install)
	}
	t.Skipf("%v (%s)", missing, install)
}

// runClient runs a client program with a deadline and returns its stdout;
// a failure reports its stderr.
func runClient(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KAFKAJS_NO_PARTITIONER_WARNING=1")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (deadline: %v)\nstderr:\n%s\nstdout (tail):\n%s", filepath.Base(name), strings.Join(args, " "), err,
			errors.Is(ctx.Err(), context.DeadlineExceeded), stderr.String(), tail(stdout.String(), 20))
	}
	return stdout.Bytes()
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// adminFor is a kadm client of addr and a minute's context for it, both
// ended with the test.
func adminFor(t *testing.T, addr string) (*kadm.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return kadm.NewClient(newClient(t, addr)), ctx // newClient closes it at the end
}

// produceFromGo writes n records with franz-go, round robin over the
// partitions: key go-I, value go-value-I, header client=franz-go. gzip'd:
// kafkajs reads no other codec without a plugin, kafka-python none without
// a library of its own.
func produceFromGo(t *testing.T, addr, topic string, partitions, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{
			Topic: topic, Partition: int32(i % partitions),
			Key: fmt.Appendf(nil, "go-%d", i), Value: fmt.Appendf(nil, "go-value-%d", i),
			Headers: []kgo.RecordHeader{{Key: "client", Value: []byte("franz-go")}},
		})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
}

// brokerRecords reads every record of topic with franz-go, from each
// partition's start to its end, keyed by partition and offset.
func brokerRecords(t *testing.T, addr, topic string) map[[2]int64]clientRecord {
	t.Helper()
	adm, ctx := adminFor(t, addr)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		want += int(o.Offset - start.Offset)
		offsets[o.Partition] = kgo.NewOffset().At(start.Offset)
	})
	reader := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	defer reader.Close()
	got := map[[2]int64]clientRecord{}
	for len(got) < want {
		fs := reader.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("franz-go read back %d of %d records: %v", len(got), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k, v := string(r.Key), string(r.Value)
			h := map[string]string{}
			for _, hd := range r.Headers {
				h[hd.Key] = string(hd.Value)
			}
			got[[2]int64{int64(r.Partition), r.Offset}] = clientRecord{P: r.Partition, O: r.Offset, K: &k, V: &v, H: h}
		})
	}
	return got
}

// checkClientRun checks a client's run against the broker: the records it
// wrote (key PREFIX-I, value PREFIX-value-I, header client=NAME) are in the
// topic exactly once each, the records it read are the topic's, byte for
// byte, and its group committed the end of every partition.
func checkClientRun(t *testing.T, addr, topic, group, prefix, name string, produced int, read []clientRecord) {
	t.Helper()
	stored := brokerRecords(t, addr, topic)
	written := map[int]bool{}
	for _, r := range stored {
		key := *r.K
		i, err := strconv.Atoi(strings.TrimPrefix(key, prefix+"-"))
		if !strings.HasPrefix(key, prefix+"-") || err != nil {
			continue
		}
		if written[i] {
			t.Errorf("%s's record %d is stored twice", name, i)
		}
		written[i] = true
		if want := fmt.Sprintf("%s-value-%d", prefix, i); *r.V != want || r.H["client"] != name {
			t.Errorf("%s's record %d stored as value %q headers %v, want %q and client=%s", name, i, *r.V, r.H, want, name)
		}
	}
	if len(written) != produced {
		t.Errorf("%d of the %d records %s wrote are stored", len(written), produced, name)
	}

	seen := map[[2]int64]bool{}
	for _, r := range read {
		at := [2]int64{int64(r.P), r.O}
		if seen[at] {
			t.Errorf("%s read partition %d offset %d twice", name, r.P, r.O)
		}
		seen[at] = true
		want, ok := stored[at]
		switch {
		case !ok:
			t.Errorf("%s read partition %d offset %d, which the broker does not hold", name, r.P, r.O)
		case r.K == nil || r.V == nil || *r.K != *want.K || *r.V != *want.V || fmt.Sprint(r.H) != fmt.Sprint(want.H):
			t.Errorf("%s read partition %d offset %d as %s, the broker holds %s", name, r.P, r.O, show(r), show(want))
		}
	}
	if len(seen) != len(stored) {
		t.Errorf("%s read %d distinct records, the topic holds %d", name, len(seen), len(stored))
	}

	adm, ctx := adminFor(t, addr)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if c, _ := committed.Lookup(topic, o.Partition); c.At != o.Offset {
			t.Errorf("group %s committed %d for partition %d, whose end is %d", group, c.At, o.Partition, o.Offset)
		}
	})
}

func show(r clientRecord) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// parseJSONLines reads the clients' JSON record lines up to their "done".
func parseJSONLines(t *testing.T, name string, out []byte) []clientRecord {
	t.Helper()
	var rs []clientRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "done" {
			return rs
		}
		var r clientRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s printed %q: %v", name, line, err)
		}
		rs = append(rs, r)
	}
	t.Fatalf("%s stopped before \"done\"; it printed:\n%s", name, tail(string(out), 20))
	return nil
}

// librdkafka, the C client under confluent-kafka for Python, Go, .NET and
// others, through kcat: an idempotent producer with each compression codec,
// a consumer group that reads to the end of every partition and exits
// there (kcat -e, which needs an empty fetch answered with empty records,
// not null ones), and the metadata listing.
func TestKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	needClient(t, err, "apt-get install kcat")
	broker := startBroker(t, dataDir(t))
	const topic, group, partitions = "kcat-check", "kcat-group", 3
	createTopic(t, broker.Addr, topic, partitions)
	produceFromGo(t, broker.Addr, topic, partitions, 60)

	produced := 0
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		var in bytes.Buffer
		for range 50 {
			fmt.Fprintf(&in, "kcat-%d:kcat-value-%d\n", produced, produced)
			produced++
		}
		runClient(t, in.Bytes(), kcat, "-b", broker.Addr, "-P", "-t", topic, "-K:", "-H", "client=kcat", "-z", codec,
			"-X", "enable.idempotence=true", "-X", "acks=all")
	}

	out := runClient(t, nil, kcat, "-b", broker.Addr, "-G", group, "-o", "beginning", "-e", "-q",
		"-f", "%p\t%o\t%k\t%s\t%h\n", topic)
	var read []clientRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 {
			t.Fatalf("kcat printed %q", sc.Text())
		}
		p, _ := strconv.Atoi(f[0])
		o, _ := strconv.ParseInt(f[1], 10, 64)
		h := map[string]string{}
		for _, kv := range strings.Split(f[4], ",") {
			if name, value, ok := strings.Cut(kv, "="); ok {
				h[name] = value
			}
		}
		read = append(read, clientRecord{P: int32(p), O: o, K: &f[2], V: &f[3], H: h})
	}
	checkClientRun(t, broker.Addr, topic, group, "kcat", "kcat", produced, read)

	var md struct {
		Topics []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Leader int `json:"leader"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(runClient(t, nil, kcat, "-b", broker.Addr, "-L", "-J", "-t", topic), &md); err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != topic || len(md.Topics[0].Partitions) != partitions {
		t.Fatalf("kcat -L: %+v", md)
	}
}

// scriptRun is a client script's run against a fresh broker: franz-go
// wrote scriptFromGo records to a topic of scriptPartitions partitions,
// the script wrote scriptFromClient and read them all in a consumer group.
type scriptRun struct {
	addr, topic, group string
	read               []clientRecord // what the script printed
}

const scriptPartitions, scriptFromGo, scriptFromClient = 3, 60, 300

// runScript runs testdata/DIR/SCRIPT with interp (see the scripts for
// their arguments and what they print).
func runScript(t *testing.T, interp, dir, script, name string) scriptRun {
	t.Helper()
	broker := startBroker(t, dataDir(t))
	run := scriptRun{addr: broker.Addr, topic: dir + "-check", group: dir + "-group"}
	createTopic(t, run.addr, run.topic, scriptPartitions)
	produceFromGo(t, run.addr, run.topic, scriptPartitions, scriptFromGo)
	path, _ := filepath.Abs(filepath.Join("testdata", dir, script))
	out := runClient(t, nil, interp, path, run.addr, run.topic, run.group,
		strconv.Itoa(scriptFromClient), strconv.Itoa(scriptFromGo+scriptFromClient))
	run.read = parseJSONLines(t, name, out)
	return run
}

// debianPython is Debian's python3 when it has module (a Debian package,
// not a pyenv shim's), else the test skips or fails (needClient).
func debianPython(t *testing.T, module, pkg string) string {
	t.Helper()
	const python = "/usr/bin/python3"
	needClient(t, exec.Command(python, "-c", "import "+module).Run(), "apt-get install "+pkg)
	return python
}

// kafkajs, the JavaScript client with a protocol implementation of its own:
// an idempotent producer with and without gzip, a consumer group, and the
// whole-set AlterConfigs and DeleteRecords of its admin client.
func TestKafkaJS(t *testing.T) {
	node, err := exec.LookPath("node")
	needClient(t, err, "install Node.js")
	_, err = os.Stat(filepath.Join("testdata", "kafkajs", "node_modules", "kafkajs"))
	needClient(t, err, "npm ci --prefix cmd/floe/testdata/kafkajs")
	run := runScript(t, node, "kafkajs", "client.js", "kafkajs")
	// The script deleted partition 0's first two records after reading
	// them: franz-go's records 0 and 3 (round robin, written first).
	var kept []clientRecord
	for _, r := range run.read {
		if r.P == 0 && r.O < 2 {
			if want := fmt.Sprintf("go-%d", 3*r.O); r.K == nil || *r.K != want {
				t.Errorf("kafkajs read partition 0 offset %d as %s, want key %s", r.O, show(r), want)
			}
			continue
		}
		kept = append(kept, r)
	}
	if len(run.read)-len(kept) != 2 {
		t.Errorf("kafkajs read %d of partition 0's first two records", len(run.read)-len(kept))
	}
	checkClientRun(t, run.addr, run.topic, run.group, "js", "kafkajs", scriptFromClient, kept)

	if v := topicConfig(t, run.addr, run.topic, "retention.ms"); v != "3600000" {
		t.Errorf("retention.ms %q after kafkajs's alterConfigs, want 3600000", v)
	}
	adm, ctx := adminFor(t, run.addr)
	starts, err := adm.ListStartOffsets(ctx, run.topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(run.topic, 0); o.Offset != 2 {
		t.Errorf("partition 0 starts at %d after kafkajs's deleteTopicRecords to 2", o.Offset)
	}
}

// kafka-python, the pure-Python client (Debian's python3-kafka, 2.0): its
// version probe pipelines ApiVersions with Metadata v0, then a gzip'd
// acks=all producer and a consumer group.
func TestKafkaPython(t *testing.T) {
	testPythonClient(t, "kafka", "python3-kafka", "kafkapython", "py", "kafka-python")
}

// confluent-kafka-python, librdkafka's Python binding (Debian's
// python3-confluent-kafka): librdkafka's admin requests (AlterConfigs,
// DescribeConfigs of a topic and of the broker), an idempotent zstd'd
// producer, and a consumer group.
func TestConfluentKafkaPython(t *testing.T) {
	run := testPythonClient(t, "confluent_kafka", "python3-confluent-kafka", "confluentkafka", "ck", "confluent-kafka")
	adm, ctx := adminFor(t, run.addr)
	rc, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil || len(rc) != 1 || rc[0].Err != nil {
		t.Fatalf("describe broker 0: %v %v", err, rc)
	}
	for _, c := range rc[0].Configs {
		if c.Key == "remote.log.manager.fetch.max.bytes.per.second" && (c.MaybeValue() != "33554432" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig) {
			t.Errorf("%s = %s from %v after confluent-kafka's alter_configs, want 33554432 from a dynamic broker config", c.Key, c.MaybeValue(), c.Source)
		}
	}
}

// testPythonClient runs testdata/dir/client.py with Debian's Python and
// the client pkg provides (module is what the script imports), checks its
// records (value prefix prefix) and that its alter_configs set
// retention.ms, and returns the run.
func testPythonClient(t *testing.T, module, pkg, dir, prefix, name string) scriptRun {
	python := debianPython(t, module, pkg)
	run := runScript(t, python, dir, "client.py", name)
	checkClientRun(t, run.addr, run.topic, run.group, prefix, name, scriptFromClient, run.read)
	if v := topicConfig(t, run.addr, run.topic, "retention.ms"); v != "7200000" {
		t.Errorf("retention.ms %q after %s's alter_configs, want 7200000", v, name)
	}
	return run
}

// topicConfig is one config's value, as DescribeConfigs gives it.
func topicConfig(t *testing.T, addr, topic, name string) string {
	t.Helper()
	adm, ctx := adminFor(t, addr)
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil || len(rc) != 1 || rc[0].Err != nil {
		t.Fatalf("describe configs: %v %v", err, rc)
	}
	for _, c := range rc[0].Configs {
		if c.Key == name {
			return c.MaybeValue()
		}
	}
	t.Fatalf("no config %s", name)
	return ""
}
