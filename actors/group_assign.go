package actors

// Server-side assignors of KIP-848 consumer groups: "uniform" (sticky and
// balanced, what franz-go asks for with its sticky balancers) and "range"
// (contiguous ranges per topic, what it asks for with its range balancer).
// Both are pure functions of the members' subscriptions, the topics'
// partition counts and, for uniform, the previous target assignment.

import (
	"bytes"
	"slices"
	"sort"
)

// Server assignor names (KIP-848).
const (
	assignorUniform = "uniform"
	assignorRange   = "range"
)

func validAssignor(name string) bool { return name == assignorUniform || name == assignorRange }

// topicPartitionID names a partition by topic id.
type topicPartitionID struct {
	topic     [16]byte
	partition int32
}

// assignment is partitions by topic id, each list sorted.
type assignment map[[16]byte][]int32

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for id, ps := range a {
		out[id] = slices.Clone(ps)
	}
	return out
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) has(id [16]byte, partition int32) bool {
	return slices.Contains(a[id], partition)
}

func (a assignment) add(id [16]byte, partition int32) {
	if !a.has(id, partition) {
		a[id] = append(a[id], partition)
		slices.Sort(a[id])
	}
}

func (a assignment) equal(b assignment) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		if !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}

// assignTopic is a subscribed topic as the assignors see it.
type assignTopic struct {
	name       string
	id         [16]byte
	partitions int32
}

// assignMember is a member as the assignors see it.
type assignMember struct {
	id         string
	instanceID *string
	subscribed map[string]bool
	previous   assignment // the member's last target (uniform keeps it)
}

// assignUniformSticky balances every subscribed partition over the members
// subscribing to its topic, keeping each member's previous partitions where
// balance allows: members keep what they had up to their quota, then the
// rest goes, partition by partition, to the subscribed member with the
// fewest. With identical subscriptions the counts differ by at most one;
// with different ones it is a good effort, not an optimum.
func assignUniformSticky(topics []assignTopic, members []assignMember) map[string]assignment {
	out := make(map[string]assignment, len(members))
	if len(members) == 0 {
		return out
	}
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	byID := make(map[[16]byte]assignTopic, len(topics))
	total := 0
	for _, t := range topics {
		byID[t.id] = t
		total += int(t.partitions)
	}
	counts := make(map[string]int, len(members))
	taken := make(map[topicPartitionID]bool)
	// Keep previous partitions that still exist and are still wanted, in
	// a fixed order so the result is deterministic.
	for _, m := range members {
		a := make(assignment)
		for _, id := range sortedTopicIDs(m.previous) {
			t, ok := byID[id]
			if !ok || !m.subscribed[t.name] {
				continue
			}
			for _, p := range m.previous[id] {
				tp := topicPartitionID{id, p}
				if p < t.partitions && !taken[tp] {
					a.add(id, p)
					taken[tp] = true
					counts[m.id]++
				}
			}
		}
		out[m.id] = a
	}
	// Quotas: floor(total/members), the members with the most keeping one
	// more while the remainder lasts. Anything over quota is released.
	quota := total / len(members)
	extra := total % len(members)
	order := slices.Clone(members)
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i].id] > counts[order[j].id] })
	for i, m := range order {
		allowed := quota
		if i < extra {
			allowed++
		}
		a := out[m.id]
		for _, id := range sortedTopicIDs(a) {
			for counts[m.id] > allowed && len(a[id]) > 0 {
				p := a[id][len(a[id])-1]
				a[id] = a[id][:len(a[id])-1]
				delete(taken, topicPartitionID{id, p})
				counts[m.id]--
			}
			if len(a[id]) == 0 {
				delete(a, id)
			}
		}
	}
	// Hand out the rest to the least loaded subscribed member, topics with
	// the fewest subscribers first (their partitions have the fewest
	// places to go).
	subscribers := make(map[string]int, len(topics))
	for _, m := range members {
		for name := range m.subscribed {
			subscribers[name]++
		}
	}
	order2 := slices.Clone(topics)
	sort.SliceStable(order2, func(i, j int) bool { return subscribers[order2[i].name] < subscribers[order2[j].name] })
	for _, t := range order2 {
		for p := int32(0); p < t.partitions; p++ {
			tp := topicPartitionID{t.id, p}
			if taken[tp] {
				continue
			}
			best := ""
			for _, m := range members {
				if m.subscribed[t.name] && (best == "" || counts[m.id] < counts[best]) {
					best = m.id
				}
			}
			if best == "" {
				continue
			}
			out[best].add(t.id, p)
			taken[tp] = true
			counts[best]++
		}
	}
	return out
}

// assignRangePerTopic gives each topic's subscribed members contiguous
// ranges of its partitions, the first members one more when they do not
// divide evenly. Members are ordered static first (by instance id), then
// dynamic (by member id), as in Kafka.
func assignRangePerTopic(topics []assignTopic, members []assignMember) map[string]assignment {
	out := make(map[string]assignment, len(members))
	sort.Slice(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if (a.instanceID != nil) != (b.instanceID != nil) {
			return a.instanceID != nil
		}
		if a.instanceID != nil {
			return *a.instanceID < *b.instanceID
		}
		return a.id < b.id
	})
	for _, m := range members {
		out[m.id] = make(assignment)
	}
	for _, t := range topics {
		var subs []string
		for _, m := range members {
			if m.subscribed[t.name] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		quota, extra := int(t.partitions)/len(subs), int(t.partitions)%len(subs)
		next := int32(0)
		for i, id := range subs {
			n := quota
			if i < extra {
				n++
			}
			for k := 0; k < n; k++ {
				out[id].add(t.id, next)
				next++
			}
		}
	}
	return out
}

func sortedTopicIDs(a assignment) [][16]byte {
	ids := make([][16]byte, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}
