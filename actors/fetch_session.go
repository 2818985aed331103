package actors

// Fetch sessions (KIP-227). Without a session a consumer's every fetch names
// every partition it reads, and every answer names them all again. With one,
// the broker remembers the partitions and their fetch offsets; the
// consumer's next fetches name only the partitions whose offset it moved,
// and the answers carry only the partitions with something new: records, an
// error, or a moved high watermark or log start offset. For a consumer of
// thousands of mostly idle partitions both directions shrink to what changed.
//
// A session belongs to the connection that opened it (netloop's ConnLocal)
// and ends with it. A client that comes back on a new connection with its
// old session id gets FETCH_SESSION_ID_NOT_FOUND and opens a new session:
// the answer Kafka gives for a session it evicted, which every client
// handles. A connection keeps at most maxConnSessions; opening one more
// evicts the one used least recently.
//
// Partitions that returned records move to the end of the session's order,
// so under max bytes the partitions behind them get their turn next time
// (Kafka does the same).

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
)

const (
	// maxConnSessions bounds the sessions of one connection. Clients open
	// one per broker; the rest of the room is for a client that reopens.
	maxConnSessions = 8
	// maxSessionPartitions bounds the partitions a session remembers. A
	// full fetch naming more gets no session (the client goes on with full
	// fetches); an incremental fetch growing past it ends its session.
	maxSessionPartitions = 1 << 16
)

// sessionKey names a session's partition: by topic name below Fetch v13,
// by topic id from v13. (wire serves Fetch up to v12; a session that spans
// a version change would need FETCH_SESSION_TOPIC_ID_ERROR once v13 is
// served.)
type sessionKey struct {
	topic     string
	id        [16]byte
	partition int32
}

// sessionPart is a partition as the session remembers it.
type sessionPart struct {
	key      sessionKey
	offset   int64
	maxBytes int32
	// As last answered; -1 makes the next answer include the partition.
	highWatermark, logStartOffset int64
}

// fetchSession is one session. Its fields after mu change under it: the
// event loop updates the session from a request, and the goroutine that
// completes a fetch records what the answer said.
type fetchSession struct {
	id int32

	mu    sync.Mutex
	epoch int32         // the epoch the next incremental fetch must carry
	parts []sessionPart // in fetch order
	index map[sessionKey]int
}

// connSessions are one connection's sessions, least recently used first.
// Only the connection's event loop touches the list.
type connSessions struct {
	list []*fetchSession
}

// take removes and returns session id, or nil.
func (cs *connSessions) take(id int32) *fetchSession {
	if cs == nil || id == 0 {
		return nil
	}
	for i, s := range cs.list {
		if s.id == id {
			cs.list = append(cs.list[:i], cs.list[i+1:]...)
			return s
		}
	}
	return nil
}

// push adds s as the most recently used session, evicting the least
// recently used one when the connection has its fill.
func (cs *connSessions) push(s *fetchSession) {
	if len(cs.list) >= maxConnSessions {
		cs.list = append(cs.list[:0], cs.list[1:]...)
	}
	cs.list = append(cs.list, s)
}

// nextSessionID returns a new session id: positive, never 0 (no session).
func (b *Broker) nextSessionID() int32 {
	for {
		if id := b.sessionIDs.Add(1) & 0x7fffffff; id != 0 {
			return id
		}
	}
}

