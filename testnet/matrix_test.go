package testnet

import (
	"testing"
	"time"
)

func TestDefaultMatrixIsComplete(t *testing.T) {
	m := DefaultMatrix()
	for _, a := range m.Regions {
		for _, b := range m.Regions {
			d := m.OneWay(a.Name, b.Name)
			if a == b && d != m.IntraRTT/2 || a != b && (d < 10*time.Millisecond || d != m.OneWay(b.Name, a.Name)) {
				t.Errorf("%s -> %s: %v", a.Name, b.Name, d)
			}
		}
	}
	if got := m.OneWay("us-east", "eu-west"); got != 34*time.Millisecond {
		t.Errorf("us-east -> eu-west = %v, want 34ms", got)
	}
}

func TestParseMatrix(t *testing.T) {
	m, err := ParseMatrix([]byte(`{"regions":[{"name":"a"},{"name":"b"}],"rtt_ms":[["a","b",40]],
		"one_way_ms":[["a","b",30]],"jitter_ms":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.OneWay("a", "b") != 30*time.Millisecond || m.OneWay("b", "a") != 20*time.Millisecond ||
		m.Jitter != 2*time.Millisecond || m.IntraRTT != time.Millisecond {
		t.Fatalf("%+v", m)
	}
	for _, bad := range []string{
		`{"regions":[{"name":"a"},{"name":"b"}]}`,                         // missing pair
		`{"regions":[{"name":"a"},{"name":"a"}],"rtt_ms":[]}`,             // duplicate
		`{"regions":[{"name":"a"},{"name":"b"}],"rtt_ms":[["a","c",1]]}`,  // unknown region
		`{"regions":[{"name":"a"},{"name":"b"}],"rtt_ms":[["a","b",-1]]}`, // negative
		`{"regions":[]}`,
	} {
		if _, err := ParseMatrix([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
