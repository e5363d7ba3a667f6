package resp

import (
	"context"
	"sort"
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

// cmdCommandList serves COMMAND LIST [FILTERBY PATTERN pattern]: command and subcommand names.
func cmdCommandList(_ context.Context, _ *Server, c *client, argv [][]byte) {
	pattern := ""
	switch {
	case len(argv) == 2:
	case len(argv) == 5 && equalFold(argv[2], "filterby") && equalFold(argv[3], "pattern"):
		pattern = strings.ToLower(string(argv[4]))
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	var names []string
	for name := range commandData {
		if pattern == "" || node.Match(pattern, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	c.out = appendArrayLen(c.out, len(names))
	for _, n := range names {
		c.out = appendBulkString(c.out, n)
	}
}
