package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// eachSupportedVersion calls fn for every (key, version) in the table.
func eachSupportedVersion(fn func(key, version int16)) {
	for _, a := range SupportedAPIs() {
		for v := a.Min; v <= a.Max; v++ {
			fn(a.Key, v)
		}
	}
}

func TestParseAndDecodeEverySupportedVersion(t *testing.T) {
	eachSupportedVersion(func(key, version int16) {
		req := sampleRequest(t, key, version)
		frame := requestFrame(req, 77)
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			t.Errorf("%s v%d: ParseRequestHeader: %v", APIName(key), version, err)
			return
		}
		wantHeaderVersion := int8(1)
		if req.IsFlexible() {
			wantHeaderVersion = 2
		}
		want := RequestHeader{Key: key, Version: version, CorrelationID: 77, ClientID: testClientID, HeaderVersion: wantHeaderVersion}
		if h != want {
			t.Errorf("%s v%d: header %+v, want %+v", APIName(key), version, h, want)
		}
		mustEqualBytes(t, APIName(key)+" body", body, req.AppendTo(nil))

		got, err := DecodeRequest(h, body)
		if err != nil {
			t.Errorf("%s v%d: DecodeRequest: %v", APIName(key), version, err)
			return
		}
		if got.Key() != key || got.GetVersion() != version {
			t.Errorf("%s v%d: decoded as key %d v%d", APIName(key), version, got.Key(), got.GetVersion())
		}
		mustEqualBytes(t, APIName(key)+" re-encoded", got.AppendTo(nil), body)
	})
}

// Garbage after a request and a request cut short are both ErrMalformed, for
// every key and version; the second is also the property hasTrailingBytes
// relies on.
func TestDecodeRequestTrailingAndTruncated(t *testing.T) {
	eachSupportedVersion(func(key, version int16) {
		h := RequestHeader{Key: key, Version: version, HeaderVersion: 1}
		body := sampleRequest(t, key, version).AppendTo(nil)
		for _, extra := range [][]byte{{0}, {0xff}, {0, 0, 0, 0}} {
			withGarbage := append(append([]byte(nil), body...), extra...)
			if _, err := DecodeRequest(h, withGarbage); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s v%d with %d trailing bytes: err %v, want ErrMalformed", APIName(key), version, len(extra), err)
			}
		}
		if len(body) > 0 {
			if _, err := DecodeRequest(h, body[:len(body)-1]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s v%d cut by one byte: err %v, want ErrMalformed", APIName(key), version, err)
			}
		}
	})
}

// A valid request that would re-encode shorter is not "trailing garbage".
func TestDecodeRequestAcceptsNonMinimalVarint(t *testing.T) {
	// ApiVersions v3: compact string ClientSoftwareName "ab", whose length
	// (2+1) is sent as the two-byte varint 0x83 0x00; then "1" and no tags.
	body := []byte{0x83, 0x00, 'a', 'b', 0x02, '1', 0x00}
	req, err := DecodeRequest(RequestHeader{Key: int16(kmsg.ApiVersions), Version: 3}, body)
	if err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	av := req.(*kmsg.ApiVersionsRequest)
	if av.ClientSoftwareName != "ab" || av.ClientSoftwareVersion != "1" {
		t.Fatalf("decoded %q %q", av.ClientSoftwareName, av.ClientSoftwareVersion)
	}
	if len(req.AppendTo(nil)) >= len(body) {
		t.Fatal("test body is not longer than its re-encoding; it tests nothing")
	}
}

func TestDecodeRequestEmptyBody(t *testing.T) {
	h := RequestHeader{Key: int16(kmsg.ApiVersions), Version: 0}
	if _, err := DecodeRequest(h, nil); err != nil {
		t.Fatalf("ApiVersions v0 has an empty body: %v", err)
	}
	if _, err := DecodeRequest(h, []byte{1}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ApiVersions v0 with one byte: %v, want ErrMalformed", err)
	}
	h = RequestHeader{Key: int16(kmsg.Metadata), Version: 1}
	if _, err := DecodeRequest(h, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Metadata v1 with no body: %v, want ErrMalformed", err)
	}
}

