package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/geocache/geocache/crdt"
)

// writeMeta sets the headers every key read carries: the version as ETag and
// X-Geocache-Version, and the expiry when there is one.
func (s *Server) writeMeta(w http.ResponseWriter, v crdt.Version, expireAt time.Time) {
	h := w.Header()
	h.Set("ETag", etag(v))
	h.Set("X-Geocache-Version", v.String())
	if !expireAt.IsZero() {
		h.Set("X-Geocache-Expires-At", expireAt.UTC().Format(time.RFC3339Nano))
		ttl := max(expireAt.Sub(s.b.Now()), 0)
		h.Set("X-Geocache-TTL", strconv.FormatInt(ttl.Milliseconds(), 10)+"ms")
	}
}

// jsonScore is a sorted-set score in JSON: a number, or the strings "inf" and "-inf", which
// JSON numbers cannot hold (Redis's own spelling).
type jsonScore float64

func (s jsonScore) MarshalJSON() ([]byte, error) {
	switch f := float64(s); {
	case math.IsInf(f, 1):
		return []byte(`"inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-inf"`), nil
	default:
		return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
	}
}

type jsonScored struct {
	Member string    `json:"member"`
	Score  jsonScore `json:"score"`
}

// getCollection answers GET of a hash (a JSON object of field to value), a set (a JSON array
// of members, sorted) or a sorted set (a JSON array of {member, score} by rank). Field values
// and members are JSON strings: bytes that are not UTF-8 are replaced by U+FFFD, so binary
// collections are read over RESP. X-Geocache-Type names the type.
func (s *Server) getCollection(w http.ResponseWriter, r *http.Request, cb Collections, key string) {
	view, found, err := cb.Collection(r.Context(), key)
	if err != nil {
		s.backendError(w, err)
		return
	}
	if !found { // changed type or went away between the two reads
		writeError(w, http.StatusNotFound, "key not found")
		return
	}
	s.writeMeta(w, view.Version, view.ExpireAt)
	h := w.Header()
	h.Set("X-Geocache-Type", view.Type)
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, h.Get("ETag")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var body any
	switch view.Type {
	case "hash":
		m := make(map[string]string, len(view.Hash))
		for f, v := range view.Hash {
			m[f] = string(v)
		}
		body = m
	case "set":
		body = view.Members
	default:
		zs := make([]jsonScored, len(view.Scored))
		for i, x := range view.Scored {
			zs[i] = jsonScored{Member: x.Member, Score: jsonScore(x.Score)}
		}
		body = zs
	}
	b, err := json.Marshal(body)
	if err != nil {
		s.backendError(w, err)
		return
	}
	b = append(b, '\n')
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
