package httpapi_test

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

// FuzzHTTP feeds arbitrary bytes as an HTTP request to the API. Whatever net/http accepts as a
// request must get a well-formed response without a panic or a 5xx.
func FuzzHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET /v1/keys/a HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT /v1/keys/a?ttl=10s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
		"PUT /v1/keys/a%2Fb?replicas=2&timeout=1ms HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nContent-Length: 1\r\n\r\nx",
		"DELETE /v1/keys/a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/keys/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/\"x\", *\r\n\r\n",
		"GET /v1/members HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT /v1/keys/k HTTP/1.1\r\nHost: x\r\nX-Geocache-TTL: 99999999999999999999\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	n, err := node.New(node.Config{MaxMemory: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	api, err := httpapi.New(n, httpapi.Config{MaxBodySize: 1 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 itself
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, raw, rec.Body.String())
		}
	})
}
