package actors

// InitProducerId (key 22), versions from wire's table.
//
// Behaviour: idempotent producers get a fresh producer id with epoch 0; ids
// come from the metadata store in blocks of producerIDBlock so they are never
// reused after a restart. A producer that sends its id and epoch (v3+,
// KIP-360) gets the same id with the epoch bumped, which resets its sequences
// on every partition; older epochs are then fenced by the partitions
// (INVALID_PRODUCER_EPOCH).
//
// Not supported: transactional ids (TRANSACTIONAL_ID_AUTHORIZATION_FAILED):
// floe has no transaction coordinator.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

var (
	errTransactionsUnsupported = kerr.TransactionalIDAuthorizationFailed.Code
	errCoordinatorUnavailable  = kerr.CoordinatorNotAvailable.Code
)

func (b *Broker) handleInitProducerID(r *netloop.Request, req *kmsg.InitProducerIDRequest) {
	b.send(b.topics, &initProducerIDMsg{r: r, req: req})
}
