package meta

import (
	"errors"
	"maps"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Dynamic broker configs are kept per resource (a broker id, or "" for the
// cluster-wide default), replaced whole, removed when emptied, and read
// back after a reopen; a file that never had any reads as none.
func TestBrokerConfigs(t *testing.T) {
	store, path := openStore(t)
	if got, err := store.BrokerConfigs(); err != nil || len(got) != 0 {
		t.Fatalf("a new store: %v %v, want none", got, err)
	}
	if err := store.SetBrokerConfigs("0", map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetBrokerConfigs("", map[string]string{"a": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetBrokerConfigs("0", map[string]string{"b": "4"}); err != nil { // replaces, not merges
		t.Fatal(err)
	}
	want := map[string]map[string]string{"0": {"b": "4"}, "": {"a": "3"}}
	store = reopen(t, store, path)
	got, err := store.BrokerConfigs()
	if err != nil || !maps.EqualFunc(got, want, maps.Equal) {
		t.Fatalf("after a reopen: %v %v, want %v", got, err, want)
	}
	if err := store.SetBrokerConfigs("", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := store.BrokerConfigs(); err != nil || len(got) != 1 || got["0"]["b"] != "4" {
		t.Fatalf("with the default emptied: %v %v, want broker 0's alone", got, err)
	}
	if err := store.SetBrokerConfigs("0", map[string]string{"": "x"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("an empty name: %v, want ErrInvalidArgument", err)
	}

	// A record that does not decode is reported, not skipped.
	err = store.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketBrokerConfigs)).Put([]byte(brokerConfigsKeyPrefix+"1"), []byte("{"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.BrokerConfigs(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a corrupt record: %v, want ErrCorrupt", err)
	}
}
