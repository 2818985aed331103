package actors

// AlterConfigs (key 33), versions from wire's table.
//
// Behaviour: the older, whole-set form of IncrementalAlterConfigs. A topic
// resource's configs become exactly those given: each is set, and every
// config set before and not given goes back to its default, in one metadata
// write. validate_only checks and changes nothing. Handled by the topic
// manager, as the incremental form is.
//
// A broker resource's dynamic configs (broker_config.go) become exactly
// those given, the same way.
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG (unknown name, bad
// value, a broker config that is a flag), INVALID_REQUEST for a null value,
// another broker's id and other resource types.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleAlterConfigs(r *netloop.Request, req *kmsg.AlterConfigsRequest) {
	b.send(b.topics, &replaceConfigsMsg{r: r, req: req})
}

func (tm *topicManager) replaceConfigs(m *replaceConfigsMsg) {
	resp := m.req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, res := range m.req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		code, msg := tm.replaceOne(res, m.req.ValidateOnly)
		rr.ErrorCode = code
		if msg != "" {
			rr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	m.r.Respond(resp)
}

func (tm *topicManager) replaceOne(res kmsg.AlterConfigsRequestResource, validateOnly bool) (int16, string) {
	switch res.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		edits := make([]brokerConfigEdit, 0, len(res.Configs))
		for _, c := range res.Configs {
			if c.Value == nil {
				return kerr.InvalidRequest.Code, "null value for " + c.Name
			}
			edits = append(edits, brokerConfigEdit{c.Name, c.Value})
		}
		return tm.alterBrokerConfigs(res.ResourceName, edits, true, validateOnly)
	default:
		return kerr.InvalidRequest.Code, "only topic and broker configs can be altered"
	}
	t := tm.b.reg.load().byName[res.ResourceName]
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code, ""
	}
	set := make(map[string]string, len(res.Configs))
	for _, c := range res.Configs {
		if _, ok := findConfigSpec(c.Name); !ok {
			return kerr.InvalidConfig.Code, "unknown topic config " + c.Name
		}
		if c.Value == nil {
			return kerr.InvalidRequest.Code, "null value for " + c.Name
		}
		set[c.Name] = *c.Value
	}
	var remove []string
	for name := range t.configs.values {
		if _, given := set[name]; !given {
			remove = append(remove, name)
		}
	}
	return tm.applyConfigs(t, set, remove, validateOnly)
}
