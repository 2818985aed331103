package actors

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

// fanIn answers a request that was fanned out to partition actors once the
// last partition has finished. Each partition writes only its own slot of
// resp, and the atomic countdown orders those writes before the encoding.
// The count starts one above the partitions, held by the handler while it
// is still sending (sent releases it), so a partition that finishes at once
// cannot answer before the others were even asked.
type fanIn struct {
	r         *netloop.Request
	resp      kmsg.Response
	remaining atomic.Int32
	silent    bool // acks=0 produce: nothing is answered
}

func (f *fanIn) start(r *netloop.Request, resp kmsg.Response, partitions int) {
	f.r, f.resp = r, resp
	f.remaining.Store(int32(partitions) + 1)
}

// finished counts one partition (or the handler's hold) done.
func (f *fanIn) finished() {
	if f.remaining.Add(-1) == 0 && !f.silent {
		f.r.Respond(f.resp)
	}
}

// sent releases the handler's hold once every partition has been asked.
func (f *fanIn) sent() { f.finished() }
