package actors

import (
	"slices"
	"testing"

	"github.com/floe-io/floe/wire"
)

// Every row of wire's version table must have a handler in Serve, and Serve
// must not handle keys the table does not advertise.
func TestEveryAdvertisedKeyHasAHandler(t *testing.T) {
	handled := handledKeys()
	for _, api := range wire.SupportedAPIs() {
		if !slices.Contains(handled, api.Key) {
			t.Errorf("%s (key %d) is advertised but has no handler", wire.APIName(api.Key), api.Key)
		}
	}
	for _, key := range handled {
		if !wire.VersionSupported(key, mustMax(t, key)) {
			t.Errorf("key %d has a handler but is not in the version table", key)
		}
	}
}

func mustMax(t *testing.T, key int16) int16 {
	for _, api := range wire.SupportedAPIs() {
		if api.Key == key {
			return api.Max
		}
	}
	t.Errorf("key %d not in the table", key)
	return -1
}
