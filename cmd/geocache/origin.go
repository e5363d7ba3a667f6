package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/geocache/geocache/node"
)

// origin fills cache misses from an HTTP origin: a miss of key k is GET <base>/<k, path-escaped>.
// 200 is the value (kept for the response's Cache-Control s-maxage or max-age, else ttl), 404
// and 410 are "no such key" (node.ErrNotFound), anything else, a transport error or a timeout is
// an error with an "origin: " message that the client sees.
type origin struct {
	base     *url.URL // no trailing slash in Path
	client   *http.Client
	tr       *http.Transport
	ttl      time.Duration
	maxValue int64
}

// parseOrigin checks an origin base URL.
func parseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("no query or fragment allowed: the key is appended to the path")
	}
	return u, nil
}

// maxOriginConns bounds the idle connections kept to the origin; loads are deduplicated per key,
// so concurrency is the number of distinct cold keys in flight.
const maxOriginConns = 64

func newOrigin(cfg Config) (*origin, error) {
	u, err := parseOrigin(cfg.Origin)
	if err != nil {
		return nil, fmt.Errorf("--origin: %w", err)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxOriginConns
	tr.ResponseHeaderTimeout = cfg.OriginTimeout
	return &origin{
		base:     u,
		client:   &http.Client{Transport: tr, Timeout: cfg.OriginTimeout},
		tr:       tr,
		ttl:      cfg.OriginTTL,
		maxValue: int64(cfg.MaxValueSize),
	}, nil
}

// keyURL is the origin URL of key: the base path, a slash and the key path-escaped (a "/" in the
// key becomes %2F, so every key is one path segment).
func (o *origin) keyURL(key string) string {
	u := *o.base
	u.Path += "/" + key
	u.RawPath = o.base.EscapedPath() + "/" + url.PathEscape(key)
	return u.String()
}

// load is the node.Loader. The node calls it off its event loops, once per cold key at a time.
func (o *origin) load(ctx context.Context, key string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.keyURL(key), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("origin: %w", err)
	}
	req.Header.Set("User-Agent", "geocache/"+buildVersion())
	resp, err := o.client.Do(req)
	if err != nil {
		// *url.Error names the method and URL (without a password) and says "Client.Timeout
		// exceeded" for --origin-timeout.
		return nil, 0, fmt.Errorf("origin: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		body, err := io.ReadAll(io.LimitReader(resp.Body, o.maxValue+1))
		if err != nil {
			return nil, 0, fmt.Errorf("origin: reading %s: %w", req.URL.Redacted(), err)
		}
		if int64(len(body)) > o.maxValue {
			return nil, 0, fmt.Errorf("origin: %s: value larger than --max-value-size (%d bytes)", req.URL.Redacted(), o.maxValue)
		}
		return body, cacheTTL(resp.Header, o.ttl), nil
	case http.StatusNotFound, http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		return nil, 0, node.ErrNotFound
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil, 0, fmt.Errorf("origin: GET %s: %s", req.URL.Redacted(), resp.Status)
}

// minOriginTTL is the shortest TTL a loaded value gets, even for max-age=0: the regions waiting
// on this load receive the value by replication and must still find it live.
const minOriginTTL = time.Second

// cacheTTL is how long to keep a response: Cache-Control s-maxage (we are a shared cache), else
// max-age, at least minOriginTTL; def when neither is given. Other directives are not
// interpreted.
func cacheTTL(h http.Header, def time.Duration) time.Duration {
	var maxAge, sMaxAge int64 = -1, -1
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			switch strings.ToLower(name) {
			case "max-age":
				maxAge = n
			case "s-maxage":
				sMaxAge = n
			}
		}
	}
	secs := sMaxAge
	if secs < 0 {
		secs = maxAge
	}
	switch {
	case secs < 0:
		return def
	case secs > int64(10*365*24*time.Hour/time.Second):
		secs = int64(10 * 365 * 24 * time.Hour / time.Second)
	}
	return max(time.Duration(secs)*time.Second, minOriginTTL)
}

// close drops idle connections to the origin.
func (o *origin) close() { o.tr.CloseIdleConnections() }
