package httpapi

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/geocache/geocache/node"
)

// dumpLine is one line of GET /v1/dump.
type dumpLine struct {
	Key         string `json:"key"`
	ValueB64    string `json:"value_b64"`
	ContentType string `json:"content_type,omitempty"`
	ExpireAtMs  int64  `json:"expire_at_ms"`
	Version     string `json:"version"`
	HLC         uint64 `json:"hlc"`
	Replica     string `json:"replica"`
	Deleted     bool   `json:"deleted"`
	Type        string `json:"type,omitempty"`
}

// dump streams every register the node holds as JSON lines, delete tombstones included.
func (s *Server) dump(w http.ResponseWriter, r *http.Request) {
	d, ok := s.b.(Dumper)
	if !ok {
		writeError(w, http.StatusNotImplemented, "dump not supported")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	err := d.Dump(r.Context(), func(e node.DumpEntry) bool {
		return enc.Encode(dumpLine{Key: e.Key, ValueB64: base64.StdEncoding.EncodeToString(e.Value),
			ContentType: e.ContentType, ExpireAtMs: e.ExpireAtMs, Version: e.Version.String(),
			HLC: uint64(e.Version.TS), Replica: e.Version.Replica.String(), Deleted: e.Deleted,
			Type: e.Type}) == nil
	})
	if err == nil {
		bw.Flush()
	}
}

// nearestNode is one entry of GET /v1/nearest.
type nearestNode struct {
	ID     string  `json:"id"`
	Region string  `json:"region"`
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	RESP   string  `json:"resp,omitempty"`
	HTTP   string  `json:"http,omitempty"`
	State  string  `json:"state"`
	RTTMs  float64 `json:"rtt_ms"`
}

// nearest lists healthy members nearest to ?lat=&lon= (default: this node's own position is
// not assumed; both are required), at most ?count= (default 3).
func (s *Server) nearest(w http.ResponseWriter, r *http.Request) {
	l, ok := s.b.(Locator)
	if !ok {
		writeError(w, http.StatusNotImplemented, "nearest not supported")
		return
	}
	q := r.URL.Query()
	lat, err1 := strconv.ParseFloat(q.Get("lat"), 64)
	lon, err2 := strconv.ParseFloat(q.Get("lon"), 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		writeError(w, http.StatusBadRequest, "lat and lon must be degrees within [-90, 90] and [-180, 180]")
		return
	}
	count := 3
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("count must be 1..1000, got %q", c))
			return
		}
		count = n
	}
	out := []nearestNode{}
	for _, m := range l.Nearest(lat, lon, count) {
		out = append(out, nearestNode{ID: m.PeerID, Region: m.Region, Lat: m.Lat, Lon: m.Lon, RESP: m.RESP,
			HTTP: m.HTTP, State: m.State, RTTMs: float64(m.RTT.Microseconds()) / 1000})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
