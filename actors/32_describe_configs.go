package actors

// DescribeConfigs (key 32), versions from wire's table.
//
// Behaviour: topic resources list every topic config floe knows (see
// topicConfigSpecs) with its value, whether it is the default, and its source
// (dynamic topic config or default); requested names filter the list. v1+
// synonyms are included when asked for; v3+ carry the config type and
// documentation. Broker resources are answered with an empty config list
// (floe's broker settings are flags, not Kafka configs).
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST for other resource types.

import (
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
