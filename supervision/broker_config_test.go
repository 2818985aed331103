package supervision

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	coldRateConfig       = "remote.log.manager.fetch.max.bytes.per.second"
	compactionRateConfig = "floe.compaction.max.bytes.per.second"
)

// The cold-read and compaction budgets change while the broker runs,
// through Kafka's broker config APIs: on this broker's id and on the
// cluster-wide default, the id winning over the default and the default
// over the flag. A change is in force at once (the budget gauges), is
// described with the level it comes from and every level as a synonym,
// outlives a restart, and falls back a level when deleted. Read-only,
// unknown and bad configs, and another broker's id, are refused, changing
// nothing.
func TestDynamicBrokerConfigs(t *testing.T) {
	cfg := testConfig(t)
	cfg.ColdReadBytesPerSecond = 24 << 20
	cfg.CompactionBytesPerSecond = 32 << 20
	n := startNode(t, cfg)
	stopped := false
	defer func() {
		if !stopped {
			stopNode(t, n)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(newClient(t, n))

	// want checks a config of broker 0 as described (value, source and
	// the synonyms' "value/source" list) and the gauge of its budget.
	want := func(step, name, value string, source kmsg.ConfigSource, synonyms string) {
		t.Helper()
		rc, err := adm.DescribeBrokerConfigs(ctx, 0)
		if err != nil || len(rc) != 1 || rc[0].Err != nil {
			t.Fatalf("%s: describe broker 0: %v %v", step, err, rc)
		}
		var found bool
		for _, c := range rc[0].Configs {
			if c.Key != name {
				continue
			}
			found = true
			var syn []string
			for _, s := range c.Synonyms {
				syn = append(syn, fmt.Sprintf("%s/%s", *s.Value, s.Source))
			}
			if c.MaybeValue() != value || c.Source != source || strings.Join(syn, " ") != synonyms {
				t.Errorf("%s: %s = %s from %v, synonyms %v; want %s from %v, synonyms %s", step, name, c.MaybeValue(), c.Source, syn, value, source, synonyms)
			}
		}
		if !found {
			t.Errorf("%s: %s not described", step, name)
		}
		gauge := map[string]string{coldRateConfig: "floe_cold_read_budget_bytes_per_second", compactionRateConfig: "floe_compaction_budget_bytes_per_second"}[name]
		v := metricValue(t, n, gauge)
		if got := fmt.Sprint(int64(v)); got != value && !(value == fmt.Sprint(int64(math.MaxInt64)) && math.IsInf(v, 1)) {
			t.Errorf("%s: %s = %v, want %s in force", step, gauge, v, value)
		}
	}
	alter := func(step string, configs []kadm.AlterConfig, brokers ...int32) {
		t.Helper()
		ar, err := adm.AlterBrokerConfigs(ctx, configs, brokers...)
		if err != nil || len(ar) != 1 || ar[0].Err != nil {
			t.Fatalf("%s: %v %+v", step, err, ar)
		}
	}
	set := func(name, value string) kadm.AlterConfig {
		return kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: kadm.StringPtr(value)}
	}
	const static, dynBroker, dynDefault = kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig

	want("the flags", coldRateConfig, "25165824", static, "25165824/STATIC_BROKER_CONFIG")
	want("the flags", compactionRateConfig, "33554432", static, "33554432/STATIC_BROKER_CONFIG")

	alter("broker 0's cold rate", []kadm.AlterConfig{set(coldRateConfig, "1048576")}, 0)
	alter("the default's", []kadm.AlterConfig{set(coldRateConfig, "2097152"), set(compactionRateConfig, "4194304")})
	both := "1048576/DYNAMIC_BROKER_CONFIG 2097152/DYNAMIC_DEFAULT_BROKER_CONFIG 25165824/STATIC_BROKER_CONFIG"
	want("set on both levels", coldRateConfig, "1048576", dynBroker, both)
	want("set on the default", compactionRateConfig, "4194304", dynDefault, "4194304/DYNAMIC_DEFAULT_BROKER_CONFIG 33554432/STATIC_BROKER_CONFIG")
	rc, err := adm.DescribeBrokerConfigs(ctx) // the cluster-wide default resource
	if err != nil || len(rc) != 1 || rc[0].Err != nil || len(rc[0].Configs) != 2 {
		t.Fatalf("describe the cluster default: %v %+v, want the two set on it", err, rc)
	}

	// Refused, and nothing changed by it.
	for _, c := range []struct {
		name, value string
		want        error
	}{
		{"num.partitions", "3", kerr.InvalidConfig}, // a flag
		{"no.such.config", "3", kerr.InvalidConfig},
		{coldRateConfig, "0", kerr.InvalidConfig},
		{coldRateConfig, "-1", kerr.InvalidConfig},
		{coldRateConfig, "fast", kerr.InvalidConfig},
		{compactionRateConfig, "6", kerr.InvalidRequest}, // named twice
	} {
		ar, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set(compactionRateConfig, "5"), set(c.name, c.value)}, 0)
		if err != nil || len(ar) != 1 || !errors.Is(ar[0].Err, c.want) {
			t.Errorf("%s=%s: %v %+v, want %v", c.name, c.value, err, ar, c.want)
		}
	}
	if ar, err := adm.ValidateAlterBrokerConfigs(ctx, []kadm.AlterConfig{set(coldRateConfig, "7")}, 0); err != nil || ar[0].Err != nil {
		t.Errorf("validate only: %v %+v", err, ar)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "3"
	rcfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rcfg.Name, rcfg.Value = coldRateConfig, kmsg.StringPtr("7")
	res.Configs = append(res.Configs, rcfg)
	req.Resources = append(req.Resources, res)
	kresp, err := newClient(t, n).Broker(0).Request(ctx, req)
	if resp, _ := kresp.(*kmsg.IncrementalAlterConfigsResponse); err != nil || resp == nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("broker 3 altered through broker 0: %v %+v, want INVALID_REQUEST", err, kresp)
	}
	want("after the refusals", coldRateConfig, "1048576", dynBroker, both)
	want("after the refusals", compactionRateConfig, "4194304", dynDefault, "4194304/DYNAMIC_DEFAULT_BROKER_CONFIG 33554432/STATIC_BROKER_CONFIG")

	// A restart with the same flags keeps both levels.
	stopNode(t, n)
	stopped = true
	n = startNode(t, cfg)
	stopped = false
	adm = kadm.NewClient(newClient(t, n))
	want("after a restart", coldRateConfig, "1048576", dynBroker, both)
	want("after a restart", compactionRateConfig, "4194304", dynDefault, "4194304/DYNAMIC_DEFAULT_BROKER_CONFIG 33554432/STATIC_BROKER_CONFIG")

	// Deleting broker 0's value falls back to the default's; the
	// whole-set AlterConfigs on the default, without the cold rate, falls
	// back to the flag.
	alter("delete broker 0's", []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: coldRateConfig}}, 0)
	want("broker 0's deleted", coldRateConfig, "2097152", dynDefault, "2097152/DYNAMIC_DEFAULT_BROKER_CONFIG 25165824/STATIC_BROKER_CONFIG")
	ar, err := adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{set(compactionRateConfig, "8388608")})
	if err != nil || len(ar) != 1 || ar[0].Err != nil {
		t.Fatalf("replace the default's: %v %+v", err, ar)
	}
	want("the default replaced", coldRateConfig, "25165824", static, "25165824/STATIC_BROKER_CONFIG")
	want("the default replaced", compactionRateConfig, "8388608", dynDefault, "8388608/DYNAMIC_DEFAULT_BROKER_CONFIG 33554432/STATIC_BROKER_CONFIG")

	// No limit, written as Kafka writes it, takes the budget away.
	alter("no limit", []kadm.AlterConfig{set(coldRateConfig, fmt.Sprint(int64(math.MaxInt64)))}, 0)
	want("no limit", coldRateConfig, fmt.Sprint(int64(math.MaxInt64)), dynBroker,
		fmt.Sprint(int64(math.MaxInt64))+"/DYNAMIC_BROKER_CONFIG 25165824/STATIC_BROKER_CONFIG")
}
