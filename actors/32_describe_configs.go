package actors

// DescribeConfigs (key 32), versions from wire's table.
//
// Behaviour: topic resources list every topic config floe knows (see
// topicConfigSpecs) with its value, whether it is the default, and its source
// (dynamic topic config or default); requested names filter the list. v1+
// synonyms are included when asked for; v3+ carry the config type and
// documentation. A broker resource named by this broker's id lists the
// settings it runs with that have a Kafka name (brokerConfigs), read-only
// (they are flags), and the dynamic broker configs (broker_config.go) with
// the level each value comes from and, as synonyms, every level that sets
// it. The cluster-wide default resource (an empty name) holds the dynamic
// defaults set on it.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST for another broker's id
// and other resource types.

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleDescribeConfigs(r *netloop.Request, req *kmsg.DescribeConfigsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	snap := b.reg.load()
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := snap.byName[res.ResourceName]
			if t == nil {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			rr.Configs = encodeConfigs(topicConfigs(t.configs), res.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			switch res.ResourceName {
			case "":
				rr.Configs = encodeConfigs(b.clusterDefaultDescribed(), res.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
			case b.brokerResource():
				rr.Configs = encodeConfigs(append(b.brokerConfigs(), b.dynamicDescribed()...), res.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
			default:
				rr.ErrorCode = kerr.InvalidRequest.Code
				msg := "this is broker " + strconv.Itoa(int(b.cfg.NodeID))
				rr.ErrorMessage = &msg
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
		}
		resp.Resources = append(resp.Resources, rr)
	}
	r.Respond(resp)
}

// describedConfig is one config as DescribeConfigs (and CreateTopics)
// reports it.
type describedConfig struct {
	name, value string
	source      kmsg.ConfigSource // DEFAULT_CONFIG: the value is the default
	kind        kmsg.ConfigType
	readOnly    bool
	doc         string
	// synonyms are the levels that give the config a value, highest
	// precedence first; none means the config itself alone.
	synonyms []configSynonym
}

// configSynonym is one level's value of a config.
type configSynonym struct {
	value  string
	source kmsg.ConfigSource
}

// topicConfigs describes every topic config floe knows (topicConfigSpecs)
// with c's values: a dynamic topic config where one is set, the default
// otherwise.
func topicConfigs(c topicConfig) []describedConfig {
	var out []describedConfig
	for _, spec := range topicConfigSpecs() {
		v, isDefault := c.value(spec.name)
		dc := describedConfig{name: spec.name, value: v, source: kmsg.ConfigSourceDynamicTopicConfig, kind: kmsg.ConfigTypeString, doc: spec.doc}
		if isDefault {
			dc.source = kmsg.ConfigSourceDefaultConfig
		}
		switch spec.name {
		case "retention.ms", "retention.bytes", "segment.ms":
			dc.kind = kmsg.ConfigTypeLong
		case "max.message.bytes", "segment.bytes", "min.insync.replicas":
			dc.kind = kmsg.ConfigTypeInt
		case "cleanup.policy":
			dc.kind = kmsg.ConfigTypeList
		}
		out = append(out, dc)
	}
	return out
}

// brokerConfigs describes the settings this broker runs with that have a
// Kafka name and mean what Kafka means by it. All are read-only (the
// broker's settings are flags): a static broker config where a flag of
// floe serve sets it, the default where none does.
func (b *Broker) brokerConfigs() []describedConfig {
	const static, builtIn = kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigSourceDefaultConfig
	def := func(topicConfig string) string { spec, _ := findConfigSpec(topicConfig); return spec.def }
	g := b.cfg.Groups
	id := strconv.Itoa(int(b.cfg.NodeID))
	return append([]describedConfig{
		{"node.id", id, static, kmsg.ConfigTypeInt, true, "This broker's id.", nil},
		{"broker.id", id, static, kmsg.ConfigTypeInt, true, "The same as node.id.", nil},
		{"advertised.listeners", "PLAINTEXT://" + net.JoinHostPort(b.cfg.AdvertiseHost, strconv.Itoa(int(b.cfg.AdvertisePort))), static, kmsg.ConfigTypeList, true, "The address given to clients (--advertise).", nil},
		{"auto.create.topics.enable", strconv.FormatBool(b.cfg.AutoCreateTopics), static, kmsg.ConfigTypeBoolean, true, "Whether Metadata and Produce create missing topics (--auto-create-topics).", nil},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), static, kmsg.ConfigTypeInt, true, "Partitions of an auto-created topic (--default-partitions).", nil},
		{"default.replication.factor", "1", builtIn, kmsg.ConfigTypeShort, true, "One copy: durability comes from the fsync'd WAL and the object store.", nil},
		{"min.insync.replicas", def("min.insync.replicas"), builtIn, kmsg.ConfigTypeInt, true, "Default of the topic config.", nil},
		{"log.retention.ms", def("retention.ms"), builtIn, kmsg.ConfigTypeLong, true, "Default of the topic config retention.ms.", nil},
		{"log.retention.bytes", def("retention.bytes"), builtIn, kmsg.ConfigTypeLong, true, "Default of the topic config retention.bytes.", nil},
		{"log.cleanup.policy", def("cleanup.policy"), builtIn, kmsg.ConfigTypeList, true, "Default of the topic config cleanup.policy.", nil},
		{"log.message.timestamp.type", def("message.timestamp.type"), builtIn, kmsg.ConfigTypeString, true, "Default of the topic config message.timestamp.type.", nil},
		{"message.max.bytes", def("max.message.bytes"), builtIn, kmsg.ConfigTypeInt, true, "Default of the topic config max.message.bytes.", nil},
		{"compression.type", def("compression.type"), builtIn, kmsg.ConfigTypeString, true, "Batches are stored as the producer sent them.", nil},
		{"offsets.retention.minutes", strconv.FormatInt(int64(g.OffsetsRetention/time.Minute), 10), static, kmsg.ConfigTypeInt, true, "How long an empty group's committed offsets are kept (--offsets-retention).", nil},
	}, groupConfigs(g)...)
}

// groupConfigs describes the group coordinator's settings in g: static
// where g changes one from its default (an embedder's Config can; floe
// serve has no flag for them), the default otherwise.
func groupConfigs(g GroupConfig) []describedConfig {
	var d GroupConfig
	d.ensureDefaults()
	list := func(g GroupConfig) []describedConfig {
		const builtIn = kmsg.ConfigSourceDefaultConfig
		ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
		return []describedConfig{
			{"offsets.retention.check.interval.ms", ms(g.RetentionCheckInterval), builtIn, kmsg.ConfigTypeLong, true, "How often expired offsets are looked for.", nil},
			{"offset.metadata.max.bytes", strconv.Itoa(g.OffsetMetadataMaxBytes), builtIn, kmsg.ConfigTypeInt, true, "Largest metadata string of a committed offset.", nil},
			{"group.initial.rebalance.delay.ms", ms(g.InitialRebalanceDelay), builtIn, kmsg.ConfigTypeInt, true, "How long an empty group's first rebalance waits for more members.", nil},
			{"group.min.session.timeout.ms", ms(g.MinSessionTimeout), builtIn, kmsg.ConfigTypeInt, true, "Shortest session timeout a classic member may ask for.", nil},
			{"group.max.session.timeout.ms", ms(g.MaxSessionTimeout), builtIn, kmsg.ConfigTypeInt, true, "Longest session timeout a classic member may ask for.", nil},
			{"group.max.size", strconv.Itoa(g.MaxSize), builtIn, kmsg.ConfigTypeInt, true, "Most members of one group.", nil},
			{"group.consumer.session.timeout.ms", ms(g.ConsumerSessionTimeout), builtIn, kmsg.ConfigTypeInt, true, "Session timeout of KIP-848 consumer group members.", nil},
			{"group.consumer.heartbeat.interval.ms", ms(g.ConsumerHeartbeatInterval), builtIn, kmsg.ConfigTypeInt, true, "Heartbeat interval of KIP-848 consumer group members.", nil},
		}
	}
	out, defaults := list(g), list(d)
	for i := range out {
		if out[i].value != defaults[i].value {
			out[i].source = kmsg.ConfigSourceStaticBrokerConfig
		}
	}
	return out
}

// encodeConfigs answers the configs names asks for (all of them when nil),
// each with its synonyms (itself alone, but for the dynamic broker configs)
// and its documentation when asked for.
func encodeConfigs(cs []describedConfig, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, c := range cs {
		if names != nil && !slices.Contains(names, c.name) {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = c.name
		value := c.value
		rc.Value = &value
		rc.ReadOnly = c.readOnly
		rc.Source = c.source
		rc.IsDefault = c.source == kmsg.ConfigSourceDefaultConfig
		rc.ConfigType = c.kind
		if synonyms {
			levels := c.synonyms
			if levels == nil {
				levels = []configSynonym{{c.value, c.source}}
			}
			for _, l := range levels {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				syn.Name, syn.Value, syn.Source = c.name, kmsg.StringPtr(l.value), l.source
				rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
			}
		}
		if docs {
			doc := c.doc
			rc.Documentation = &doc
		}
		out = append(out, rc)
	}
	return out
}
