package actors

// Dynamic broker configs: the broker settings an operator may change at
// runtime, with Kafka's AlterConfigs and IncrementalAlterConfigs on a broker
// resource (kafka-configs --entity-type brokers, kadm's AlterBrokerConfigs),
// without a restart. They are the cold path's and compaction's byte
// budgets, the two knobs that trade catch-up and compaction speed against
// the produce latency of everything else on the broker.
//
// As in Kafka, a value set on this broker's id takes precedence over one set
// on the cluster-wide default resource (the empty name), which takes
// precedence over the flag of floe serve (a static broker config). Both
// dynamic levels are kept in the metadata store, so they outlive a restart;
// deleting one falls back to the next level. Every other broker setting is
// a flag and read-only.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/time/rate"
)

// dynamicConfigs is what was set at runtime, by level; published whole
// (Broker.dynamic) and never modified once published.
type dynamicConfigs struct {
	broker         map[string]string // on this broker's id
	clusterDefault map[string]string // on the cluster-wide default resource
}

// dynamicBrokerSpec is one broker config that may be changed at runtime:
// a byte rate, a positive LONG as Kafka's quotas are.
type dynamicBrokerSpec struct {
	name, doc string
	static    func(cfg *Config) int64      // the flag's value
	apply     func(b *Broker, value int64) // puts the effective value in force
}

// unlimited is how a byte rate without a limit is written, as Kafka writes
// its quotas' default.
const unlimited = math.MaxInt64

func dynamicBrokerSpecs() []dynamicBrokerSpec {
	return []dynamicBrokerSpec{
		{
			name: "remote.log.manager.fetch.max.bytes.per.second",
			doc:  "Bytes per second all lagging consumers together are served from objects, and from the log cache while far behind its end (--cold-read-rate); " + strconv.FormatInt(unlimited, 10) + " is no limit.",
			static: func(cfg *Config) int64 {
				if cfg.ColdReadBytesPerSecond <= 0 {
					return unlimited
				}
				return cfg.ColdReadBytesPerSecond
			},
			apply: (*Broker).setColdReadRate,
		},
		{
			name:   "floe.compaction.max.bytes.per.second",
			doc:    "Bytes per second compaction may read and write, together (--compaction-rate).",
			static: func(cfg *Config) int64 { return cfg.CompactionBytesPerSecond },
			apply: func(b *Broker, v int64) {
				b.compaction.SetLimit(rate.Limit(v))
				b.compaction.SetBurst(int(min(v, pacePieceBytes)))
			},
		},
	}
}

func isDynamicBrokerConfig(name string) bool {
	return slices.ContainsFunc(dynamicBrokerSpecs(), func(s dynamicBrokerSpec) bool { return s.name == name })
}

// setColdReadRate puts a cold-read budget of bytesPerSecond in force (none
// for unlimited or less than 1). An unchanged rate keeps the budget's state.
func (b *Broker) setColdReadRate(bytesPerSecond int64) {
	if bytesPerSecond <= 0 || bytesPerSecond == unlimited {
		b.coldBudget.Store(nil)
		return
	}
	if cur := b.coldBudget.Load(); cur != nil && cur.Limit() == rate.Limit(bytesPerSecond) {
		return
	}
	b.coldBudget.Store(rate.NewLimiter(rate.Limit(bytesPerSecond), coldBudgetBurst))
}

// levels are the values a dynamic config has, highest precedence first:
// this broker's, the cluster-wide default's, each where one is set, and the
// flag's. The first is the value in force; all are its synonyms.
func (d *dynamicConfigs) levels(spec dynamicBrokerSpec, cfg *Config) []configSynonym {
	var out []configSynonym
	if v, ok := d.broker[spec.name]; ok {
		out = append(out, configSynonym{v, kmsg.ConfigSourceDynamicBrokerConfig})
	}
	if v, ok := d.clusterDefault[spec.name]; ok {
		out = append(out, configSynonym{v, kmsg.ConfigSourceDynamicDefaultBrokerConfig})
	}
	return append(out, configSynonym{strconv.FormatInt(spec.static(cfg), 10), kmsg.ConfigSourceStaticBrokerConfig})
}

// applyDynamic puts every dynamic config's effective value in force.
func (b *Broker) applyDynamic() {
	d := b.dynamic.Load()
	for _, spec := range dynamicBrokerSpecs() {
		v := d.levels(spec, &b.cfg)[0].value
		n, err := parseByteRate(v)
		if err != nil { // stored before validation changed; not expected
			b.log.Warn("ignoring a dynamic broker config", "name", spec.name, "value", v, "err", err)
			n = spec.static(&b.cfg)
		}
		spec.apply(b, n)
	}
}

