package actors

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floe-io/floe/persistence/meta"
)

// Messages the group store handles, and its answers.
type (
	// groupWriteMsg asks for change to be made durable; the store answers
	// replyTo with a groupWrittenMsg carrying token.
	groupWriteMsg struct {
		change  meta.GroupChange
		replyTo *actor.PID
		token   *pendingGroupWrite
	}
	groupWrittenMsg struct {
		token *pendingGroupWrite
		err   error
	}
	groupFlushMsg struct{}
	// loadGroupsMsg asks for every stored group (the manager, at start).
	loadGroupsMsg   struct{ replyTo *actor.PID }
	groupsLoadedMsg struct {
		groups []meta.StoredGroup
		err    error
	}
	// loadGroupMsg asks for one group (a coordinator that restarted).
	loadGroupMsg struct {
		name    string
		replyTo *actor.PID
	}
	groupLoadedMsg struct {
		group meta.StoredGroup
		found bool
		err   error
	}
)

// maxGroupWritesPerTransaction bounds one group-commit transaction, so one
// fsync never carries an unbounded amount of work.
const maxGroupWritesPerTransaction = 512

// errGroupStoreRestarted answers writes that were queued in a group store
// that panicked: they may or may not have been written.
var errGroupStoreRestarted = errors.New("actors: group store restarted")

// groupStore is the only actor that reads or writes groups in the metadata
// store (see group_service.go). It runs on its own goroutine (background
// pool): every write waits for an fsync.
//
// Group commit: a write is queued and, if it is the first, a flush message
// goes to the store's own mailbox, behind every write already queued; the
// flush writes them all in one transaction. A read (load) first flushes, so
// it sees every write sent before it.
type groupStore struct {
	b           *Broker
	self        *actor.PID
	pending     []*groupWriteMsg
	flushQueued bool
}

func (b *Broker) groupStoreProducer() actor.Producer {
	return func() actor.Actor { return &groupStore{b: b} }
}

func (s *groupStore) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
	case *actor.Restarting:
		// This instance is being replaced after a panic: whatever it
		// had queued is answered, so no coordinator waits forever.
		for _, w := range s.pending {
			ctx.Send(w.replyTo, &groupWrittenMsg{token: w.token, err: errGroupStoreRestarted})
		}
		s.pending = nil
	case *groupWriteMsg:
		s.pending = append(s.pending, m)
		if len(s.pending) >= maxGroupWritesPerTransaction {
			s.flush(ctx)
		} else if !s.flushQueued {
			s.flushQueued = true
			ctx.Send(s.self, groupFlushMsg{})
		}
	case groupFlushMsg:
		s.flushQueued = false
		s.flush(ctx)
	case *loadGroupsMsg:
		s.flush(ctx)
		groups, err := s.b.deps.Meta.Groups()
		ctx.Send(m.replyTo, &groupsLoadedMsg{groups: groups, err: err})
	case *loadGroupMsg:
		s.flush(ctx)
		group, found, err := s.b.deps.Meta.Group(m.name)
		ctx.Send(m.replyTo, &groupLoadedMsg{group: group, found: found, err: err})
	}
}

// flush writes every queued change in one transaction and answers each
// writer. If the transaction fails, each change is retried alone, so one
// bad change cannot fail the others.
func (s *groupStore) flush(ctx actor.Context) {
	if len(s.pending) == 0 {
		return
	}
	batch := s.pending
	s.pending = nil
	changes := make([]meta.GroupChange, len(batch))
	for i, w := range batch {
		changes[i] = w.change
	}
	err := s.b.deps.Meta.WriteGroups(changes)
	if err != nil && len(batch) > 1 {
		s.b.log.Warn("group write batch failed; writing its changes one by one", "changes", len(batch), "err", err)
		for _, w := range batch {
			err := s.b.deps.Meta.WriteGroups([]meta.GroupChange{w.change})
			ctx.Send(w.replyTo, &groupWrittenMsg{token: w.token, err: err})
		}
		return
	}
	if err != nil {
		s.b.log.Error("group write failed", "group", batch[0].change.Group, "err", err)
	}
	for _, w := range batch {
		ctx.Send(w.replyTo, &groupWrittenMsg{token: w.token, err: err})
	}
}
