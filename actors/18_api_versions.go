package actors

// ApiVersions (key 18), versions from wire's table.
//
// Behaviour: answered from wire's one version table. A request at a version
// newer than the table is answered by netloop at v0 with UNSUPPORTED_VERSION,
// as Kafka does, before it reaches here. v3+ client software name and version
// are accepted and not validated.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/wire"
)

func (b *Broker) handleApiVersions(r *netloop.Request, _ *kmsg.ApiVersionsRequest) {
	r.Respond(wire.ApiVersionsResponse(r.Header.Version))
}
