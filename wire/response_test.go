package wire

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// splitResponseFrame checks the size prefix and correlation id of a response
// frame and returns what follows them.
func splitResponseFrame(t *testing.T, frame []byte, correlationID int32) []byte {
	t.Helper()
	if len(frame) < 8 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	if size := binary.BigEndian.Uint32(frame); int(size) != len(frame)-4 {
		t.Fatalf("size prefix %d, frame has %d bytes after it", size, len(frame)-4)
	}
	if got := int32(binary.BigEndian.Uint32(frame[4:])); got != correlationID {
		t.Fatalf("correlation id %d, want %d", got, correlationID)
	}
	return frame[8:]
}

// ApiVersions built from the table must read back through kmsg, at every
// version we serve, with the v0 response header a client expects.
func TestApiVersionsResponseRoundTrip(t *testing.T) {
	r, _ := lookupAPI(int16(kmsg.ApiVersions))
	for v := r.Min; v <= r.Max; v++ {
		resp := ApiVersionsResponse(v)
		if resp.Version != v || resp.ErrorCode != 0 {
			t.Fatalf("v%d: version %d error %d", v, resp.Version, resp.ErrorCode)
		}
		body := splitResponseFrame(t, AppendResponse(nil, 31, resp), 31)
		got := kmsg.NewPtrApiVersionsResponse()
		got.Version = v
		if err := got.ReadFrom(body); err != nil {
			t.Fatalf("v%d: kmsg cannot read our response: %v", v, err)
		}
		apis := SupportedAPIs()
		if len(got.ApiKeys) != len(apis) {
			t.Fatalf("v%d: %d keys, want %d", v, len(got.ApiKeys), len(apis))
		}
		for i, k := range got.ApiKeys {
			if k.ApiKey != apis[i].Key || k.MinVersion != apis[i].Min || k.MaxVersion != apis[i].Max {
				t.Errorf("v%d row %d: %d %d..%d, want %+v", v, i, k.ApiKey, k.MinVersion, k.MaxVersion, apis[i])
			}
		}
		if got.ErrorCode != 0 || len(got.SupportedFeatures) != 0 || len(got.FinalizedFeatures) != 0 {
			t.Errorf("v%d: error %d, features %v %v", v, got.ErrorCode, got.SupportedFeatures, got.FinalizedFeatures)
		}
	}
}

func TestUnsupportedVersionResponse(t *testing.T) {
	resp := UnsupportedVersionResponse()
	body := splitResponseFrame(t, AppendResponse(nil, 8, resp), 8)
	// What a client does with it: read at v0 whatever it asked.
	got := kmsg.NewPtrApiVersionsResponse()
	got.Version = 0
	if err := got.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if got.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d", got.ErrorCode)
	}
	if len(got.ApiKeys) != len(SupportedAPIs()) {
		t.Fatalf("%d keys", len(got.ApiKeys))
	}
	// v0 body: error code, then the array; kmsg would have left bytes.
	if len(body) != 2+4+6*len(got.ApiKeys) {
		t.Fatalf("v0 body of %d bytes", len(body))
	}
}

func TestAppendResponseHeader(t *testing.T) {
	flexible := kmsg.NewPtrMetadataResponse()
	flexible.Version = 12
	rigid := kmsg.NewPtrMetadataResponse()
	rigid.Version = 8
	apiV3 := ApiVersionsResponse(3)
	tests := []struct {
		name    string
		resp    kmsg.Response
		wantTag bool
	}{
		{"flexible response has header tags", flexible, true},
		{"non-flexible response has none", rigid, false},
		{"ApiVersions is always header v0", apiV3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			frame := AppendResponse(append([]byte(nil), prefix...), -5, tt.resp)
			mustEqualBytes(t, "dst prefix", frame[:len(prefix)], prefix)
			rest := splitResponseFrame(t, frame[len(prefix):], -5)
			body := tt.resp.AppendTo(nil)
			if tt.wantTag {
				if len(rest) != len(body)+1 || rest[0] != 0 {
					t.Fatalf("want one empty tag byte before the body, got %x", rest[:1])
				}
				rest = rest[1:]
			}
			mustEqualBytes(t, "body", rest, body)
		})
	}
}
