package client

import (
	"strings"
	"testing"
)

func TestParseMembers(t *testing.T) {
	t.Parallel()
	const from = "http://10.0.0.1:8080"
	tests := []struct {
		name string
		body string
		want []member // coords checked separately
		err  string
	}{
		{
			name: "httpapi shape",
			body: `{"self":"r1","members":[
				{"id":"r1","region":"eu-central","lat":50.1,"lon":8.7,"resp":"[::]:6379","http":"http://[::]:8080","state":"self","rtt_ms":0},
				{"id":"r2","region":"us-east","lat":39,"lon":-77,"resp":"10.0.0.2:6379","http":"http://10.0.0.2:8080","state":"connected","rtt_ms":80.5},
				{"id":"r3","region":"ap","resp":"10.0.0.3:6379","state":"disconnected"}]}`,
			want: []member{
				{id: "r1", region: "eu-central", resp: "10.0.0.1:6379", http: "http://10.0.0.1:8080", state: "self", viewOK: true},
				{id: "r2", region: "us-east", resp: "10.0.0.2:6379", http: "http://10.0.0.2:8080", state: "connected", viewOK: true},
				{id: "r3", region: "ap", resp: "10.0.0.3:6379", state: "disconnected", viewOK: false},
			},
		},
		{
			name: "array of node records",
			body: `[{"peer_id":"12D3a","region":"eu","resp":"redis://a.example:7000","http":"a.example:8080","state":"serving","connected":true,"reachable":true},
				{"peer_id":"12D3b","resp":"b.example:7000","state":"serving","reachable":false},
				{"peer_id":"12D3c","resp":"c.example:7000","state":"joining"},
				{"peer_id":"12D3d","resp":"d.example:7000","state":"serving","connected":false},
				{"peer_id":"12D3e","resp":"e.example:7000","state":"leaving"},
				{"resp":"f.example:7000"}]`,
			want: []member{
				{id: "12D3a", region: "eu", resp: "a.example:7000", http: "http://a.example:8080", state: "serving", viewOK: true},
				{id: "12D3b", resp: "b.example:7000", state: "serving"},
				{id: "12D3c", resp: "c.example:7000", state: "joining"},
				{id: "12D3d", resp: "d.example:7000", state: "serving"},
				{id: "12D3e", resp: "e.example:7000", state: "leaving"},
				{id: "f.example:7000", resp: "f.example:7000", viewOK: true},
			},
		},
		{
			name: "unusable members are skipped",
			body: `{"members":[
				{"id":"no-resp","state":"serving"},
				{"id":"wildcard-peer","resp":"0.0.0.0:6379"},
				{"id":"bad-port","resp":"h:99999"},
				{"id":"not-an-object"},
				42,
				{"id":"typed-wrong","resp":7},
				{"id":"ok","resp":"h:1","lat":"north"},
				{"id":"ok","resp":"dup:1"}]}`,
			want: []member{{id: "ok", resp: "h:1", viewOK: true}},
		},
		{
			name: "wildcard peer completed from its own http address",
			body: `{"members":[{"id":"p","resp":":6379","http":"http://10.9.9.9:8080","state":"SERVING"}]}`,
			want: []member{{id: "p", resp: "10.9.9.9:6379", http: "http://10.9.9.9:8080", state: "serving", viewOK: true}},
		},
		{name: "not json", body: `<html>`, err: "not a JSON array or object"},
		{name: "no members array", body: `{"nodes":[]}`, err: `no "members" array`},
		{name: "broken array", body: `[{"id":`, err: "member list"},
		{name: "empty", body: ``, err: "not a JSON"},
		{name: "null members", body: `{"members":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMembers([]byte(tt.body), from)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d members %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				g := got[i]
				g.coords = nil
				if g != tt.want[i] {
					t.Errorf("member %d = %+v, want %+v", i, g, tt.want[i])
				}
			}
		})
	}
}

func TestParseMembersCoords(t *testing.T) {
	t.Parallel()
	got, err := parseMembers([]byte(`[
		{"id":"a","resp":"h:1","lat":50.1,"lon":8.7},
		{"id":"unset","resp":"h:2","lat":0,"lon":0},
		{"id":"invalid","resp":"h:3","lat":123,"lon":0},
		{"id":"half","resp":"h:4","lat":10}]`), "http://x")
	if err != nil {
		t.Fatal(err)
	}
	if c := got[0].coords; c == nil || c.Lat != 50.1 || c.Lon != 8.7 {
		t.Errorf("a: coords %v", c)
	}
	for _, m := range got[1:] {
		if m.coords != nil {
			t.Errorf("%s: coords %v, want unknown", m.id, *m.coords)
		}
	}
}

func TestResolveRESP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, fallback, want string
	}{
		{"10.0.0.1:6379", "", "10.0.0.1:6379"},
		{" host:1 ", "", "host:1"},
		{"redis://host:6380", "", "host:6380"},
		{"rediss://host:6380/0", "", "host:6380"},
		{":6379", "h", "h:6379"},
		{"0.0.0.0:6379", "h", "h:6379"},
		{"[::]:6379", "fe80::1", "[fe80::1]:6379"},
		{"[::1]:6379", "", "[::1]:6379"},
		{":6379", "", ""},
		{":6379", "0.0.0.0", ""},
		{"host", "", ""},
		{"host:0", "", ""},
		{"host:x", "", ""},
		{"", "h", ""},
		{":1", "]", ""},
		{"a b:1", "", ""},
	}
	for _, tt := range tests {
		got, err := resolveRESP(tt.in, tt.fallback)
		if (tt.want == "") != (err != nil) || got != tt.want {
			t.Errorf("resolveRESP(%q, %q) = %q, %v; want %q", tt.in, tt.fallback, got, err, tt.want)
		}
	}
}

func TestResolveHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, fallback, want string
	}{
		{"http://h:8080", "", "http://h:8080"},
		{"h:8080/", "", "http://h:8080"},
		{"https://[::]:8443", "10.0.0.1", "https://10.0.0.1:8443"},
		{"http://0.0.0.0", "fe80::1", "http://[fe80::1]"},
		{"http://[::]:80", "", ""},
		{"ftp://h", "", ""},
	}
	for _, tt := range tests {
		got, err := resolveHTTP(tt.in, tt.fallback)
		if (tt.want == "") != (err != nil) || got != tt.want {
			t.Errorf("resolveHTTP(%q, %q) = %q, %v; want %q", tt.in, tt.fallback, got, err, tt.want)
		}
	}
}

func FuzzParseMembers(f *testing.F) {
	f.Add([]byte(`{"self":"a","members":[{"id":"a","resp":":1","http":"http://[::]:2","state":"self","lat":1,"lon":2}]}`))
	f.Add([]byte(`[{"peer_id":"b","resp":"redis://h:1","reachable":false}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ms, err := parseMembers(body, "http://127.0.0.1:1")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if m.id == "" || m.resp == "" || seen[m.id] {
				t.Fatalf("bad member %+v", m)
			}
			seen[m.id] = true
			if _, err := resolveRESP(m.resp, ""); err != nil {
				t.Fatalf("resp %q does not resolve: %v", m.resp, err)
			}
			if m.coords != nil && !m.coords.Valid() {
				t.Fatalf("invalid coords %+v", *m.coords)
			}
		}
	})
}
