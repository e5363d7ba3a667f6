package resp

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/geocache/geocache/node"
)

//go:generate go run ./internal/gencommands -o commands_data.go

// commandMeta is Redis's own description of a command, captured from redis-server by
// gencommands so that COMMAND replies (which redis-cli uses for hints and help) match Redis.
type commandMeta struct {
	info2, info3 string // the command's element of COMMAND INFO
	docs2, docs3 string // the command's name and value in COMMAND DOCS
}

func (m commandMeta) info(proto int) string {
	if proto == 3 {
		return m.info3
	}
	return m.info2
}

func (m commandMeta) docs(proto int) string {
	if proto == 3 {
		return m.docs3
	}
	return m.docs2
}

// topCommands lists the top-level commands that have metadata, sorted.
func topCommands() []string {
	var names []string
	for name := range commandData {
		if !strings.Contains(name, "|") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// cmdCommand serves COMMAND without a subcommand: every command's info.
func cmdCommand(_ context.Context, _ *Server, c *client, _ [][]byte) {
	names := topCommands()
	c.out = appendArrayLen(c.out, len(names))
	for _, n := range names {
		c.out = append(c.out, commandData[n].info(c.proto)...)
	}
}

func cmdCommandCount(_ context.Context, _ *Server, c *client, _ [][]byte) {
	c.out = appendInt(c.out, int64(len(topCommands())))
}

func cmdCommandInfo(_ context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) == 2 {
		cmdCommand(context.Background(), s, c, argv)
		return
	}
	c.out = appendArrayLen(c.out, len(argv)-2)
	for _, a := range argv[2:] {
		m, ok := commandData[strings.ToLower(string(a))]
		if !ok {
			c.out = appendNull(c.out, c.proto)
			continue
		}
		c.out = append(c.out, m.info(c.proto)...)
	}
}

func cmdCommandDocs(_ context.Context, _ *Server, c *client, argv [][]byte) {
	var found []commandMeta
	if len(argv) == 2 {
		for _, n := range topCommands() {
			found = append(found, commandData[n])
		}
	} else {
		for _, a := range argv[2:] {
			if m, ok := commandData[strings.ToLower(string(a))]; ok {
				found = append(found, m)
			}
		}
	}
	c.out = appendMapLen(c.out, len(found), c.proto)
	for _, m := range found {
		c.out = append(c.out, m.docs(c.proto)...)
	}
}

// cmdCommandList serves COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]:
// command and subcommand names, parsed as Redis 7.0's commandListCommand does (the last filter
// given wins).
func cmdCommandList(_ context.Context, _ *Server, c *client, argv [][]byte) {
	var keep func(name string) bool
	for i := 2; i < len(argv); i += 3 {
		if !equalFold(argv[i], "filterby") || len(argv)-1-i != 2 {
			c.out = appendError(c.out, errSyntax)
			return
		}
		arg := string(argv[i+2])
		switch {
		case equalFold(argv[i+1], "module"):
			keep = func(string) bool { return false } // geocache loads no modules
		case equalFold(argv[i+1], "aclcat"):
			cat := "@" + strings.ToLower(arg)
			keep = func(name string) bool { return slices.Contains(aclCategories(commandData[name].info2), cat) }
		case equalFold(argv[i+1], "pattern"):
			pattern := strings.ToLower(arg)
			keep = func(name string) bool { return node.Match(pattern, name) }
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	var names []string
	for name := range commandData {
		if keep == nil || keep(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	c.out = appendArrayLen(c.out, len(names))
	for _, n := range names {
		c.out = appendBulkString(c.out, n)
	}
}

// aclCategories reads the ACL categories ("@read", ...) from a command's RESP2 COMMAND INFO
// element: its seventh field, an array of simple strings.
func aclCategories(info string) []string {
	r := respReader{s: info}
	if n, ok := r.header('*'); !ok || n < 7 {
		return nil
	}
	for range 6 {
		if !r.skip() {
			return nil
		}
	}
	n, ok := r.header('*')
	if !ok {
		return nil
	}
	cats := make([]string, 0, n)
	for range n {
		line, ok := r.line()
		if !ok || !strings.HasPrefix(line, "+") {
			return nil
		}
		cats = append(cats, line[1:])
	}
	return cats
}

// respReader walks a well-formed RESP2 reply held in a string.
type respReader struct {
	s   string
	pos int
}

func (r *respReader) line() (string, bool) {
	i := strings.Index(r.s[r.pos:], "\r\n")
	if i < 0 {
		return "", false
	}
	l := r.s[r.pos : r.pos+i]
	r.pos += i + 2
	return l, len(l) > 0
}

// header reads an aggregate or bulk header of type kind and returns its count.
func (r *respReader) header(kind byte) (int, bool) {
	l, ok := r.line()
	if !ok || l[0] != kind {
		return 0, false
	}
	n, err := strconv.Atoi(l[1:])
	return n, err == nil
}

// skip passes over one element.
func (r *respReader) skip() bool {
	l, ok := r.line()
	if !ok {
		return false
	}
	n, _ := strconv.Atoi(l[1:])
	switch l[0] {
	case '+', '-', ':':
		return true
	case '$':
		if n >= 0 {
			r.pos += n + 2
		}
		return r.pos <= len(r.s)
	case '*':
		for range n {
			if !r.skip() {
				return false
			}
		}
		return true
	}
	return false
}
