package wal

import (
	"sync"

	"github.com/ncw/directio"
)

// ringReader reads the ring as one logical byte stream, from a start position
// for one whole ring, in big direct reads done by a helper goroutine one chunk
// ahead of the parser, so that the device and the CPU work at the same time.
// Direct reads get no kernel readahead, and replay must approach the device's
// sequential speed (≥1 GiB/s is the target).
//
// The helper goroutine lives only for one Replay call: close stops it and
// waits for it, so it never outlives its caller.
//
// Because records never straddle the end of the ring (a wrap record pads to
// it), the physical order "start to the end of the file, then from offset 0"
// is the logical order.
type ringReader struct {
	filled chan chunk  // from the helper; closed after the last chunk
	free   chan []byte // buffers back to the helper
	done   chan struct{}
	wg     sync.WaitGroup

	cur    []byte // unconsumed bytes of the chunk being parsed
	curBuf []byte // that chunk's buffer, returned once cur is used up
	carry  []byte // assembles a record that straddles chunks
	err    error  // the read error that ended the stream, if any
}

type chunk struct {
	buf []byte // the whole buffer
	n   int    // bytes read into it
	err error
}

// readerBuffers: one being parsed, one being read.
const readerBuffers = 2

func newRingReader(w *WAL, from Position, chunkBytes int) *ringReader {
	r := &ringReader{
		filled: make(chan chunk, readerBuffers),
		free:   make(chan []byte, readerBuffers),
		done:   make(chan struct{}),
	}
	for range readerBuffers {
		r.free <- directio.AlignedBlock(chunkBytes)
	}
	r.wg.Add(1)
	go r.readAhead(w, from)
	return r
}

// readAhead runs on the helper goroutine: it owns file reads until close.
func (r *ringReader) readAhead(w *WAL, from Position) {
	defer r.wg.Done()
	defer close(r.filled)
	for pos, end := from, from+Position(w.ringBytes); pos < end; {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.done:
			return
		}
		off := w.ring(pos)
		n := min(int64(len(buf)), w.ringBytes-off, int64(end-pos))
		_, err := w.file.ReadAt(buf[:n], superblockSize+off)
		select {
		case r.filled <- chunk{buf: buf, n: int(n), err: err}:
		case <-r.done:
			return
		}
		if err != nil {
			return
		}
		pos += Position(n)
	}
}

// fill makes cur non-empty; false at the end of the ring or on a read error
// (then r.err is set).
func (r *ringReader) fill() bool {
	if len(r.cur) > 0 {
		return true
	}
	if r.curBuf != nil {
		r.free <- r.curBuf
		r.curBuf = nil
	}
	c, ok := <-r.filled
	if !ok {
		return false
	}
	if c.err != nil {
		r.err = c.err
		return false
	}
	r.cur, r.curBuf = c.buf[:c.n], c.buf
	return true
}

// peekBlock returns the next block without consuming it (a header never
// straddles chunks: chunks and records are both block-aligned).
func (r *ringReader) peekBlock() ([]byte, bool) {
	if !r.fill() {
		return nil, false
	}
	return r.cur[:blockSize], true
}

// next consumes n bytes and returns them, in place when they lie in one chunk,
// else assembled in carry. The slice is valid until the next call.
func (r *ringReader) next(n int64) ([]byte, bool) {
	if !r.fill() {
		return nil, false
	}
	if int64(len(r.cur)) >= n {
		b := r.cur[:n]
		r.cur = r.cur[n:]
		return b, true
	}
	if int64(cap(r.carry)) < n {
		r.carry = make([]byte, 0, n)
	}
	r.carry = r.carry[:0]
	for int64(len(r.carry)) < n {
		if !r.fill() {
			return nil, false
		}
		take := min(n-int64(len(r.carry)), int64(len(r.cur)))
		r.carry = append(r.carry, r.cur[:take]...)
		r.cur = r.cur[take:]
	}
	return r.carry, true
}

// skip consumes n bytes.
func (r *ringReader) skip(n int64) bool {
	for n > 0 {
		if !r.fill() {
			return false
		}
		take := min(n, int64(len(r.cur)))
		r.cur = r.cur[take:]
		n -= take
	}
	return true
}

// close stops the helper and waits for it; safe to call once.
func (r *ringReader) close() {
	close(r.done)
	r.wg.Wait()
}
