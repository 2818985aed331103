package wire

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestSupportedAPIsTableIsSane(t *testing.T) {
	apis := SupportedAPIs()
	if len(apis) == 0 {
		t.Fatal("empty table")
	}
	for i, a := range apis {
		if i > 0 && apis[i-1].Key >= a.Key {
			t.Errorf("row %d: key %d not after %d: the table must be sorted, keys unique", i, a.Key, apis[i-1].Key)
		}
		if a.Min < 0 || a.Min > a.Max {
			t.Errorf("%s: range %d..%d", APIName(a.Key), a.Min, a.Max)
		}
	}
}

// Every key must be known to kmsg (DecodeRequest builds it there) at every
// version we advertise.
func TestSupportedAPIsKnownToKmsg(t *testing.T) {
	for _, a := range SupportedAPIs() {
		req := kmsg.RequestForKey(a.Key)
		if req == nil {
			t.Errorf("key %d: unknown to kmsg", a.Key)
			continue
		}
		if a.Max > req.MaxVersion() {
			t.Errorf("%s: max %d above kmsg's %d", APIName(a.Key), a.Max, req.MaxVersion())
		}
		if resp := kmsg.ResponseForKey(a.Key); resp == nil || a.Max > resp.MaxVersion() {
			t.Errorf("%s: kmsg cannot encode the response at v%d", APIName(a.Key), a.Max)
		}
	}
}

// The caps are decisions (see versions.go); this pins them so that raising
// one is a deliberate change to this test too.
func TestSupportedAPIsRanges(t *testing.T) {
	want := map[kmsg.Key][2]int16{
		kmsg.Produce:                 {3, 12},
		kmsg.Fetch:                   {4, 12},
		kmsg.ListOffsets:             {1, 11},
		kmsg.Metadata:                {0, 12},
		kmsg.ApiVersions:             {0, 4},
		kmsg.CreateTopics:            {2, 7},
		kmsg.DeleteTopics:            {1, 6},
		kmsg.InitProducerID:          {0, 5},
		kmsg.DescribeConfigs:         {0, 4},
		kmsg.AlterConfigs:            {0, 2},
		kmsg.CreatePartitions:        {0, 3},
		kmsg.IncrementalAlterConfigs: {0, 1},
		kmsg.DescribeCluster:         {0, 1},
		kmsg.DeleteRecords:           {0, 2},
		kmsg.OffsetCommit:            {2, 10},
		kmsg.OffsetFetch:             {1, 10},
		kmsg.FindCoordinator:         {0, 6},
		kmsg.JoinGroup:               {0, 9},
		kmsg.Heartbeat:               {0, 4},
		kmsg.LeaveGroup:              {0, 5},
		kmsg.SyncGroup:               {0, 5},
		kmsg.DescribeGroups:          {0, 6},
		kmsg.ListGroups:              {0, 5},
		kmsg.DeleteGroups:            {0, 3},
		kmsg.OffsetDelete:            {0, 0},
		kmsg.ConsumerGroupHeartbeat:  {0, 1},
		kmsg.ConsumerGroupDescribe:   {0, 1},
	}
	apis := SupportedAPIs()
	if len(apis) != len(want) {
		t.Errorf("table has %d rows, want %d", len(apis), len(want))
	}
	for _, a := range apis {
		w, ok := want[kmsg.Key(a.Key)]
		if !ok {
			t.Errorf("unexpected row %s", APIName(a.Key))
			continue
		}
		if a.Min != w[0] || a.Max != w[1] {
			t.Errorf("%s: %d..%d, want %d..%d", APIName(a.Key), a.Min, a.Max, w[0], w[1])
		}
	}
}

func TestSupportedAPIsReturnsCopy(t *testing.T) {
	a := SupportedAPIs()
	a[0].Max = 99
	if b := SupportedAPIs(); b[0].Key != int16(kmsg.Produce) || b[0].Max == 99 {
		t.Fatalf("table changed through a returned slice: %+v", b[0])
	}
}

func TestVersionSupported(t *testing.T) {
	tests := []struct {
		key, version int16
		want         bool
	}{
		{int16(kmsg.Produce), 2, false}, // message sets
		{int16(kmsg.Produce), 3, true},
		{int16(kmsg.Produce), 12, true},
		{int16(kmsg.Produce), 13, false}, // topic ids
		{int16(kmsg.Fetch), 3, false},
		{int16(kmsg.Fetch), 4, true},
		{int16(kmsg.Fetch), 12, true},
		{int16(kmsg.Fetch), 13, false},
		{int16(kmsg.ApiVersions), 0, true},
		{int16(kmsg.ApiVersions), 4, true},
		{int16(kmsg.ApiVersions), 5, false},
		{int16(kmsg.Metadata), 0, true}, // kafka-python 2.0's probe
		{int16(kmsg.OffsetFetch), 0, false},
		{int16(kmsg.DescribeCluster), 1, true},
		{int16(kmsg.DescribeCluster), -1, false},
		{int16(kmsg.JoinGroup), 0, true},
		{int16(kmsg.JoinGroup), 10, false},
		{int16(kmsg.OffsetCommit), 1, false}, // removed in Kafka 4.0
		{int16(kmsg.DeleteRecords), 2, true},
		{int16(kmsg.DeleteRecords), 3, false},
		{-1, 0, false},
		{10000, 0, false},
	}
	for _, tt := range tests {
		if got := VersionSupported(tt.key, tt.version); got != tt.want {
			t.Errorf("VersionSupported(%s=%d, %d) = %v, want %v", APIName(tt.key), tt.key, tt.version, got, tt.want)
		}
	}
}

func TestAPIName(t *testing.T) {
	tests := []struct {
		key  int16
		want string
	}{
		{0, "Produce"},
		{18, "ApiVersions"},
		{11, "JoinGroup"}, // named though not served
		{-1, "Unknown"},
		{32000, "Unknown"},
	}
	for _, tt := range tests {
		if got := APIName(tt.key); got != tt.want {
			t.Errorf("APIName(%d) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func BenchmarkVersionSupported(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !VersionSupported(int16(kmsg.DescribeCluster), 1) {
			b.Fatal("not supported")
		}
	}
}
