package actors

// DescribeCluster (key 60), versions from wire's table.
//
// Behaviour: this broker is the only one and the controller. v1's endpoint
// type 1 (brokers) is the only type answered; others get
// UNSUPPORTED_ENDPOINT_TYPE. Authorized operations are not computed.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

func (b *Broker) handleDescribeCluster(r *netloop.Request, req *kmsg.DescribeClusterRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if r.Header.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		r.Respond(resp)
		return
	}
	resp.EndpointType = 1
	resp.ClusterID = b.cfg.ClusterID
	resp.ControllerID = b.cfg.NodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, b.cfg.AdvertiseHost, b.cfg.AdvertisePort
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	r.Respond(resp)
}