// openSession applies the request's session fields (v7+). It returns the
// session the fetch belongs to (nil: none), whether the fetch is
// incremental (its partitions come from the session), or the top-level
// error to answer with.
func (b *Broker) openSession(r *netloop.Request, req *kmsg.FetchRequest) (*fetchSession, bool, int16) {
	slot := r.ConnLocal()
	cs, _ := (*slot).(*connSessions)
	usesIDs := r.Header.Version >= 13
	switch {
	case req.SessionEpoch == -1: // a full fetch outside any session; closes the one named
		cs.take(req.SessionID)
		return nil, false, 0
	case req.SessionEpoch == 0: // a full fetch that (re)opens a session
		cs.take(req.SessionID)
		n := 0
		for _, t := range req.Topics {
			n += len(t.Partitions)
		}
		if n > maxSessionPartitions {
			return nil, false, 0
		}
		s := &fetchSession{id: b.nextSessionID(), epoch: 1, index: make(map[sessionKey]int, n)}
		s.parts = make([]sessionPart, 0, n)
		s.update(req.Topics, usesIDs)
		if cs == nil {
			cs = &connSessions{}
			*slot = cs
		}
		cs.push(s)
		return s, false, 0
	case req.SessionEpoch < -1:
		return nil, false, kerr.InvalidFetchSessionEpoch.Code
	}
	s := cs.take(req.SessionID)
	if s == nil {
		return nil, false, kerr.FetchSessionIDNotFound.Code
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != req.SessionEpoch {
		cs.push(s)
		return nil, false, kerr.InvalidFetchSessionEpoch.Code
	}
	s.update(req.Topics, usesIDs)
	s.forget(req.ForgottenTopics, usesIDs)
	if len(s.parts) > maxSessionPartitions {
		return nil, false, kerr.FetchSessionIDNotFound.Code // ended: not pushed back
	}
	s.epoch++
	if s.epoch <= 0 {
		s.epoch = 1
	}
	cs.push(s)
	return s, true, 0
}

func keyOf(topic string, id [16]byte, partition int32, usesIDs bool) sessionKey {
	if usesIDs {
		return sessionKey{id: id, partition: partition}
	}
	return sessionKey{topic: topic, partition: partition}
}

// update adds the request's partitions to the session, or moves their fetch
// offset and max bytes. Called with mu held (or before s is shared).
func (s *fetchSession) update(topics []kmsg.FetchRequestTopic, usesIDs bool) {
	for _, t := range topics {
		for _, p := range t.Partitions {
			k := keyOf(t.Topic, t.TopicID, p.Partition, usesIDs)
			if i, ok := s.index[k]; ok {
				s.parts[i].offset, s.parts[i].maxBytes = p.FetchOffset, p.PartitionMaxBytes
				continue
			}
			s.index[k] = len(s.parts)
			s.parts = append(s.parts, sessionPart{key: k, offset: p.FetchOffset, maxBytes: p.PartitionMaxBytes, highWatermark: -1, logStartOffset: -1})
		}
	}
}

// forget removes the forgotten partitions. Called with mu held.
func (s *fetchSession) forget(topics []kmsg.FetchRequestForgottenTopic, usesIDs bool) {
	gone := false
	for _, t := range topics {
		for _, p := range t.Partitions {
			k := keyOf(t.Topic, t.TopicID, p, usesIDs)
			if _, ok := s.index[k]; ok {
				delete(s.index, k)
				gone = true
			}
		}
	}
	if !gone {
		return
	}
	kept := s.parts[:0]
	for _, sp := range s.parts {
		if _, ok := s.index[sp.key]; ok {
			s.index[sp.key] = len(kept)
			kept = append(kept, sp)
		}
	}
	s.parts = kept
}

// answered records what a fetch's answer says of each partition and tells
// which partitions an incremental answer must carry: those with records or
// an error, and those whose high watermark or log start offset moved since
// the session last answered them. Partitions that returned records move to
// the end of the session's order.
func (s *fetchSession) answered(parts []fetchPart, sent []bool) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := make([]bool, len(parts))
	moved := false
	for i := range parts {
		part := &parts[i]
		keep[i] = sent[i] || part.code != 0
		j, ok := s.index[part.key]
		if !ok { // forgotten by a later request meanwhile
			continue
		}
		sp := &s.parts[j]
		if part.code != 0 {
			sp.highWatermark, sp.logStartOffset = -1, -1
			continue
		}
		if sp.highWatermark != part.highWatermark || sp.logStartOffset != part.logStartOffset {
			keep[i] = true
		}
		sp.highWatermark, sp.logStartOffset = part.highWatermark, part.logStartOffset
		moved = moved || sent[i]
	}
	if moved {
		s.rotate(parts, sent)
	}
	return keep
}

// rotate moves the partitions that returned records to the end, keeping the
// order within both groups. Called with mu held.
func (s *fetchSession) rotate(parts []fetchPart, sent []bool) {
	last := make(map[sessionKey]bool)
	for i := range parts {
		if sent[i] {
			last[parts[i].key] = true
		}
	}
	order := make([]sessionPart, 0, len(s.parts))
	for _, sp := range s.parts {
		if !last[sp.key] {
			order = append(order, sp)
		}
	}
	for _, sp := range s.parts {
		if last[sp.key] {
			order = append(order, sp)
		}
	}
	s.parts = order
	for i, sp := range s.parts {
		s.index[sp.key] = i
	}
}
