package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Loader produces the value of a missing key, and how long to keep it (0 = no expiry or
// Config.DefaultTTL); it returns ErrNotFound (possibly wrapped) for a key the origin does not
// have. It is user code: the node never calls it under a lock, calls it for one key at a time
// per node, and may call it concurrently for different keys. Its ctx is not cancelled when the
// caller gives up, so it should bound its own duration.
type Loader func(ctx context.Context, key string) (value []byte, ttl time.Duration, err error)

// ErrLoaderPanic wraps a panic raised by a Loader; the panic value is in the message.
var ErrLoaderPanic = errors.New("node: loader panicked")

// ErrNotFound is what a Loader returns (possibly wrapped) for a key its origin does not have.
// GetOrLoad then returns an error matching it, and Get (with Config.Loader) reports a miss; the
// key is remembered as absent for Config.NegativeTTL, on this node and, through the load lease,
// for the nodes waiting on this load.
var ErrNotFound = errors.New("node: not found")

// LoadError is a Loader's failure to fill a miss of Key, returned by GetOrLoad and by Get with
// Config.Loader. Nothing was stored. Err is the loader's error (or ErrLoaderPanic).
type LoadError struct {
	Key string
	Err error
}

// Error names the key and the loader's error.
func (e *LoadError) Error() string { return "node: loading " + e.Key + ": " + e.Err.Error() }

// Unwrap returns the loader's error, so errors.Is sees ErrNotFound or the loader's own errors.
func (e *LoadError) Unwrap() error { return e.Err }

// GetOrLoad returns key's live value, calling load to fill a miss. Before loading it reads
// through to the nearest peers (as Get does). Concurrent callers for one key on this node share
// a single read-through and load call; across nodes, the key's lease owner lets one node load
// while the others wait for its result (Config.LoadLeaseTTL, DisableLoadLease). A loader error is
// returned to every waiting caller as a *LoadError and is not cached, except ErrNotFound, which
// is remembered for Config.NegativeTTL. A loader panic becomes an error wrapping
// ErrLoaderPanic. The load runs with the first caller's context values but is not cancelled when
// that caller gives up, so other waiters still get the result; each caller stops waiting when
// its own ctx is done.
func (n *Node) GetOrLoad(ctx context.Context, key string, load Loader) (Item, error) {
	if it, ok, err := n.GetLocal(ctx, key); err != nil || ok {
		return it, err
	}
	return n.load(ctx, key, load)
}

// FillCandidate reports whether a local miss of key is worth leaving the node for: with
// Config.Loader, unless the loader reported the key absent within Config.NegativeTTL; without
// it, when a read-through is (ReadThroughCandidate). It never blocks, so event-loop front ends
// call it to decide whether to hand a miss to a goroutine that calls Fill.
func (n *Node) FillCandidate(key string) bool {
	if n.cfg.Loader == nil {
		return n.ReadThroughCandidate(key)
	}
	return len(key) <= n.cfg.MaxKeySize && !n.neg.hasOrigin(key, time.Now())
}

// Fill fills a local miss of key: from the nearest peers (ReadThrough) and then, with
// Config.Loader, from the origin (as GetOrLoad). A key the loader reports absent is a miss; a
// loader failure is a *LoadError. It may block for a WAN round trip and the loader's duration.
func (n *Node) Fill(ctx context.Context, key string) (Item, bool, error) {
	if n.cfg.Loader == nil {
		return n.ReadThrough(ctx, key)
	}
	it, err := n.load(ctx, key, n.cfg.Loader)
	switch {
	case err == nil:
		return it, true, nil
	case errors.Is(err, ErrNotFound):
		return Item{}, false, nil
	}
	return Item{}, false, err
}

// load fills a local miss of key with load, deduplicated per node (singleflight) and, on a
// replicating node, across the cluster (load lease).
func (n *Node) load(ctx context.Context, key string, load Loader) (Item, error) {
	if err := n.check(ctx); err != nil {
		return Item{}, err
	}
	if err := n.checkKey(key); err != nil {
		return Item{}, err
	}
	if n.neg.hasOrigin(key, time.Now()) {
		return Item{}, ErrNotFound
	}
	ch := n.loads.DoChan(key, func() (any, error) {
		return n.loadOnce(context.WithoutCancel(ctx), key, load)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Item{}, r.Err
		}
		return r.Val.(Item), nil
	case <-ctx.Done():
		return Item{}, ctx.Err()
	}
}

// loadOnce is one node's flight for a cold key: look again here, then in the cluster (the
// nearest peers, and the key's lease owner, which decides whether this node loads or waits for
// another node's load), then load.
func (n *Node) loadOnce(ctx context.Context, key string, load Loader) (Item, error) {
	// A caller that lost the race to an earlier load finds the value stored.
	if it, ok, err := n.Peek(ctx, key); err == nil && ok {
		return it, nil
	}
	owner, leased := "", false
	if n.repl == nil || n.cfg.DisableLoadLease {
		if n.ReadThroughCandidate(key) {
			if it, ok := n.readThrough(ctx, key); ok {
				return it, nil
			}
		}
	} else {
		// Across regions: one node loads, the others wait for its result.
		it, res, o := n.findOrLease(ctx, key)
		switch res {
		case findArrived:
			return it, nil
		case findAbsent:
			n.neg.addOrigin(key, time.Now().Add(n.cfg.NegativeTTL))
			return Item{}, &LoadError{Key: key, Err: ErrNotFound}
		case findGranted:
			// On success the lease simply runs out: until then, latecomers are told to wait and
			// find the value by gossip or read-through instead of loading again.
			owner, leased = o, true
		}
		// findLoadSelf: the owner is unreachable, or the holder died or hangs.
	}
	n.originLoads.Add(1)
	val, ttl, err := callLoader(ctx, key, load)
	if err != nil {
		absent := errors.Is(err, ErrNotFound)
		if absent {
			n.neg.addOrigin(key, time.Now().Add(n.cfg.NegativeTTL))
		}
		if leased {
			n.releaseLease(key, owner, absent)
		}
		return Item{}, &LoadError{Key: key, Err: err}
	}
	res, err := n.Set(ctx, key, val, SetOptions{TTL: ttl})
	if err != nil {
		if leased {
			n.releaseLease(key, owner, false)
		}
		return Item{}, &LoadError{Key: key, Err: err}
	}
	it := Item{Value: val, Version: res.Version}
	if exp := n.expiryFor(SetOptions{TTL: ttl}, n.nowMs()); exp != 0 {
		it.ExpireAt = time.UnixMilli(exp)
	}
	return it, nil
}

func callLoader(ctx context.Context, key string, load Loader) (val []byte, ttl time.Duration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrLoaderPanic, r)
		}
	}()
	return load(ctx, key)
}
