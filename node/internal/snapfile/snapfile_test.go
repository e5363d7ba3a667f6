package snapfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndDamage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 100 {
		p := fmt.Sprint("payload-", i)
		want = append(want, p)
		if err := w.Block(Kind(1+i%3), []byte(p), 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Block(End, nil, 0); err == nil {
		t.Fatal("reserved kind accepted")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	info, err := Verify(path)
	if err != nil || info.Blocks != 100 || info.Records != 200 {
		t.Fatalf("Verify = %+v, %v", info, err)
	}
	var got []string
	err = Read(path, func(k Kind, p []byte) error {
		if int(k) != 1+len(got)%3 {
			return fmt.Errorf("block %d kind %d", len(got), k)
		}
		got = append(got, string(p))
		return nil
	})
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Read: %v %v", got, err)
	}
	raw, _ := os.ReadFile(path)
	for off := 0; off < len(raw); off += 7 {
		bad := append([]byte(nil), raw...)
		bad[off] ^= 1
		os.WriteFile(path, bad, 0o600)
		if _, err := Verify(path); err == nil {
			t.Fatalf("bit flip at %d not detected", off)
		}
		os.WriteFile(path, raw[:off], 0o600)
		if _, err := Verify(path); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("file cut at %d: %v", off, err)
		}
	}
}

func TestAbortKeepsPrevious(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	w, _ := Create(path)
	w.Block(1, []byte("first"), 1)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w, _ = Create(path)
	w.Block(1, []byte("second"), 1)
	w.Abort()
	var got string
	if err := Read(path, func(_ Kind, p []byte) error { got = string(p); return nil }); err != nil || got != "first" {
		t.Fatalf("after abort: %q %v", got, err)
	}
}
