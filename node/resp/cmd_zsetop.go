package resp

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

func addZSetOpCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("zunion", -3, 0, cmdZSetOp)
	add("zinter", -3, 0, cmdZSetOp)
	add("zdiff", -3, 0, cmdZSetOp)
	add("zunionstore", -4, flagWrite, cmdZSetOp)
	add("zinterstore", -4, flagWrite, cmdZSetOp)
	add("zdiffstore", -4, flagWrite, cmdZSetOp)
	add("zintercard", -3, 0, cmdZSetOp)
}

// zinput reads key as a sorted set, or as a set whose members all score 1 (Redis accepts
// both); an absent key is empty. present reports whether it exists.
func zinput(ctx context.Context, b Backend, key string) (map[string]float64, error) {
	out := map[string]float64{}
	_, err := b.ReadZSet(ctx, key, func(z *crdt.ZSet) {
		z.Walk(0, false, func(m string, sc float64) bool { out[m] = sc; return true })
	})
	if errors.Is(err, node.ErrWrongType) {
		_, err = b.ReadSet(ctx, key, func(st *crdt.Set) {
			st.Range(func(m string) bool { out[m] = 1; return true })
		})
	}
	return out, err
}

// cmdZSetOp serves ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis's
// zunionInterDiffGenericCommand: inputs are read (and type-checked) before the options.
func cmdZSetOp(ctx context.Context, s *Server, c *client, argv [][]byte) {
	name := string(lowerASCII(argv[0]))
	store := strings.HasSuffix(name, "store")
	card := name == "zintercard"
	op := strings.TrimSuffix(name, "store")
	if card {
		op = "zinter"
	}
	nkAt := 1
	if store {
		nkAt = 2
	}
	nk, err := strconv.ParseInt(string(argv[nkAt]), 10, 64)
	if err != nil {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if nk < 1 {
		c.out = appendError(c.out, "ERR at least 1 input key is needed for '"+name+"' command")
		return
	}
	if nk > int64(len(argv)-nkAt-1) {
		c.out = appendError(c.out, errSyntax)
		return
	}
	inputs := make([]map[string]float64, nk)
	for i := range inputs {
		if inputs[i], err = zinput(ctx, c.be(), string(argv[nkAt+1+i])); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
	}
	weights := make([]float64, nk)
	for i := range weights {
		weights[i] = 1
	}
	agg, withScores, limit := "sum", false, int64(0)
	for j := nkAt + 1 + int(nk); j < len(argv); {
		left := len(argv) - j
		switch {
		case op != "zdiff" && !card && left >= int(nk)+1 && equalFold(argv[j], "weights"):
			j++
			for i := range weights {
				w, ok := parseScore(argv[j])
				if !ok {
					c.out = appendError(c.out, "ERR weight value is not a float")
					return
				}
				weights[i] = w
				j++
			}
		case op != "zdiff" && !card && left >= 2 && equalFold(argv[j], "aggregate"):
			a := string(lowerASCII(argv[j+1]))
			if a != "sum" && a != "min" && a != "max" {
				c.out = appendError(c.out, errSyntax)
				return
			}
			agg = a
			j += 2
		case !store && !card && equalFold(argv[j], "withscores"):
			withScores = true
			j++
		case card && left >= 2 && equalFold(argv[j], "limit"):
			l, err := strconv.ParseInt(string(argv[j+1]), 10, 64)
			if err != nil || l < 0 {
				c.out = appendError(c.out, "ERR LIMIT can't be negative")
				return
			}
			limit = l
			j += 2
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	res := zalgebra(op, inputs, weights, agg)
	switch {
	case card:
		n := int64(len(res))
		if limit > 0 && n > limit {
			n = limit
		}
		c.out = appendInt(c.out, n)
	case store:
		if err := zstore(ctx, c.be(), string(argv[1]), res); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		c.out = appendInt(c.out, int64(len(res)))
	default:
		appendZRange(c, res, withScores)
	}
}

// zalgebra computes a union, intersection or difference with Redis's weights and
// aggregation (a NaN from inf*0 or inf-inf counts as 0), sorted by (score, member).
func zalgebra(op string, inputs []map[string]float64, weights []float64, agg string) []zms {
	weighted := func(i int, v float64) float64 {
		v *= weights[i]
		if math.IsNaN(v) {
			return 0
		}
		return v
	}
	combine := func(a, b float64) float64 {
		switch agg {
		case "min":
			return min(a, b)
		case "max":
			return max(a, b)
		}
		if v := a + b; !math.IsNaN(v) {
			return v
		}
		return 0
	}
	acc := map[string]float64{}
	switch op {
	case "zunion":
		for i, in := range inputs {
			for m, v := range in {
				w := weighted(i, v)
				if cur, ok := acc[m]; ok {
					acc[m] = combine(cur, w)
				} else {
					acc[m] = w
				}
			}
		}
	case "zinter":
		for m, v := range inputs[0] {
			sc, in := weighted(0, v), true
			for i := 1; i < len(inputs) && in; i++ {
				var o float64
				if o, in = inputs[i][m]; in {
					sc = combine(sc, weighted(i, o))
				}
			}
			if in {
				acc[m] = sc
			}
		}
	default: // zdiff
		for m, v := range inputs[0] {
			in := false
			for _, o := range inputs[1:] {
				if _, in = o[m]; in {
					break
				}
			}
			if !in {
				acc[m] = v
			}
		}
	}
	out := make([]zms, 0, len(acc))
	for m, v := range acc {
		out = append(out, zms{m, v})
	}
	slices.SortFunc(out, func(a, b zms) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return strings.Compare(a.m, b.m)
	})
	return out
}
