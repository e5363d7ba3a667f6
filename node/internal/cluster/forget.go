package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Leaving and forgetting.
//
// A member that shuts down gracefully says goodbye to the members it is connected to (the
// caller's protocol; MarkLeft records it) and writes a last record with StateLeft for the
// others. A left member is listed with StateLeft and no longer dialled, unless it is a Join
// peer; any record it writes later makes it a member again.
//
// Forgetting removes a member from the catalog (a go-ds-crdt delete of its record, so it is
// cluster-wide and survives restarts), from the membership table and from the peerstore. The
// catalog is an add-wins set: a forgotten member that comes back writes a new record (at start
// and every RecordRefresh), which is not covered by the delete, so it reappears everywhere. A
// member that learns its own record was deleted while it is alive writes it again at once, and
// a member still connected to the forgotten one keeps it, so forgetting a live member by
// mistake heals by itself.

// Errors returned by Forget.
var (
	ErrForgetSelf      = errors.New("cluster: cannot forget ourselves")
	ErrMemberConnected = errors.New("cluster: member is connected")
	ErrUnknownMember   = errors.New("cluster: unknown member")
)

// MarkLeft records that p said goodbye at atMs (unix ms, p's clock): it is listed as left and
// no longer dialled (unless it is a Join peer). A goodbye older than a record p wrote after it
// is ignored.
func (c *Cluster) MarkLeft(p peer.ID, atMs int64) {
	if p == c.id {
		return
	}
	c.table.mu.Lock()
	st := c.table.get(p)
	if !(st.known && !departed(st.rec.State) && st.rec.UpdatedMs > atMs) {
		st.leftMs = max(st.leftMs, atMs, 1)
	}
	c.table.mu.Unlock()
}

// OnForget registers fn to be told of every member this cluster forgets: by Forget, after
// ForgetAfter, or because another member deleted its record. fn runs on the goroutine that
// forgot (never under a lock of this package) and must not block for long.
func (c *Cluster) OnForget(fn func(p peer.ID)) {
	c.forgetMu.Lock()
	c.forgetFns = append(c.forgetFns, fn)
	c.forgetMu.Unlock()
}

// Forget removes member p now: from the catalog (for every member), the membership table and
// the peerstore. It refuses ourselves (ErrForgetSelf), a member we are connected to
// (ErrMemberConnected) and a peer we know nothing of (ErrUnknownMember). A Join peer stays a
// dial target: the Join list is configuration.
func (c *Cluster) Forget(ctx context.Context, p peer.ID) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if p == c.id {
		return ErrForgetSelf
	}
	c.table.mu.Lock()
	st := c.table.peers[p]
	switch {
	case st != nil && st.connected: // even before its record arrived
		c.table.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrMemberConnected, p)
	case st == nil || !(st.known || st.leftMs != 0):
		c.table.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownMember, p)
	}
	c.table.mu.Unlock()
	if err := c.cat.del(ctx, p.String()); err != nil {
		return fmt.Errorf("cluster: forget %s: %w", p, err)
	}
	c.dropMember(p, "operator")
	return nil
}

// dropMember removes p from the table and the peerstore (unless connected again meanwhile)
// and tells the OnForget callbacks. It reports whether p was dropped.
func (c *Cluster) dropMember(p peer.ID, why string) bool {
	c.table.mu.Lock()
	st := c.table.peers[p]
	if st == nil || st.connected || !(st.known || st.leftMs != 0) {
		c.table.mu.Unlock()
		return false
	}
	seed := st.seed
	if seed {
		// A Join peer stays a dial target, and what its address now answers as (replacedBy)
		// keeps it from being redialled while that peer is connected.
		*st = peerState{seed: true, backoff: st.backoff, nextDial: st.nextDial, dialing: st.dialing,
			probe: st.probe, replacedBy: st.replacedBy}
	} else {
		delete(c.table.peers, p)
	}
	c.table.mu.Unlock()
	if !seed {
		c.host.Peerstore().ClearAddrs(p)
	}
	c.c.forgotten.Add(1)
	c.log.Info("forgot member", "member", p.String(), "reason", why)
	c.forgetMu.Lock()
	fns := slices.Clone(c.forgetFns)
	c.forgetMu.Unlock()
	for _, fn := range fns {
		fn(p)
	}
	return true
}

// forgetLoop forgets members that have not been connected for ForgetAfter. A member never
// connected since our start counts from our start: a record in the persisted catalog proves
// nothing about its author being alive.
func (c *Cluster) forgetLoop(ctx context.Context) {
	every := min(max(c.cfg.ForgetAfter/10, 100*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, p := range c.table.unreachableSince(now.Add(-c.cfg.ForgetAfter), c.started) {
				if err := c.cat.del(ctx, p.String()); err != nil {
					if ctx.Err() == nil {
						c.log.Warn("forget member", "member", p.String(), "err", err)
					}
					continue
				}
				c.dropMember(p, "unreachable for "+c.cfg.ForgetAfter.String())
			}
		}
	}
}

// unreachableSince lists the members not connected since before cutoff (a member never seen
// counts from started).
func (t *table) unreachableSince(cutoff, started time.Time) []peer.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []peer.ID
	for p, st := range t.peers {
		if st.connected || !(st.known || st.leftMs != 0) {
			continue
		}
		last := st.lastSeen
		if last.Before(started) {
			last = started
		}
		if last.Before(cutoff) {
			out = append(out, p)
		}
	}
	return out
}

// onRecordDeleted handles a deleted catalog record (go-ds-crdt's delete hook, under its locks,
// hence the goroutine). go-ds-crdt may report a delete of a record that is still present (put
// again concurrently), so the catalog is asked first.
func (c *Cluster) onRecordDeleted(id string) {
	c.goFn(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		defer cancel()
		has, err := c.cat.crdt.Has(ctx, ds.NewKey(membersPrefix).ChildString(id))
		if err != nil || has {
			return
		}
		if id == c.id.String() {
			// Someone forgot us while we are alive: say we are here.
			if err := c.writeSelf(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("rewrite our forgotten record", "err", err)
			}
			return
		}
		if p, err := peer.Decode(id); err == nil {
			c.dropMember(p, "forgotten by another member")
		}
	})
}

// del deletes member id's record if the catalog holds it.
func (cat *catalog) del(ctx context.Context, id string) error {
	k := ds.NewKey(membersPrefix).ChildString(id)
	has, err := cat.crdt.Has(ctx, k)
	if err != nil || !has {
		return err
	}
	return cat.crdt.Delete(ctx, k)
}

// memberID returns the peer id of a catalog key under membersPrefix.
func memberID(k ds.Key) (string, bool) {
	return strings.CutPrefix(k.String(), membersPrefix+"/")
}
