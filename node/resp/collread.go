package resp

import (
	"context"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// collReaderAt is a Backend whose collection reads take the time a run of pipelined commands
// read once (getNowMs) and a key they do not keep (node.Node): a read then passes its
// argument's bytes, which the connection reuses, instead of a string made of them.
type collReaderAt interface {
	ReadHashAt(ctx context.Context, key string, nowMs int64, fn func(h *crdt.Hash)) (bool, error)
	ReadSetAt(ctx context.Context, key string, nowMs int64, fn func(s *crdt.Set)) (bool, error)
	ReadZSetAt(ctx context.Context, key string, nowMs int64, fn func(z *crdt.ZSet)) (bool, error)
}

var _ collReaderAt = (*node.Node)(nil)

// readerAt returns the backend as a collReaderAt, or nil: a transaction (whose reads see its
// own writes) has no such methods, like any other backend without them, and the commands read
// through Backend's ReadHash, ReadSet and ReadZSet (as collWriterAt's writes do).
func (c *client) readerAt() collReaderAt {
	r, _ := c.be().(collReaderAt)
	return r
}

// keyView is b as a string without a copy, for a key the callee does not keep (collReaderAt).
func keyView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// zrangeRead is ZRANGE's read of a sorted set, one per connection (client.zread): its spec,
// the members it collects and its function, made once. The function escapes into the
// backend's interface call, and with the spec and the members it captured that was three
// allocations of every ZRANGE beside the key's.
type zrangeRead struct {
	sp  zspec
	out []zms
	fn  func(z *crdt.ZSet)
}

func (r *zrangeRead) read(z *crdt.ZSet) { r.out = r.sp.collect(z, r.out) }

// zrangeKeep is the most members a connection's zrangeRead keeps room for between commands: a
// ZRANGE 0 -1 of a large set does not leave its buffer with the connection.
const zrangeKeep = 1024

// release drops what the read collected (the members are the set's strings: not kept alive
// here) and a buffer grown past zrangeKeep.
func (r *zrangeRead) release() {
	if cap(r.out) > zrangeKeep {
		r.out = nil
		return
	}
	clear(r.out)
	r.out = r.out[:0]
}

// zread returns the connection's zrangeRead, made on first use.
func (c *client) zread() *zrangeRead {
	if c.zr == nil {
		c.zr = &zrangeRead{}
		c.zr.fn = c.zr.read
	}
	return c.zr
}

// elemRead is HGET's and SISMEMBER's read of one element, one per connection (client.er): the
// element (a view of the request) and the functions, made once. HGET replies from inside its
// function, under the hash's read lock, so the value is not copied.
type elemRead struct {
	c     *client
	elem  []byte
	found bool
	hget  func(h *crdt.Hash)
	sism  func(s *crdt.Set)
}

func (r *elemRead) readHGet(h *crdt.Hash) {
	if v, ok := h.Get(keyView(r.elem)); ok {
		r.found = true
		r.c.out = appendBulk(r.c.out, v)
	}
}

func (r *elemRead) readSIsMember(s *crdt.Set) { r.found = s.Has(keyView(r.elem)) }

// elem returns the connection's elemRead for element e, made on first use.
func (c *client) elem(e []byte) *elemRead {
	if c.er == nil {
		c.er = &elemRead{c: c}
		c.er.hget, c.er.sism = c.er.readHGet, c.er.readSIsMember
	}
	c.er.elem, c.er.found = e, false
	return c.er
}

// done forgets the element (a view of the connection's input buffer).
func (r *elemRead) done() { r.elem = nil }
