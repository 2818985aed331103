package actors

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fanIn answers a request that was fanned out to partition actors (Produce,
// ListOffsets, DeleteRecords) or group coordinators (OffsetFetch,
// DescribeGroups, DeleteGroups, ConsumerGroupDescribe) once the last part
// has finished. Each part writes only its own slot of the response, and the
// atomic countdown orders those writes before the encoding. The count
// starts one above the parts, held by the handler while it is still sending
// (sent releases it), so a part that finishes at once cannot answer before
// the others were even asked.
type fanIn struct {
	r         responder
	resp      kmsg.Response
	remaining atomic.Int32
	silent    bool   // acks=0 produce: nothing is answered
	shape     func() // if set, runs just before the answer (puts the slots into resp)
}

func (f *fanIn) start(r responder, resp kmsg.Response, partitions int) {
	f.r, f.resp = r, resp
	f.remaining.Store(int32(partitions) + 1)
}

// finished counts one partition (or the handler's hold) done.
func (f *fanIn) finished() {
	if f.remaining.Add(-1) == 0 && !f.silent {
		if f.shape != nil {
			f.shape()
		}
		f.r.Respond(f.resp)
	}
}

// sent releases the handler's hold once every partition has been asked.
func (f *fanIn) sent() { f.finished() }
