package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Loader produces the value of a missing key, and how long to keep it (0 = no expiry or
// Config.DefaultTTL). It is user code: the node never calls it under a lock.
type Loader func(ctx context.Context, key string) (value []byte, ttl time.Duration, err error)

// ErrLoaderPanic wraps a panic raised by a Loader; the panic value is in the message.
var ErrLoaderPanic = errors.New("node: loader panicked")

// GetOrLoad returns key's live value, calling load to fill a miss. Concurrent callers for one
// key on this node share a single load call. A loader error is returned to every waiting caller
// and is not cached; a loader panic becomes an error wrapping ErrLoaderPanic. The load runs
// with the first caller's context values but is not cancelled when that caller gives up, so
// other waiters still get the result; each caller stops waiting when its own ctx is done.
func (n *Node) GetOrLoad(ctx context.Context, key string, load Loader) (Item, error) {
	if it, ok, err := n.Get(ctx, key); err != nil || ok {
		return it, err
	}
	if err := n.checkKey(key); err != nil {
		return Item{}, err
	}
	ch := n.loads.DoChan(key, func() (_ any, loadErr error) {
		// A caller that lost the race to an earlier load finds the value stored.
		if it, ok, err := n.Peek(ctx, key); err == nil && ok {
			return it, nil
		}
		lctx := context.WithoutCancel(ctx)
		if n.repl != nil {
			// Across regions: one node loads, the others wait for its result.
			owner, granted, wait, err := n.acquireLease(lctx, key)
			if err == nil && !granted {
				if it, ok := n.awaitRemoteLoad(lctx, key, wait+n.cfg.ReadThroughTimeout); ok {
					return it, nil
				}
			}
			if granted && err == nil {
				// On success the lease simply runs out: until then, latecomers are told to
				// wait and find the value by read-through instead of loading again.
				defer func() {
					if loadErr != nil {
						n.releaseLease(key, owner)
					}
				}()
			}
		}
		n.originLoads.Add(1)
		val, ttl, err := callLoader(lctx, key, load)
		if err != nil {
			loadErr = err
			return nil, err
		}
		res, err := n.Set(context.WithoutCancel(ctx), key, val, SetOptions{TTL: ttl})
		if err != nil {
			return nil, err
		}
		it := Item{Value: val, Version: res.Version}
		if ttl > 0 {
			it.ExpireAt = time.UnixMilli(n.nowMs() + ttl.Milliseconds())
		}
		return it, nil
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

func callLoader(ctx context.Context, key string, load Loader) (val []byte, ttl time.Duration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrLoaderPanic, r)
		}
	}()
	return load(ctx, key)
}
