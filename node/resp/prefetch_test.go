package resp

import (
	"slices"
	"testing"
)

func TestScanKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		in   string
		want []string
	}{
		{"pipelined gets and sets", "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n*3\r\n$3\r\nset\r\n$2\r\nk2\r\n$5\r\nhello\r\n*5\r\n$3\r\nSeT\r\n$2\r\nk3\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n10\r\n",
			[]string{"k1", "k2", "k3"}},
		{"other commands skipped", "*1\r\n$4\r\nPING\r\n*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n*2\r\n$3\r\nget\r\n$1\r\nx\r\n", []string{"x"}},
		{"stops at a partial command", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$5\r\nbb", []string{"a"}},
		{"stops at an inline command", "GET a\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", nil},
		{"stops at bad framing", "*2\r\n$3\r\nGET\r\n$1\r\naX\r\n", nil},
		{"a bare GET has no key", "*1\r\n$3\r\nGET\r\n", nil},
		{"empty key", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", []string{""}},
		{"huge length refused", "*2\r\n$3\r\nGET\r\n$99999999999\r\n", nil},
	} {
		if got := scanKeys([]byte(c.in), nil); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	var many []byte
	for range prefetchKeys + 10 {
		many = append(many, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"...)
	}
	if got := len(scanKeys(many, nil)); got != prefetchKeys {
		t.Errorf("scanned %d keys, want at most %d", got, prefetchKeys)
	}
}

// FuzzScanKeys: the look ahead never panics and only returns keys that appear in the input.
func FuzzScanKeys(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n"))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, k := range scanKeys(in, nil) {
			if len(k) > len(in) {
				t.Fatalf("key %q longer than the input", k)
			}
		}
	})
}
