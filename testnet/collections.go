package testnet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geocache/geocache/crdt"
)

// The workload's collection keys and what the checker proves about them (KindCollection),
// beyond agreement:
//
//   - Hash "h/i": each client HSETs only its own field (its name), so a field is a register
//     written by one sequential client. Every live node holds, for each field, the client's
//     last acknowledged value or a value of a later write of it that may have been applied
//     (no reply, or its process was killed right after: excused); fields written on different
//     nodes concurrently must all be there, which a whole-value last-writer-wins would break.
//   - Set "s/i": SADD and SREM of a few members from every node. Add-wins: a member whose
//     acknowledged SADD started after every SREM of it had completed (so none could have
//     observed it) is present everywhere, whatever the clocks say; a member whose acknowledged
//     SREM on a node started after every SADD of it had completed on that same process (so it
//     observed them all) is absent everywhere. No member appears that nobody added.
//   - Sorted set "z/i": ZINCRBY of a few members by integers: every member's score is at least
//     the sum of the acknowledged increments and at most the sum of those that may have been
//     applied, as for counter keys (members are never removed).

// HashKey, SetKey and ZSetKey name collection i of each type of a workload with prefix prefix.
func HashKey(prefix string, i int) string { return prefix + "h/" + strconv.Itoa(i) }

// SetKey: see HashKey.
func SetKey(prefix string, i int) string { return prefix + "s/" + strconv.Itoa(i) }

// ZSetKey: see HashKey.
func ZSetKey(prefix string, i int) string { return prefix + "z/" + strconv.Itoa(i) }

// collFamily returns 'h', 's' or 'z' for a collection key of the workload, 0 otherwise.
func collFamily(prefix, key string) byte {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || len(rest) < 2 || rest[1] != '/' {
		return 0
	}
	switch rest[0] {
	case 'h', 's', 'z':
		return rest[0]
	}
	return 0
}

// registerKey reports whether key is one of the workload's plain register keys (judged by
// history and sessions), not a counter or a collection.
func registerKey(prefix, key string) bool {
	return strings.HasPrefix(key, prefix) && !isCounterKey(prefix, key) && collFamily(prefix, key) == 0
}

// collMembers is the member space of sets and sorted sets: small, so that regions contend.
const collMembers = 4

// collOp fills op with a collection write: 30 % HSET, 30 % SADD, 20 % SREM, 20 % ZINCRBY.
func (w *Workload) collOp(rng *rand.Rand, op *Op, seq int) {
	i := rng.IntN(w.cfg.CollKeys)
	member := "m" + strconv.Itoa(rng.IntN(collMembers))
	switch p := rng.IntN(10); {
	case p < 3:
		op.Kind, op.Key, op.Member = OpHSet, HashKey(w.cfg.Prefix, i), op.Client
		op.Value = fmt.Sprintf("%s#%s.%d", op.Client, w.tag, seq)
	case p < 6:
		op.Kind, op.Key, op.Member = OpSAdd, SetKey(w.cfg.Prefix, i), member
	case p < 8:
		op.Kind, op.Key, op.Member = OpSRem, SetKey(w.cfg.Prefix, i), member
	default:
		op.Kind, op.Key, op.Member, op.Delta = OpZIncr, ZSetKey(w.cfg.Prefix, i), member, 1+rng.Int64N(9)
	}
}

// collArgs is the RESP command of a collection write.
func collArgs(op *Op) []string {
	switch op.Kind {
	case OpHSet:
		return []string{"HSET", op.Key, op.Member, op.Value}
	case OpSAdd:
		return []string{"SADD", op.Key, op.Member}
	case OpSRem:
		return []string{"SREM", op.Key, op.Member}
	case OpZIncr:
		return []string{"ZINCRBY", op.Key, strconv.FormatInt(op.Delta, 10), op.Member}
	}
	panic("testnet: not a collection op: " + string(op.Kind))
}

// collState is the visible content of a collection as one node holds it.
type collState struct {
	fields map[string]string  // hash
	scores map[string]float64 // set (score 0) and sorted set
}

// famOf maps a dump's type to a collection family, 0 for other types.
func famOf(typ string) byte {
	switch typ {
	case "hash":
		return 'h'
	case "set":
		return 's'
	case "zset":
		return 'z'
	}
	return 0
}

