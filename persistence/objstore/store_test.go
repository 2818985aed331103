package objstore

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	valid := []string{
		"a",
		"a/b/c",
		"3fa2/obj/00000000000000000042",
		"topic-1/x_y.z",
		"a./b..c", // dots inside a segment are fine
		strings.Repeat("k", MaxKeyBytes),
	}
	for _, key := range valid {
		if err := ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	invalid := []string{
		"",
		"/a",
		"a/",
		"a//b",
		"..",
		"a/../b",
		"../etc/passwd",
		".",
		"a/./b",
		".tmp/x",
		"a/.hidden",
		"a\x00b",
		"\xff",
		strings.Repeat("k", MaxKeyBytes+1),
	}
	for _, key := range invalid {
		if err := ValidateKey(key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestObjectKeyLayout(t *testing.T) {
	// Golden values, checked against an independent CRC32C: the layout is
	// frozen, a change would orphan every stored object.
	golden := map[uint64]string{
		0:          "8c28/obj/00000000000000000000",
		1:          "7e43/obj/00000000000000000001",
		42:         "c777/obj/00000000000000000042",
		1 << 40:    "6318/obj/00000001099511627776",
		^uint64(0): "4867/obj/18446744073709551615",
	}
	for id, want := range golden {
		if got := ObjectKey(id); got != want {
			t.Errorf("ObjectKey(%d) = %q, want %q", id, got, want)
		}
	}
}

func TestObjectKeysSpreadAndNeverNest(t *testing.T) {
	prefixes := map[string]int{}
	keys := map[string]bool{}
	const count = 4096
	for id := uint64(1); id <= count; id++ {
		key := ObjectKey(id)
		if err := ValidateKey(key); err != nil {
			t.Fatalf("ObjectKey(%d) = %q is not a valid key: %v", id, key, err)
		}
		if keys[key] {
			t.Fatalf("ObjectKey(%d) = %q repeats", id, key)
		}
		keys[key] = true
		prefixes[key[:4]]++
	}
	// Consecutive ids must not pile up under a few prefixes.
	if len(prefixes) < count/2 {
		t.Errorf("%d ids used only %d prefixes", count, len(prefixes))
	}
	for key := range keys {
		if keys[key[:strings.LastIndexByte(key, '/')]] {
			t.Errorf("key %q is also the directory of another key", key)
		}
	}
}
