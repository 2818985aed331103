package meta

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func testTime(seconds int64) time.Time { return time.Unix(1_700_000_000+seconds, 123).UTC() }

func TestGroupsEmptyStore(t *testing.T) {
	store, _ := openStore(t)
	groups := must[[]StoredGroup](t)(store.Groups())
	if len(groups) != 0 {
		t.Fatalf("Groups on a new store = %+v", groups)
	}
	if _, found, err := store.Group("g"); err != nil || found {
		t.Fatalf("Group on a new store: found %v, err %v", found, err)
	}
}

func TestCommitOffsetsSurviveReopen(t *testing.T) {
	store, path := openStore(t)
	id := [16]byte{1, 2, 3}
	offsets := []CommittedOffset{
		{Topic: "orders", TopicID: id, Partition: 1, Offset: 42, LeaderEpoch: 3, Metadata: "m1", CommitTime: testTime(1)},
		{Topic: "orders", TopicID: id, Partition: 0, Offset: 7, LeaderEpoch: -1, Metadata: "", CommitTime: testTime(2)},
		{Topic: "a", Partition: 9, Offset: 0, LeaderEpoch: 0, Metadata: strings.Repeat("x", 5000), CommitTime: testTime(3)},
	}
	if err := store.CommitOffsets("group-1", offsets); err != nil {
		t.Fatal(err)
	}
	// Overwrite one, add another group whose name is a prefix of the first.
	if err := store.CommitOffsets("group-1", []CommittedOffset{{Topic: "orders", TopicID: id, Partition: 1, Offset: 50, LeaderEpoch: 4, Metadata: "m2", CommitTime: testTime(4)}}); err != nil {
		t.Fatal(err)
	}
	if err := store.CommitOffsets("group", []CommittedOffset{{Topic: "orders", Partition: 0, Offset: 1, CommitTime: testTime(5)}}); err != nil {
		t.Fatal(err)
	}
	store = reopen(t, store, path)
	groups := must[[]StoredGroup](t)(store.Groups())
	if len(groups) != 2 || groups[0].Info.Name != "group" || groups[1].Info.Name != "group-1" {
		t.Fatalf("Groups = %+v", groups)
	}
	want := []CommittedOffset{
		offsets[2],
		offsets[1],
		{Topic: "orders", TopicID: id, Partition: 1, Offset: 50, LeaderEpoch: 4, Metadata: "m2", CommitTime: testTime(4)},
	}
	if !reflect.DeepEqual(groups[1].Offsets, want) {
		t.Fatalf("offsets of group-1 =\n%+v\nwant\n%+v", groups[1].Offsets, want)
	}
	if groups[1].Info.Created.IsZero() || groups[1].Info.Type != "" {
		t.Fatalf("record made by a commit = %+v", groups[1].Info)
	}
	one, found, err := store.Group("group-1")
	if err != nil || !found || !reflect.DeepEqual(one.Offsets, want) {
		t.Fatalf("Group(group-1) = %+v %v %v", one, found, err)
	}
	if len(groups[0].Offsets) != 1 || groups[0].Offsets[0].Offset != 1 {
		t.Fatalf("offsets of group = %+v", groups[0].Offsets)
	}
}

func TestWriteGroupsInfoDeleteAndOrder(t *testing.T) {
	store, path := openStore(t)
	info := GroupInfo{Name: "g", Type: "classic", ProtocolType: "consumer", Created: testTime(0), EmptySince: testTime(10)}
	err := store.WriteGroups([]GroupChange{
		{Group: "g", Info: &info, Commits: []CommittedOffset{
			{Topic: "t", Partition: 0, Offset: 1, CommitTime: testTime(1)},
			{Topic: "t", Partition: 1, Offset: 2, CommitTime: testTime(1)},
			{Topic: "u", Partition: 0, Offset: 3, CommitTime: testTime(1)},
		}},
		{Group: "h", Commits: []CommittedOffset{{Topic: "t", Partition: 0, Offset: 9, CommitTime: testTime(1)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Delete first, then the commit of the same change: the group is
	// recreated with one offset and a fresh record.
	err = store.WriteGroups([]GroupChange{
		{Group: "g", DeleteOffsets: []TopicPartition{{"t", 1}, {"nope", 0}}},
		{Group: "h", Delete: true, Commits: []CommittedOffset{{Topic: "t", Partition: 5, Offset: 5, CommitTime: testTime(2)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	store = reopen(t, store, path)
	groups := must[[]StoredGroup](t)(store.Groups())
	if len(groups) != 2 {
		t.Fatalf("Groups = %+v", groups)
	}
	if !reflect.DeepEqual(groups[0].Info, info) {
		t.Fatalf("info = %+v, want %+v", groups[0].Info, info)
	}
	if got := groups[0].Offsets; len(got) != 2 || got[0].Partition != 0 || got[1].Topic != "u" {
		t.Fatalf("g offsets after delete = %+v", got)
	}
	if got := groups[1].Offsets; len(got) != 1 || got[0].Partition != 5 || groups[1].Info.Type != "" {
		t.Fatalf("h after delete and commit = %+v", groups[1])
	}
	if err := store.DeleteGroup("g"); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteGroup("never"); err != nil {
		t.Fatalf("deleting a missing group: %v", err)
	}
	if _, found, _ := store.Group("g"); found {
		t.Fatal("deleted group still found")
	}
	if groups := must[[]StoredGroup](t)(store.Groups()); len(groups) != 1 || groups[0].Info.Name != "h" {
		t.Fatalf("Groups after delete = %+v", groups)
	}
}

// A batch with one bad change writes nothing.
func TestWriteGroupsIsAtomic(t *testing.T) {
	store, _ := openStore(t)
	good := GroupChange{Group: "g", Commits: []CommittedOffset{{Topic: "t", Partition: 0, Offset: 1}}}
	for _, bad := range []GroupChange{
		{Group: ""},
		{Group: strings.Repeat("g", maxGroupKeyPart+1)},
		{Group: "x", Info: &GroupInfo{Name: "y"}},
		{Group: "x", Commits: []CommittedOffset{{Topic: "", Partition: 0}}},
		{Group: "x", Commits: []CommittedOffset{{Topic: "t", Partition: -1}}},
		{Group: "x", DeleteOffsets: []TopicPartition{{"t", -2}}},
	} {
		if err := store.WriteGroups([]GroupChange{good, bad}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WriteGroups with %+v: %v, want ErrInvalidArgument", bad, err)
		}
	}
	if groups := must[[]StoredGroup](t)(store.Groups()); len(groups) != 0 {
		t.Fatalf("a failed batch wrote %+v", groups)
	}
}

func TestCorruptOffsetRecord(t *testing.T) {
	store, _ := openStore(t)
	if err := store.CommitOffsets("g", []CommittedOffset{{Topic: "t", Partition: 0, Offset: 1, Metadata: "abc"}}); err != nil {
		t.Fatal(err)
	}
	// A metadata length that claims far more than the record holds.
	err := store.db.Update(func(tx *bolt.Tx) error {
		key := offsetKey("g", "t", 0)
		value := cloneBytes(tx.Bucket([]byte(bucketGroupOffsets)).Get(key))
		value[offsetRecordFixedSize-4] = 0xff
		return tx.Bucket([]byte(bucketGroupOffsets)).Put(key, value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Groups(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Groups over a corrupt record: %v, want ErrCorrupt", err)
	}
}

func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }
