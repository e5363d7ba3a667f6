package node

import (
	"context"
	"encoding/json"
	"time"
)

// Codec turns values of type T into bytes and back.
type Codec[T any] interface {
	Marshal(v T) ([]byte, error)
	Unmarshal(data []byte, v *T) error
	// ContentType is stored with every value, e.g. "application/json".
	ContentType() string
}

// JSON is the default Codec: encoding/json.
type JSON[T any] struct{}

var _ Codec[int] = JSON[int]{}

// Marshal encodes v as JSON.
func (JSON[T]) Marshal(v T) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON into v.
func (JSON[T]) Unmarshal(data []byte, v *T) error { return json.Unmarshal(data, v) }

// ContentType is "application/json".
func (JSON[T]) ContentType() string { return "application/json" }

// Typed is a view of a Node that stores values of type T under keys with a common prefix.
type Typed[T any] struct {
	n      *Node
	codec  Codec[T]
	prefix string
}

// NewTyped returns a typed view of n. Keys are stored as prefix+key, so several views can share
// one node. A nil codec means JSON.
func NewTyped[T any](n *Node, prefix string, codec Codec[T]) *Typed[T] {
	if codec == nil {
		codec = JSON[T]{}
	}
	return &Typed[T]{n: n, codec: codec, prefix: prefix}
}

// Get returns the value under key, decoded.
func (t *Typed[T]) Get(ctx context.Context, key string) (T, bool, error) {
	var v T
	it, ok, err := t.n.Get(ctx, t.prefix+key)
	if err != nil || !ok {
		return v, false, err
	}
	if err := t.codec.Unmarshal(it.Value, &v); err != nil {
		return v, false, err
	}
	return v, true, nil
}

// Set stores v under key with the given TTL (0 = none).
func (t *Typed[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	data, err := t.codec.Marshal(v)
	if err != nil {
		return err
	}
	_, err = t.n.Set(ctx, t.prefix+key, data, SetOptions{TTL: ttl, ContentType: t.codec.ContentType()})
	return err
}

// Delete deletes key.
func (t *Typed[T]) Delete(ctx context.Context, key string) error {
	_, err := t.n.Delete(ctx, t.prefix+key)
	return err
}

// GetOrLoad returns the value under key, calling load once per key at a time to fill a miss
// (see Node.GetOrLoad).
func (t *Typed[T]) GetOrLoad(ctx context.Context, key string, load func(ctx context.Context, key string) (T, time.Duration, error)) (T, error) {
	var v T
	it, err := t.n.GetOrLoad(ctx, t.prefix+key, func(ctx context.Context, _ string) ([]byte, time.Duration, error) {
		lv, ttl, err := load(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		data, err := t.codec.Marshal(lv)
		return data, ttl, err
	})
	if err != nil {
		return v, err
	}
	err = t.codec.Unmarshal(it.Value, &v)
	return v, err
}

// Memoize wraps fn so that results are cached in t under keyOf(arg) for ttl, and concurrent
// calls with the same key share one call of fn. Errors are not cached.
func Memoize[A, T any](t *Typed[T], keyOf func(A) string, ttl time.Duration, fn func(context.Context, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, arg A) (T, error) {
		return t.GetOrLoad(ctx, keyOf(arg), func(ctx context.Context, _ string) (T, time.Duration, error) {
			v, err := fn(ctx, arg)
			return v, ttl, err
		})
	}
}