// decodeColl decodes the state a dump carries for a collection of family fam.
func decodeColl(fam byte, raw string) (collState, error) {
	st := collState{fields: map[string]string{}, scores: map[string]float64{}}
	switch fam {
	case 'h':
		h, err := crdt.DecodeHash([]byte(raw))
		if err != nil {
			return st, err
		}
		h.Range(func(f string, v []byte) bool { st.fields[f] = string(v); return true })
	case 's':
		s, err := crdt.DecodeSet([]byte(raw))
		if err != nil {
			return st, err
		}
		s.Range(func(m string) bool { st.scores[m] = 0; return true })
	default:
		z, err := crdt.DecodeZSet([]byte(raw))
		if err != nil {
			return st, err
		}
		z.Walk(0, false, func(m string, s float64) bool { st.scores[m] = s; return true })
	}
	return st, nil
}

// String renders the content canonically (sorted), for agreement and evidence.
func (st collState) String() string {
	var parts []string
	for _, f := range sortedKeys(st.fields) {
		parts = append(parts, f+"="+st.fields[f])
	}
	for _, m := range sortedKeys(st.scores) {
		parts = append(parts, m+":"+strconv.FormatFloat(st.scores[m], 'g', -1, 64))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// normalizeColls replaces, in a copy of the dumps, the encoded state of every collection
// by its visible content, so agreement compares what clients read (the encodings differ in
// metadata each node collects on its own schedule: removed writes, the causal floor). It
// returns the decoded states by node and key.
func (c *checker) normalizeColls() map[string]map[string]collState {
	out := map[string]map[string]collState{}
	c.in.Dumps = slices.Clone(c.in.Dumps) // the caller's dumps stay as they were
	for i := range c.in.Dumps {
		d := &c.in.Dumps[i]
		regs := make(map[string]Register, len(d.Regs))
		states := map[string]collState{}
		for k, r := range d.Regs {
			if fam := famOf(r.Type); fam != 0 && r.Deleted {
				r.Value = "" // emptied (or partial): absent to readers, whatever metadata it keeps
			} else if fam != 0 {
				st, err := decodeColl(fam, r.Value)
				if err != nil {
					c.violate(KindCollection, k, fmt.Sprintf("%s holds an undecodable collection: %v", d.Node, err), nil)
				} else {
					r.Value = st.String()
					states[k] = st
				}
			}
			regs[k] = r
		}
		d.Regs = regs
		out[d.Node] = states
	}
	return out
}

// collections judges the collection keys (see the top of this file) on every live node.
func (c *checker) collections(states map[string]map[string]collState) {
	type elemKey struct{ key, member string }
	byElem := map[elemKey][]*Op{}
	for i := range c.in.Ops {
		o := &c.in.Ops[i]
		switch o.Kind {
		case OpHSet, OpSAdd, OpSRem, OpZIncr:
			if o.Status != StatusFail {
				byElem[elemKey{o.Key, o.Member}] = append(byElem[elemKey{o.Key, o.Member}], o)
			}
		}
	}
	keys := map[string]bool{}
	for e := range byElem {
		keys[e.key] = true
	}
	c.res.Judged += len(keys)
	view := func(key string) []string {
		var out []string
		for _, d := range c.in.Dumps {
			st, ok := states[d.Node][key]
			if !ok {
				out = append(out, "node "+d.Node+": absent")
				continue
			}
			out = append(out, "node "+d.Node+": "+st.String())
		}
		return out
	}
	// Elements of the workload's collections nobody wrote (or only failed writes wrote).
	for _, d := range c.in.Dumps {
		for _, k := range sortedKeys(states[d.Node]) {
			st := states[d.Node][k]
			if len(c.in.Ops) == 0 || collFamily(c.in.Prefix, k) == 0 {
				continue // a convergence check, or not a workload key
			}
			for _, m := range append(sortedKeys(st.fields), sortedKeys(st.scores)...) {
				if _, ok := byElem[elemKey{k, m}]; !ok {
					c.violate(KindCollection, k, fmt.Sprintf("%s holds %q, which no write could have left", d.Node, m), view(k))
				}
			}
		}
	}
	elems := make([]elemKey, 0, len(byElem))
	for e := range byElem {
		elems = append(elems, e)
	}
	slices.SortFunc(elems, func(a, b elemKey) int {
		return strings.Compare(a.key+"\x00"+a.member, b.key+"\x00"+b.member)
	})
	for _, e := range elems {
		ops := byElem[e]
		slices.SortStableFunc(ops, func(a, b *Op) int { return a.Invoke.Compare(b.Invoke) })
		for _, d := range c.in.Dumps {
			st, held := states[d.Node][e.key]
			if !held && d.Partial {
				continue
			}
			var msg string
			var why *Op
			switch collFamily(c.in.Prefix, e.key) {
			case 'h':
				msg, why = c.judgeField(ops, st.fields, e.member)
			case 's':
				msg, why = c.judgeMember(ops, st.scores, e.member)
			default:
				msg, why = c.judgeScore(ops, st.scores, e.member)
			}
			if msg != "" {
				c.violate(KindCollection, e.key, fmt.Sprintf("%s: %s", d.Node, msg), view(e.key), why)
			}
		}
	}
}

// judgeField: the field of one client holds its last acknowledged value or a later one that
// may have been applied.
func (c *checker) judgeField(ops []*Op, fields map[string]string, field string) (string, *Op) {
	last := -1
	for i, o := range ops {
		if o.Status == StatusOK && !c.excused(o) {
			last = i
		}
	}
	v, ok := fields[field]
	allowed := map[string]bool{}
	for i := max(last, 0); i < len(ops); i++ {
		allowed[ops[i].Value] = true
	}
	switch {
	case !ok && last >= 0:
		return fmt.Sprintf("field %q is missing; its acknowledged write %q was lost", field, ops[last].Value), ops[last]
	case ok && !allowed[v]:
		if last >= 0 {
			return fmt.Sprintf("field %q holds %q, not its last acknowledged write %q or a later one", field, v, ops[last].Value), ops[last]
		}
		return fmt.Sprintf("field %q holds %q, which no write of it could have left", field, v), nil
	}
	return "", nil
}

// judgeMember: add-wins observed-remove, judged where real time decides observation.
func (c *checker) judgeMember(ops []*Op, members map[string]float64, m string) (string, *Op) {
	_, present := members[m]
	// A removal's effect is only bounded once it answered: one without a reply may run late.
	done := func(o *Op) time.Time {
		if o.Status == StatusOK {
			return o.Complete
		}
		return time.Unix(1<<40, 0)
	}
	var added bool
	for _, o := range ops {
		if o.Kind == OpSAdd {
			added = true
		}
	}
	if present && !added {
		return fmt.Sprintf("member %q is present, but no SADD of it could have been applied", m), nil
	}
	for _, a := range ops {
		if a.Kind != OpSAdd || a.Status != StatusOK || c.excused(a) {
			continue
		}
		unobserved := true
		for _, r := range ops {
			if r.Kind == OpSRem && !done(r).Before(a.Invoke) {
				unobserved = false
				break
			}
		}
		if unobserved && !present {
			return fmt.Sprintf("member %q is absent, but its acknowledged SADD started after every SREM of it had answered (add wins)", m), a
		}
	}
	for _, r := range ops {
		if r.Kind != OpSRem || r.Status != StatusOK {
			continue
		}
		observedAll := true
		for _, a := range ops {
			if a.Kind == OpSAdd && (a.Node != r.Node || a.Inc != r.Inc || !done(a).Before(r.Invoke)) {
				observedAll = false
				break
			}
		}
		if observedAll && present {
			return fmt.Sprintf("member %q is present, but an acknowledged SREM on %s started after every SADD of it had answered there", m, r.Node), r
		}
	}
	return "", nil
}

// judgeScore: a sorted-set member's score is the sum of its increments applied.
func (c *checker) judgeScore(ops []*Op, scores map[string]float64, m string) (string, *Op) {
	var lo, hi int64
	var last *Op
	for _, o := range ops {
		hi += o.Delta
		if o.Status == StatusOK && !c.excused(o) {
			lo += o.Delta
			last = o
		}
	}
	s, ok := scores[m]
	switch {
	case !ok && lo > 0:
		return fmt.Sprintf("member %q is missing; its acknowledged increments sum to %d", m, lo), last
	case ok && (s < float64(lo) || s > float64(hi) || s != float64(int64(s))):
		return fmt.Sprintf("member %q scores %g; the increments applied sum to between %d and %d", m, s, lo, hi), last
	}
	return "", nil
}