func TestDecodeRequestOutsideTable(t *testing.T) {
	tests := []struct {
		h    RequestHeader
		want error
	}{
		{RequestHeader{Key: int16(kmsg.ElectLeaders), Version: 1}, ErrUnknownAPIKey},
		{RequestHeader{Key: 5000, Version: 0}, ErrUnknownAPIKey},
		{RequestHeader{Key: int16(kmsg.Produce), Version: 2}, ErrUnsupportedVersion},
		{RequestHeader{Key: int16(kmsg.Fetch), Version: 13}, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		if _, err := DecodeRequest(tt.h, []byte{0, 0, 0, 0}); !errors.Is(err, tt.want) {
			t.Errorf("%+v: err %v, want %v", tt.h, err, tt.want)
		}
	}
}

// rawHeader builds a header by hand: key, version, correlation id 9, then
// rest (client id and what follows).
func rawHeader(key, version int16, rest ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 9)
	return append(b, rest...)
}

func TestParseRequestHeader(t *testing.T) {
	apiVersions, metadata := int16(kmsg.ApiVersions), int16(kmsg.Metadata)
	clientID := []byte{0, 2, 'c', 'x'}
	tests := []struct {
		name     string
		frame    []byte
		wantErr  error
		want     RequestHeader // compared when wantErr is nil or not ErrMalformed-before-key
		wantBody []byte
	}{
		{name: "empty", frame: nil, wantErr: ErrMalformed},
		{name: "seven bytes", frame: rawHeader(metadata, 1)[:7], wantErr: ErrMalformed},
		{
			name: "v1 header", frame: rawHeader(metadata, 1, append(clientID, 0xAA, 0xBB)...),
			want:     RequestHeader{Key: metadata, Version: 1, CorrelationID: 9, ClientID: "cx", HeaderVersion: 1},
			wantBody: []byte{0xAA, 0xBB},
		},
		{
			name: "null client id", frame: rawHeader(metadata, 1, 0xff, 0xff, 0xAA),
			want:     RequestHeader{Key: metadata, Version: 1, CorrelationID: 9, HeaderVersion: 1},
			wantBody: []byte{0xAA},
		},
		{
			name: "empty client id", frame: rawHeader(metadata, 1, 0, 0),
			want:     RequestHeader{Key: metadata, Version: 1, CorrelationID: 9, HeaderVersion: 1},
			wantBody: []byte{},
		},
		{
			name: "v2 header no tags", frame: rawHeader(metadata, 12, append(clientID, 0, 0xAA)...),
			want:     RequestHeader{Key: metadata, Version: 12, CorrelationID: 9, ClientID: "cx", HeaderVersion: 2},
			wantBody: []byte{0xAA},
		},
		{
			name: "v2 header unknown tags skipped",
			// two tags: 5 with 3 bytes, 300 (two-byte varint) with 0 bytes
			frame:    rawHeader(metadata, 12, append(clientID, 2, 5, 3, 1, 2, 3, 0xAC, 0x02, 0, 0xAA)...),
			want:     RequestHeader{Key: metadata, Version: 12, CorrelationID: 9, ClientID: "cx", HeaderVersion: 2},
			wantBody: []byte{0xAA},
		},
		{name: "truncated before client id", frame: rawHeader(metadata, 1), wantErr: ErrMalformed, want: RequestHeader{Key: metadata, Version: 1, CorrelationID: 9, HeaderVersion: 1}},
		{name: "client id length -2", frame: rawHeader(metadata, 1, 0xff, 0xfe), wantErr: ErrMalformed},
		{name: "client id past the end", frame: rawHeader(metadata, 1, 0, 5, 'a'), wantErr: ErrMalformed},
		{name: "v2 header missing tags", frame: rawHeader(metadata, 12, clientID...), wantErr: ErrMalformed},
		{name: "tag count past the end", frame: rawHeader(metadata, 12, append(clientID, 100, 1, 0)...), wantErr: ErrMalformed},
		{name: "tag count over 32 bits", frame: rawHeader(metadata, 12, append(clientID, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0)...), wantErr: ErrMalformed},
		{name: "tag count varint too long", frame: rawHeader(metadata, 12, append(clientID, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 0, 0, 0)...), wantErr: ErrMalformed},
		{name: "tag size past the end", frame: rawHeader(metadata, 12, append(clientID, 1, 5, 9, 1, 2)...), wantErr: ErrMalformed},
		{name: "tag key cut", frame: rawHeader(metadata, 12, append(clientID, 1, 0x80)...), wantErr: ErrMalformed},
		{
			name: "unknown key", frame: rawHeader(9999, 3, clientID...), wantErr: ErrUnknownAPIKey,
			want: RequestHeader{Key: 9999, Version: 3, CorrelationID: 9, ClientID: "cx"},
		},
		{
			name: "key kmsg knows, floe does not serve", frame: rawHeader(int16(kmsg.ElectLeaders), 2, append(clientID, 0)...), wantErr: ErrUnknownAPIKey,
			want: RequestHeader{Key: int16(kmsg.ElectLeaders), Version: 2, CorrelationID: 9, ClientID: "cx", HeaderVersion: 2},
		},
		{
			name: "Produce v2", frame: rawHeader(int16(kmsg.Produce), 2, clientID...), wantErr: ErrUnsupportedVersion,
			want: RequestHeader{Key: int16(kmsg.Produce), Version: 2, CorrelationID: 9, ClientID: "cx", HeaderVersion: 1},
		},
		{
			name: "ApiVersions too new", frame: rawHeader(apiVersions, 5, append(clientID, 0, 1, 2, 3)...), wantErr: ErrUnsupportedVersion,
			want: RequestHeader{Key: apiVersions, Version: 5, CorrelationID: 9, ClientID: "cx", HeaderVersion: 2},
		},
		{
			// A version we do not know may have a header we do not know:
			// the version error wins over the garbage.
			name: "ApiVersions far too new, garbage header", frame: rawHeader(apiVersions, 300, 0x7f, 0x7f), wantErr: ErrUnsupportedVersion,
			want: RequestHeader{Key: apiVersions, Version: 300, CorrelationID: 9, HeaderVersion: 2},
		},
		{
			name: "negative version", frame: rawHeader(apiVersions, -1, clientID...), wantErr: ErrUnsupportedVersion,
			want: RequestHeader{Key: apiVersions, Version: -1, CorrelationID: 9, ClientID: "cx", HeaderVersion: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body, err := ParseRequestHeader(tt.frame)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if body != nil {
					t.Errorf("body %x returned with an error", body)
				}
				if tt.want != (RequestHeader{}) && h != tt.want {
					t.Errorf("header %+v, want %+v", h, tt.want)
				}
				return
			}
			if h != tt.want {
				t.Errorf("header %+v, want %+v", h, tt.want)
			}
			mustEqualBytes(t, "body", body, tt.wantBody)
		})
	}
}

// Every prefix of a valid frame shorter than its header is ErrMalformed;
// none panics.
func TestParseRequestHeaderPrefixes(t *testing.T) {
	frame := requestFrame(sampleRequest(t, int16(kmsg.Metadata), 12), 5)
	headerLen := requestHeaderFixedBytes + 2 + len(testClientID) + 1
	for n := 0; n < headerLen; n++ {
		if _, _, err := ParseRequestHeader(frame[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("prefix of %d bytes: err %v, want ErrMalformed", n, err)
		}
	}
}

func BenchmarkParseRequestHeader(b *testing.B) {
	frame := requestFrame(sampleRequest(b, int16(kmsg.Produce), 9), 5)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequestHeader(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProduceRequest(b *testing.B) {
	req := sampleRequest(b, int16(kmsg.Produce), 9)
	h, body, err := ParseRequestHeader(requestFrame(req, 5))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeRequest(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
