package actors

// IncrementalAlterConfigs (key 44), versions from wire's table.
//
// Behaviour: topic configs are set, deleted (back to the default), or, for the
// list-valued cleanup.policy, appended to and subtracted from; handled by the
// topic manager, which writes the metadata store and publishes the new
// configs. validate_only checks and changes nothing. All operations on one
// resource apply together or not at all.
//
// A broker resource (this broker's id, or "" for the cluster-wide default)
// sets and deletes dynamic broker configs (broker_config.go).
//
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG (unknown name, bad
// value, append/subtract on a non-list, a broker config that is a flag),
// INVALID_REQUEST for a config named twice in one resource, another
// broker's id and other resource types.

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleIncrementalAlterConfigs(r *netloop.Request, req *kmsg.IncrementalAlterConfigsRequest) {
	b.send(b.topics, &alterConfigsMsg{r: r, req: req})
}

func (tm *topicManager) alterConfigs(m *alterConfigsMsg) {
	resp := m.req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range m.req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		code, msg := tm.alterOne(res, m.req.ValidateOnly)
		rr.ErrorCode = code
		if msg != "" {
			rr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	m.r.Respond(resp)
}

func (tm *topicManager) alterOne(res kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) (int16, string) {
	seen := make(map[string]bool, len(res.Configs))
	for _, c := range res.Configs {
		if seen[c.Name] {
			// Which operation would win is not defined; Kafka refuses too.
			return kerr.InvalidRequest.Code, "config " + c.Name + " named twice"
		}
		seen[c.Name] = true
	}
	switch res.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		edits := make([]brokerConfigEdit, 0, len(res.Configs))
		for _, c := range res.Configs {
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				if c.Value == nil {
					return kerr.InvalidRequest.Code, "null value for " + c.Name
				}
				edits = append(edits, brokerConfigEdit{c.Name, c.Value})
			case kmsg.IncrementalAlterConfigOpDelete:
				edits = append(edits, brokerConfigEdit{name: c.Name})
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				return kerr.InvalidConfig.Code, c.Name + " is not a list"
			default:
				return kerr.InvalidRequest.Code, "unknown config operation"
			}
		}
		return tm.alterBrokerConfigs(res.ResourceName, edits, false, validateOnly)
	default:
		return kerr.InvalidRequest.Code, "only topic and broker configs can be altered"
	}
	t := tm.b.reg.load().byName[res.ResourceName]
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code, ""
	}
	set := make(map[string]string)
	var remove []string
	current := func(name string) string {
		if v, ok := set[name]; ok {
			return v
		}
		v, _ := t.configs.value(name)
		return v
	}
	for _, c := range res.Configs {
		if _, ok := findConfigSpec(c.Name); !ok {
			return kerr.InvalidConfig.Code, "unknown topic config " + c.Name
		}
		value := ""
		if c.Value != nil {
			value = *c.Value
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			set[c.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(set, c.Name)
			remove = append(remove, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if c.Name != "cleanup.policy" {
				return kerr.InvalidConfig.Code, c.Name + " is not a list"
			}
			items := strings.Split(current(c.Name), ",")
			if c.Op == kmsg.IncrementalAlterConfigOpAppend {
				if !slices.Contains(items, value) {
					items = append(items, value)
				}
			} else {
				items = slices.DeleteFunc(items, func(s string) bool { return s == value })
			}
			set[c.Name] = strings.Join(items, ",")
		default:
			return kerr.InvalidRequest.Code, "unknown config operation"
		}
	}
	return tm.applyConfigs(t, set, remove, validateOnly)
}

// applyConfigs validates set, then, unless validateOnly, stores set and
// removes the remove names (back to their defaults) in one metadata write
// and publishes the topic's new configs.
func (tm *topicManager) applyConfigs(t *topicEntry, set map[string]string, remove []string, validateOnly bool) (int16, string) {
	for name, value := range set {
		if err := validateTopicConfig(name, value); err != nil {
			return kerr.InvalidConfig.Code, err.Error()
		}
	}
	if validateOnly {
		return 0, ""
	}
	mt, err := tm.b.deps.Meta.AlterTopicConfigs(t.name, set, remove)
	if err != nil {
		tm.b.log.Error("alter configs", "topic", t.name, "err", err)
		return kerr.UnknownServerError.Code, err.Error()
	}
	next := &topicEntry{name: t.name, id: t.id, configs: parseTopicConfig(mt.Configs), partitions: t.partitions}
	tm.b.reg.update(func(s *snapshot) { s.put(next) })
	return 0, ""
}
