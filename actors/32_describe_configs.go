package actors

// DescribeConfigs (key 32), versions from wire's table.
//
// Behaviour: topic resources list every topic config floe knows (see
// topicConfigSpecs) with its value, whether it is the default, and its source
// (dynamic topic config or default); requested names filter the list. v1+
// synonyms are included when asked for; v3+ carry the config type and
// documentation. A broker resource named by this broker's id lists the
// settings it runs with that have a Kafka name (brokerConfigs), read-only:
// floe's broker settings are flags. The cluster-wide default resource (an
// empty name) holds only dynamic defaults, of which floe has none.
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
			rr.Configs = describeTopicConfigs(t.configs, res.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			switch res.ResourceName {
			case "":
			case strconv.Itoa(int(b.cfg.NodeID)):
				rr.Configs = b.describeBrokerConfigs(res.ConfigNames, req.IncludeDocumentation)
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

func describeTopicConfigs(c topicConfig, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	want := func(string) bool { return true }
	if names != nil {
		set := make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		want = func(n string) bool { return set[n] }
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, spec := range topicConfigSpecs() {
		if !want(spec.name) {
			continue
		}
		v, isDefault := c.value(spec.name)
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = spec.name
		value := v
		rc.Value = &value
		rc.IsDefault = isDefault
		rc.Source = kmsg.ConfigSourceDynamicTopicConfig
		if isDefault {
			rc.Source = kmsg.ConfigSourceDefaultConfig
		}
		rc.ConfigType = kmsg.ConfigTypeString
		switch spec.name {
		case "retention.ms", "retention.bytes", "segment.ms":
			rc.ConfigType = kmsg.ConfigTypeLong
		case "max.message.bytes", "segment.bytes", "min.insync.replicas":
			rc.ConfigType = kmsg.ConfigTypeInt
		case "cleanup.policy":
			rc.ConfigType = kmsg.ConfigTypeList
		}
		if synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Value, syn.Source = spec.name, &value, rc.Source
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
		}
		if docs {
			doc := spec.doc
			rc.Documentation = &doc
		}
		out = append(out, rc)
	}
	return out
}

// brokerConfig is one broker setting under its Kafka name.
type brokerConfig struct {
	name, value string
	kind        kmsg.ConfigType
	builtIn     bool // floe's default, which no flag of floe serve sets
	doc         string
}

// brokerConfigs lists the settings this broker runs with that have a Kafka
// name and mean what Kafka means by it.
func (b *Broker) brokerConfigs() []brokerConfig {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	def := func(topicConfig string) string { spec, _ := findConfigSpec(topicConfig); return spec.def }
	g := b.cfg.Groups
	id := strconv.Itoa(int(b.cfg.NodeID))
	return []brokerConfig{
		{"node.id", id, kmsg.ConfigTypeInt, false, "This broker's id."},
		{"broker.id", id, kmsg.ConfigTypeInt, false, "The same as node.id."},
		{"advertised.listeners", "PLAINTEXT://" + net.JoinHostPort(b.cfg.AdvertiseHost, strconv.Itoa(int(b.cfg.AdvertisePort))), kmsg.ConfigTypeList, false, "The address given to clients (--advertise)."},
		{"auto.create.topics.enable", strconv.FormatBool(b.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean, false, "Whether Metadata and Produce create missing topics (--auto-create-topics)."},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), kmsg.ConfigTypeInt, false, "Partitions of an auto-created topic (--default-partitions)."},
		{"default.replication.factor", "1", kmsg.ConfigTypeShort, true, "One copy: durability comes from the fsync'd WAL and the object store."},
		{"min.insync.replicas", def("min.insync.replicas"), kmsg.ConfigTypeInt, true, "Default of the topic config."},
		{"log.retention.ms", def("retention.ms"), kmsg.ConfigTypeLong, true, "Default of the topic config retention.ms."},
		{"log.retention.bytes", def("retention.bytes"), kmsg.ConfigTypeLong, true, "Default of the topic config retention.bytes."},
		{"log.cleanup.policy", def("cleanup.policy"), kmsg.ConfigTypeList, true, "Default of the topic config cleanup.policy."},
		{"log.message.timestamp.type", def("message.timestamp.type"), kmsg.ConfigTypeString, true, "Default of the topic config message.timestamp.type."},
		{"message.max.bytes", def("max.message.bytes"), kmsg.ConfigTypeInt, true, "Default of the topic config max.message.bytes."},
		{"compression.type", def("compression.type"), kmsg.ConfigTypeString, true, "Batches are stored as the producer sent them."},
		{"offsets.retention.minutes", strconv.FormatInt(int64(g.OffsetsRetention/time.Minute), 10), kmsg.ConfigTypeInt, false, "How long an empty group's committed offsets are kept (--offsets-retention)."},
		{"offsets.retention.check.interval.ms", ms(g.RetentionCheckInterval), kmsg.ConfigTypeLong, true, "How often expired offsets are looked for."},
		{"offset.metadata.max.bytes", strconv.Itoa(g.OffsetMetadataMaxBytes), kmsg.ConfigTypeInt, true, "Largest metadata string of a committed offset."},
		{"group.initial.rebalance.delay.ms", ms(g.InitialRebalanceDelay), kmsg.ConfigTypeInt, true, "How long an empty group's first rebalance waits for more members."},
		{"group.min.session.timeout.ms", ms(g.MinSessionTimeout), kmsg.ConfigTypeInt, true, "Shortest session timeout a classic member may ask for."},
		{"group.max.session.timeout.ms", ms(g.MaxSessionTimeout), kmsg.ConfigTypeInt, true, "Longest session timeout a classic member may ask for."},
		{"group.max.size", strconv.Itoa(g.MaxSize), kmsg.ConfigTypeInt, true, "Most members of one group."},
		{"group.consumer.session.timeout.ms", ms(g.ConsumerSessionTimeout), kmsg.ConfigTypeInt, true, "Session timeout of KIP-848 consumer group members."},
		{"group.consumer.heartbeat.interval.ms", ms(g.ConsumerHeartbeatInterval), kmsg.ConfigTypeInt, true, "Heartbeat interval of KIP-848 consumer group members."},
	}
}

func (b *Broker) describeBrokerConfigs(names []string, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, c := range b.brokerConfigs() {
		if names != nil && !slices.Contains(names, c.name) {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = c.name
		value := c.value
		rc.Value = &value
		rc.ReadOnly = true
		rc.Source = kmsg.ConfigSourceStaticBrokerConfig
		if c.builtIn {
			rc.Source = kmsg.ConfigSourceDefaultConfig
			rc.IsDefault = true
		}
		rc.ConfigType = c.kind
		if docs {
			doc := c.doc
			rc.Documentation = &doc
		}
		out = append(out, rc)
	}
	return out
}
