package resp

import (
	"context"

	"github.com/geocache/geocache/node/resp/internal/rdb"
)

// FUNCTION DUMP and FUNCTION RESTORE use Redis's payload format, so a dump moves between
// geocache and Redis 7.0 both ways: per library the RDB opcode FUNCTION2 (245) and the code as
// an RDB string, then the RDB version (2 bytes, little-endian) and the CRC-64 (Jones, as Redis
// computes it) of everything before, little-endian: package rdb's footer, as DUMP's. geocache
// writes strings uncompressed and reads LZF-compressed ones, which Redis writes for code over 20
// bytes.

const (
	rdbOpFunction2 = 245
	errBadPayload  = "ERR DUMP payload version or checksum are wrong"
)

func cmdFunctionDump(_ context.Context, s *Server, c *client, _ [][]byte) {
	var p []byte
	for _, lib := range s.funcs.list() {
		p = append(p, rdbOpFunction2)
		p = rdb.AppendLen(p, uint64(len(lib.code)))
		p = append(p, lib.code...)
	}
	c.out = appendBulk(c.out, rdb.Finish(p))
}

// cmdFunctionRestore serves FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all libraries of
// the payload are loaded or none.
func cmdFunctionRestore(ctx context.Context, s *Server, c *client, argv [][]byte) {
	policy := "append"
	switch {
	case len(argv) > 4:
		c.out = appendError(c.out, "ERR unknown subcommand or wrong number of arguments for '"+string(argv[1])+"'. Try FUNCTION HELP.")
		return
	case len(argv) == 4:
		switch {
		case equalFold(argv[3], "flush"), equalFold(argv[3], "append"), equalFold(argv[3], "replace"):
			policy = string(lowerASCII(argv[3]))
		default:
			c.out = appendError(c.out, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
			return
		}
	}
	codes, ok := parseFunctionPayload(argv[2])
	if !ok {
		c.out = appendError(c.out, errBadPayload)
		return
	}
	libs := make([]*library, 0, len(codes))
	for _, code := range codes {
		lib, msg := compileLibrary(ctx, code)
		if msg != "" {
			c.out = appendError(c.out, msg)
			return
		}
		libs = append(libs, lib)
	}
	var msg string
	if policy == "flush" {
		msg = s.funcs.replaceAll(libs)
	} else {
		msg = s.funcs.add(libs, policy == "replace", true)
	}
	if msg != "" {
		c.out = appendError(c.out, msg)
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

// parseFunctionPayload checks the footer of a FUNCTION DUMP payload as Redis's
// verifyDumpPayload does (rdb.Verify) and returns the libraries' code.
func parseFunctionPayload(p []byte) ([]string, bool) {
	body, err := rdb.Verify(p)
	if err != nil {
		return nil, false
	}
	var codes []string
	for len(body) > 0 {
		if body[0] != rdbOpFunction2 {
			return nil, false
		}
		code, rest, err := rdb.ReadString(body[1:])
		if err != nil {
			return nil, false
		}
		codes, body = append(codes, string(code)), rest
	}
	return codes, true
}
