package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestFrameSize(t *testing.T) {
	prefix := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	tests := []struct {
		name    string
		prefix  []byte
		max     int32
		want    int
		wantErr error
	}{
		{"one byte", prefix(1), 100, 1, nil},
		{"at max", prefix(100), 100, 100, nil},
		{"above max", prefix(101), 100, 0, ErrFrameTooLarge},
		{"zero", prefix(0), 100, 0, ErrMalformed},
		{"negative", prefix(0x80000000), 100, 0, ErrMalformed},
		{"minus one", prefix(0xffffffff), 100, 0, ErrMalformed},
		{"short prefix", []byte{0, 0, 1}, 100, 0, ErrMalformed},
		{"nil prefix", nil, 100, 0, ErrMalformed},
		{"longer prefix reads four bytes", append(prefix(7), 9, 9), 100, 7, nil},
		{"default max", prefix(DefaultMaxFrameBytes), 0, DefaultMaxFrameBytes, nil},
		{"above default max", prefix(DefaultMaxFrameBytes + 1), -1, 0, ErrFrameTooLarge},
		{"TLS ClientHello", []byte{0x16, 0x03, 0x01, 0x02}, DefaultMaxFrameBytes, 0, ErrFrameTooLarge},
		{"HTTP GET", []byte("GET "), DefaultMaxFrameBytes, 0, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		got, err := FrameSize(tt.prefix, tt.max)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%s: FrameSize = %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