// loadDynamicConfigs reads the stored dynamic configs of this broker and
// the cluster-wide default, and puts them in force.
func (b *Broker) loadDynamicConfigs() error {
	stored, err := b.deps.Meta.BrokerConfigs()
	if err != nil {
		return fmt.Errorf("actors: load dynamic broker configs: %w", err)
	}
	d := &dynamicConfigs{broker: stored[b.brokerResource()], clusterDefault: stored[""]}
	b.dynamic.Store(d)
	for _, level := range []map[string]string{d.broker, d.clusterDefault} {
		for name, v := range level {
			b.log.Info("dynamic broker config", "name", name, "value", v)
		}
	}
	b.applyDynamic()
	return nil
}

func (b *Broker) brokerResource() string { return strconv.Itoa(int(b.cfg.NodeID)) }

func parseByteRate(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive number of bytes per second", v)
	}
	return n, nil
}

// brokerConfigEdit is one change to a broker resource's dynamic configs:
// set to a value, or (value nil) deleted, back to the next level.
type brokerConfigEdit struct {
	name  string
	value *string
}

// alterBrokerConfigs validates and applies edits to the dynamic configs of
// a broker resource (this broker's id, or "" for the cluster-wide default);
// replace starts from none, as AlterConfigs does. Unless validateOnly, the
// new set is stored, then published and put in force. Runs on the topic
// manager, which does every config write.
func (tm *topicManager) alterBrokerConfigs(resource string, edits []brokerConfigEdit, replace, validateOnly bool) (int16, string) {
	b := tm.b
	if resource != "" && resource != b.brokerResource() {
		return kerr.InvalidRequest.Code, "this is broker " + b.brokerResource()
	}
	cur := b.dynamic.Load()
	level := cur.broker
	if resource == "" {
		level = cur.clusterDefault
	}
	next := maps.Clone(level)
	if replace || next == nil {
		next = make(map[string]string)
	}
	for _, e := range edits {
		if !isDynamicBrokerConfig(e.name) {
			if slices.ContainsFunc(b.brokerConfigs(), func(c describedConfig) bool { return c.name == e.name }) {
				return kerr.InvalidConfig.Code, e.name + " cannot be changed at runtime: it is set by a flag of floe serve"
			}
			return kerr.InvalidConfig.Code, "unknown broker config " + e.name
		}
		if e.value == nil {
			delete(next, e.name)
			continue
		}
		if _, err := parseByteRate(*e.value); err != nil {
			return kerr.InvalidConfig.Code, e.name + ": " + err.Error()
		}
		next[e.name] = *e.value
	}
	if validateOnly {
		return 0, ""
	}
	if err := b.deps.Meta.SetBrokerConfigs(resource, next); err != nil {
		b.log.Error("alter broker configs", "resource", resource, "err", err)
		return kerr.UnknownServerError.Code, err.Error()
	}
	d := &dynamicConfigs{broker: cur.broker, clusterDefault: cur.clusterDefault}
	if resource == "" {
		d.clusterDefault = next
	} else {
		d.broker = next
	}
	b.dynamic.Store(d)
	b.applyDynamic()
	b.log.Info("dynamic broker configs changed", "resource", resource, "configs", next)
	return 0, ""
}

// dynamicDescribed describes the dynamic configs as they are in force on
// this broker, each with its synonyms: the levels that set it, highest
// precedence first.
func (b *Broker) dynamicDescribed() []describedConfig {
	d := b.dynamic.Load()
	var out []describedConfig
	for _, spec := range dynamicBrokerSpecs() {
		levels := d.levels(spec, &b.cfg)
		out = append(out, describedConfig{name: spec.name, value: levels[0].value, source: levels[0].source,
			kind: kmsg.ConfigTypeLong, doc: spec.doc, synonyms: levels})
	}
	return out
}

// clusterDefaultDescribed describes the cluster-wide default resource:
// the dynamic defaults set on it, nothing else (as Kafka lists it).
func (b *Broker) clusterDefaultDescribed() []describedConfig {
	d := b.dynamic.Load()
	var out []describedConfig
	for _, spec := range dynamicBrokerSpecs() {
		if v, ok := d.clusterDefault[spec.name]; ok {
			out = append(out, describedConfig{name: spec.name, value: v, source: kmsg.ConfigSourceDynamicDefaultBrokerConfig, kind: kmsg.ConfigTypeLong, doc: spec.doc})
		}
	}
	return out
}
