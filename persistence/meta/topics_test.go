package meta

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestCreateTopic(t *testing.T) {
	store, _ := openStore(t)
	configs := map[string]string{"retention.ms": "60000"}
	orders := must[Topic](t)(store.CreateTopic("orders", 3, configs))
	configs["retention.ms"] = "changed by the caller"
	if orders.Name != "orders" || len(orders.Partitions) != 3 || orders.Configs["retention.ms"] != "60000" {
		t.Fatalf("CreateTopic = %+v", orders)
	}
	if orders.ID == ([16]byte{}) || orders.ID[6]>>4 != 4 {
		t.Fatalf("topic id %x is not a version 4 UUID", orders.ID)
	}
	if orders.Created.IsZero() {
		t.Fatal("Created not set")
	}
	for i, partition := range orders.Partitions {
		if partition.Index != int32(i) || partition.Stream != uint64(i+1) {
			t.Fatalf("partition %d = %+v, want index %d on stream %d", i, partition, i, i+1)
		}
	}
	users := must[Topic](t)(store.CreateTopic("users", 2, nil))
	if users.Partitions[0].Stream != 4 || users.Partitions[1].Stream != 5 {
		t.Fatalf("second topic's streams = %+v, want 4 and 5", users.Partitions)
	}
	if users.Configs == nil || users.ID == orders.ID {
		t.Fatalf("users = %+v: want a non-nil config map and its own id", users)
	}
	if _, err := store.CreateTopic("orders", 1, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate CreateTopic error = %v, want ErrTopicExists", err)
	}
	topics := must[[]Topic](t)(store.Topics())
	if len(topics) != 2 || !reflect.DeepEqual(topics[0], orders) || !reflect.DeepEqual(topics[1], users) {
		t.Fatalf("Topics = %+v, want [orders users] as created", topics)
	}
}

func TestCreateTopicRejects(t *testing.T) {
	store, _ := openStore(t)
	for _, partitions := range []int32{0, -1, MaxPartitions + 1} {
		if _, err := store.CreateTopic("t", partitions, nil); !errors.Is(err, ErrInvalidPartitions) {
			t.Errorf("CreateTopic with %d partitions: error = %v, want ErrInvalidPartitions", partitions, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", "a b", "ü", strings.Repeat("x", 250)} {
		if _, err := store.CreateTopic(name, 1, nil); !errors.Is(err, ErrInvalidTopicName) {
			t.Errorf("CreateTopic(%q) error = %v, want ErrInvalidTopicName", name, err)
		}
	}
	for _, name := range []string{"a", "A.b_c-9", strings.Repeat("x", 249)} {
		if _, err := store.CreateTopic(name, 1, nil); err != nil {
			t.Errorf("CreateTopic(%q) = %v, want success", name, err)
		}
	}
	// A failed create must not burn stream ids.
	topic := must[Topic](t)(store.CreateTopic("next", 1, nil))
	if topic.Partitions[0].Stream != 4 {
		t.Errorf("stream after failed creates = %d, want 4", topic.Partitions[0].Stream)
	}
}

func TestDeleteTopic(t *testing.T) {
	store, _ := openStore(t)
	created := must[Topic](t)(store.CreateTopic("gone", 2, map[string]string{"k": "v"}))
	kept := must[Topic](t)(store.CreateTopic("kept", 1, nil))
	deleted := must[Topic](t)(store.DeleteTopic("gone"))
	if !reflect.DeepEqual(deleted, created) {
		t.Fatalf("DeleteTopic = %+v, want %+v", deleted, created)
	}
	if _, err := store.DeleteTopic("gone"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second DeleteTopic error = %v, want ErrUnknownTopic", err)
	}
	streams := must[map[uint64]bool](t)(store.DeletedStreams())
	if !maps.Equal(streams, map[uint64]bool{1: true, 2: true}) {
		t.Fatalf("DeletedStreams = %v, want streams 1 and 2", streams)
	}
	if topics := must[[]Topic](t)(store.Topics()); len(topics) != 1 || topics[0].Name != kept.Name {
		t.Fatalf("Topics = %+v, want only kept", topics)
	}
	// The name is free again, with new streams: stream ids are never reused.
	again := must[Topic](t)(store.CreateTopic("gone", 1, nil))
	if again.Partitions[0].Stream != 4 || again.ID == created.ID {
		t.Fatalf("recreated topic = %+v: want stream 4 and a new id", again)
	}
}

func TestAddPartitions(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("t", 2, nil))
	must[Topic](t)(store.CreateTopic("other", 1, nil))
	grown := must[Topic](t)(store.AddPartitions("t", 4))
	want := []Partition{{0, 1}, {1, 2}, {2, 4}, {3, 5}}
	if !reflect.DeepEqual(grown.Partitions, want) {
		t.Fatalf("AddPartitions = %+v, want %+v", grown.Partitions, want)
	}
	for _, total := range []int32{4, 3, 0, MaxPartitions + 1} {
		if _, err := store.AddPartitions("t", total); !errors.Is(err, ErrInvalidPartitions) {
			t.Errorf("AddPartitions(t, %d) error = %v, want ErrInvalidPartitions", total, err)
		}
	}
	if _, err := store.AddPartitions("missing", 5); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("AddPartitions(missing) error = %v, want ErrUnknownTopic", err)
	}
}

func TestAlterTopicConfigs(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("t", 1, map[string]string{"a": "1", "b": "2", "c": "3"}))
	altered := must[Topic](t)(store.AlterTopicConfigs("t", map[string]string{"a": "10", "c": "30", "d": "4"}, []string{"b", "c", "never-set"}))
	want := map[string]string{"a": "10", "c": "30", "d": "4"}
	if !maps.Equal(altered.Configs, want) {
		t.Fatalf("AlterTopicConfigs = %v, want %v", altered.Configs, want)
	}
	if topics := must[[]Topic](t)(store.Topics()); !maps.Equal(topics[0].Configs, want) {
		t.Fatalf("stored configs = %v, want %v", topics[0].Configs, want)
	}
	if _, err := store.AlterTopicConfigs("missing", nil, nil); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("AlterTopicConfigs(missing) error = %v, want ErrUnknownTopic", err)
	}
}

func TestTopicsAreCopies(t *testing.T) {
	store, _ := openStore(t)
	topic := must[Topic](t)(store.CreateTopic("t", 1, map[string]string{"a": "1"}))
	topic.Configs["a"] = "changed"
	topic.Partitions[0].Stream = 99
	stored := must[[]Topic](t)(store.Topics())[0]
	if stored.Configs["a"] != "1" || stored.Partitions[0].Stream != 1 {
		t.Fatalf("changing a returned topic changed the store: %+v", stored)
	}
}
