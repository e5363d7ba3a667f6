// Package snapfile is the on-disk format of a node's cache snapshot: a versioned header followed
// by checksummed blocks and a trailer, written to a temporary file, fsynced and renamed into
// place so a reader sees either the previous complete file or the new complete one.
//
// Layout (integers little-endian):
//
//	header  = magic[8] "GEOCSNAP" version:u32
//	block   = kind:u8 len:u32 crc:u32 payload[len]       crc = CRC32C(kind, len, payload)
//	trailer = a block of kind End whose payload is blocks:u64 records:u64
//
// A file is valid only if every block's checksum matches, the End block comes last, counts the
// blocks and records before it, and nothing follows it. A torn write (a crash before the
// rename, or a disk that lost the tail) therefore never passes for a complete snapshot, and a
// flipped bit anywhere is caught by the block that holds it. The payload of each kind is the
// caller's business; the package only frames, checks and counts.
//
// A Writer is not safe for concurrent use. Verify reads the whole file once; Read then streams
// it again, so the caller can refuse a bad file before applying any of it, with memory bounded
// by the largest block.
package snapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Magic opens every snapshot file.
const Magic = "GEOCSNAP"

// Version is the format version written by this package. A reader refuses other versions.
const Version = 1

// Kind names what a block holds.
type Kind uint8

// End is the trailer block's kind; kinds 1..254 are the caller's.
const End Kind = 255

// MaxBlock bounds a block's payload, so a corrupt length cannot make a reader allocate without
// bound.
const MaxBlock = 64 << 20

const headerLen = len(Magic) + 4

const blockHeaderLen = 1 + 4 + 4

// Errors. Every error from Verify and Read about the file's content wraps ErrCorrupt or
// ErrVersion.
var (
	ErrCorrupt = errors.New("snapfile: corrupt or incomplete snapshot")
	ErrVersion = errors.New("snapfile: unsupported snapshot version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer writes one snapshot to a temporary file beside its final path.
type Writer struct {
	path, tmp string
	f         *os.File
	bw        *bufio.Writer
	blocks    uint64
	records   uint64
	size      int64
	err       error
	hdr       [blockHeaderLen]byte
}

// Create starts a snapshot that Commit will install at path.
func Create(path string) (*Writer, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("snapfile: %w", err)
	}
	w := &Writer{path: path, tmp: tmp, f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	var h [headerLen]byte
	copy(h[:], Magic)
	binary.LittleEndian.PutUint32(h[len(Magic):], Version)
	w.write(h[:])
	return w, w.err
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.bw.Write(b)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("snapfile: %w", err)
	}
}

// Block writes one block holding payload; records is how many records the payload holds,
// counted in the trailer. A payload larger than MaxBlock is an error.
func (w *Writer) Block(k Kind, payload []byte, records int) error {
	if k == End || k == 0 {
		return fmt.Errorf("snapfile: block kind %d is reserved", k)
	}
	if len(payload) > MaxBlock {
		return fmt.Errorf("snapfile: %d-byte block exceeds %d", len(payload), MaxBlock)
	}
	w.block(k, payload)
	w.records += uint64(records)
	return w.err
}

func (w *Writer) block(k Kind, payload []byte) {
	w.hdr[0] = byte(k)
	binary.LittleEndian.PutUint32(w.hdr[1:], uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, w.hdr[:5])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(w.hdr[5:], crc)
	w.write(w.hdr[:])
	w.write(payload)
	w.blocks++
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit writes the trailer, flushes and fsyncs the file, renames it over the final path and
// fsyncs the directory, so that the new snapshot survives a crash once Commit returns. On error
// the temporary file is removed and the previous snapshot is left as it was.
func (w *Writer) Commit() error {
	var t [16]byte
	binary.LittleEndian.PutUint64(t[:], w.blocks)
	binary.LittleEndian.PutUint64(t[8:], w.records)
	w.block(End, t[:])
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("snapfile: %w", err)
		}
	}
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("snapfile: %w", err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("snapfile: %w", err)
	}
	if w.err == nil {
		if err := os.Rename(w.tmp, w.path); err != nil {
			w.err = fmt.Errorf("snapfile: %w", err)
		}
	}
	if w.err != nil {
		os.Remove(w.tmp)
		return w.err
	}
	return syncDir(filepath.Dir(w.path))
}

// Abort discards the snapshot being written.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapfile: sync %s: %w", dir, err)
	}
	return nil
}

// Info is what Verify learnt of a valid file.
type Info struct {
	Blocks, Records uint64
	Size            int64
}

// Verify reads the whole file at path and checks the header, every block's checksum and the
// trailer. A missing file is an error wrapping fs.ErrNotExist.
func Verify(path string) (Info, error) {
	var info Info
	err := read(path, func(Kind, []byte) error { return nil }, &info)
	return info, err
}

// Read streams the blocks of the file at path to fn in order (the trailer excluded), checking
// each as Verify does. payload is reused after fn returns. An error from fn stops the read and
// is returned as is. Run Verify first to refuse a bad file before acting on any block.
func Read(path string, fn func(k Kind, payload []byte) error) error {
	var info Info
	return read(path, fn, &info)
}

func read(path string, fn func(Kind, []byte) error, info *Info) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapfile: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var h [headerLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return fmt.Errorf("%w: short header: %v", ErrCorrupt, err)
	}
	if string(h[:len(Magic)]) != Magic {
		return fmt.Errorf("%w: bad magic %q", ErrCorrupt, h[:len(Magic)])
	}
	if v := binary.LittleEndian.Uint32(h[len(Magic):]); v != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrVersion, v, Version)
	}
	info.Size = int64(headerLen)
	var buf []byte
	for {
		var bh [blockHeaderLen]byte
		if _, err := io.ReadFull(br, bh[:]); err != nil {
			return fmt.Errorf("%w: no trailer after %d blocks (torn write?): %v", ErrCorrupt, info.Blocks, err)
		}
		k := Kind(bh[0])
		n := binary.LittleEndian.Uint32(bh[1:])
		if n > MaxBlock {
			return fmt.Errorf("%w: block %d claims %d bytes", ErrCorrupt, info.Blocks, n)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("%w: block %d truncated (torn write?): %v", ErrCorrupt, info.Blocks, err)
		}
		crc := crc32.Update(0, castagnoli, bh[:5])
		if crc32.Update(crc, castagnoli, buf) != binary.LittleEndian.Uint32(bh[5:]) {
			return fmt.Errorf("%w: block %d checksum mismatch at offset %d", ErrCorrupt, info.Blocks, info.Size)
		}
		info.Size += int64(blockHeaderLen) + int64(n)
		if k == End {
			if n != 16 || binary.LittleEndian.Uint64(buf) != info.Blocks {
				return fmt.Errorf("%w: trailer does not match %d blocks", ErrCorrupt, info.Blocks)
			}
			info.Records = binary.LittleEndian.Uint64(buf[8:])
			if _, err := br.ReadByte(); err != io.EOF {
				return fmt.Errorf("%w: data after the trailer", ErrCorrupt)
			}
			return nil
		}
		if k == 0 {
			return fmt.Errorf("%w: block %d has kind 0", ErrCorrupt, info.Blocks)
		}
		info.Blocks++
		if err := fn(k, buf); err != nil {
			return err
		}
	}
}
