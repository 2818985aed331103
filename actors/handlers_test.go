package actors

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/wire"
)

// Every row of wire's version table must have a handler in Serve's table,
// and Serve must not handle keys the table does not advertise. The handled
// keys are read from the very table Serve dispatches with.
func TestEveryAdvertisedKeyHasAHandler(t *testing.T) {
	b := NewBroker(Config{}, Deps{})
	handled := b.handledKeys()
	var advertised []int16
	for _, api := range wire.SupportedAPIs() {
		advertised = append(advertised, api.Key)
		if !slices.Contains(handled, api.Key) {
			t.Errorf("%s (key %d) is advertised but has no handler", wire.APIName(api.Key), api.Key)
		}
	}
	for _, key := range handled {
		if !slices.Contains(advertised, key) {
			t.Errorf("%s (key %d) has a handler but is not in the version table", kmsg.NameForKey(key), key)
		}
	}
}
