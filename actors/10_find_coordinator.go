package actors

// FindCoordinator (key 10), versions from wire's table (0..6).
//
// Behaviour: this broker is the coordinator of every group: the answer is
// its own node id and advertised address, computed in Serve without an
// actor. v4+ batches keys (KIP-699): one answer per key. Group keys get no
// load check here: while groups load, the group requests themselves answer
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry.
//
// Errors: INVALID_GROUP_ID for an empty group key;
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED for transaction keys (type 1), as
// InitProducerId answers transactional ids; INVALID_REQUEST for share-group
// keys (type 2, v6, KIP-932) and unknown key types.
//
// Not supported: transaction coordinators, share groups.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

// Coordinator key types.
const (
	coordinatorTypeGroup       int8 = 0
	coordinatorTypeTransaction int8 = 1
)

func (b *Broker) handleFindCoordinator(r *netloop.Request, req *kmsg.FindCoordinatorRequest) {
	r.Respond(b.findCoordinator(req))
}

func (b *Broker) findCoordinator(req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		c := b.coordinatorFor(req.CoordinatorKey, req.CoordinatorType)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, b.coordinatorFor(key, req.CoordinatorType))
	}
	return resp
}

func (b *Broker) coordinatorFor(key string, keyType int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID = key, -1
	switch {
	case keyType == coordinatorTypeTransaction:
		c.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		c.ErrorMessage = errorMessage(c.ErrorCode, "floe has no transaction coordinator")
	case keyType != coordinatorTypeGroup:
		c.ErrorCode = kerr.InvalidRequest.Code
		c.ErrorMessage = errorMessage(c.ErrorCode, "only group coordinators are supported")
	case !validGroupID(key):
		c.ErrorCode = kerr.InvalidGroupID.Code
	default:
		c.NodeID, c.Host, c.Port = b.cfg.NodeID, b.cfg.AdvertiseHost, b.cfg.AdvertisePort
	}
	return c
}
