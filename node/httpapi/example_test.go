package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

// A node served over HTTP: write a JSON document with a TTL, read it back.
func ExampleServer() {
	n, _ := node.New(node.Config{})
	defer n.Close()
	api, _ := httpapi.New(n, httpapi.Config{})
	srv := httptest.NewServer(api)
	defer srv.Close()

	req, _ := http.NewRequest("PUT", srv.URL+"/v1/keys/user/42?ttl=1h", strings.NewReader(`{"name":"ada"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	fmt.Println("PUT", resp.StatusCode)

	resp, _ = http.Get(srv.URL + "/v1/keys/user/42")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("GET", resp.StatusCode, resp.Header.Get("Content-Type"), string(body))
	// Output:
	// PUT 200
	// GET 200 application/json {"name":"ada"}
}
