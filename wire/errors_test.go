package wire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestErrorCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	tests := []struct {
		name string
		err  error
		want *kerr.Error
	}{
		{"corrupt batch", ErrCorruptBatch, kerr.CorruptMessage},
		{"wrapped corrupt batch", wrap(ErrCorruptBatch), kerr.CorruptMessage},
		{"invalid record", ErrInvalidRecord, kerr.InvalidRecord},
		{"structural batch error", &invalidBatchError{"x"}, kerr.InvalidRecord},
		{"wrapped structural batch error", wrap(&invalidBatchError{"x"}), kerr.InvalidRecord},
		{"old message format", ErrOldMessageFormat, kerr.InvalidRecord},
		{"unsupported version", wrap(ErrUnsupportedVersion), kerr.UnsupportedVersion},
		{"malformed", wrap(ErrMalformed), kerr.InvalidRequest},
		{"unknown key", ErrUnknownAPIKey, kerr.InvalidRequest},
		{"frame too large", ErrFrameTooLarge, kerr.InvalidRequest},
		{"topic name", wrap(ErrInvalidTopicName), kerr.InvalidTopicException},
		{"kerr passes through", wrap(kerr.NotLeaderForPartition), kerr.NotLeaderForPartition},
		{"anything else", errors.New("disk on fire"), kerr.UnknownServerError},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.want.Code {
			t.Errorf("%s: ErrorCode = %d, want %d (%s)", tt.name, got, tt.want.Code, tt.want.Message)
		}
	}
	if got := ErrorCode(nil); got != 0 {
		t.Errorf("ErrorCode(nil) = %d", got)
	}
}

// A structural batch error is both kinds, and says so once.
func TestInvalidBatchErrorMatchesBoth(t *testing.T) {
	err := fmt.Errorf("%w (batch 2)", &invalidBatchError{"record 3: key length -5"})
	if !errors.Is(err, ErrCorruptBatch) || !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("%v does not match both sentinels", err)
	}
	if errors.Is(err, ErrMalformed) {
		t.Fatal("matches ErrMalformed")
	}
	if want := "wire: invalid record batch: record 3: key length -5 (batch 2)"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}
