package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"a", true},
		{"Orders.v2_final-1", true},
		{"...", true}, // only "." and ".." are special
		{"_internal", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"with space", false},
		{"slash/topic", false},
		{"colon:topic", false},
		{"tab\t", false},
		{"ümlaut", false},
		{"nul\x00", false},
		{"emoji🙂", false},
	}
	for _, tt := range tests {
		err := ValidateTopicName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTopicName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTopicName) {
			t.Errorf("ValidateTopicName(%q) = %v, not ErrInvalidTopicName", tt.name, err)
		}
	}
}
