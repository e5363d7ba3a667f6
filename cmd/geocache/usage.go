package main

import (
	"fmt"
	"io"
	"strings"
)

// usage writes the grouped --help text.
func usage(w io.Writer) {
	fmt.Fprint(w, `geocache: a geo-distributed, multi-master LRU cache speaking the Redis protocol and HTTP.

Usage:
  geocache [flags]

With no flags it starts a single node in memory on this machine only: RESP on 127.0.0.1:6379,
HTTP on 127.0.0.1:8080. Every flag can also be set with the environment variable shown (lists
comma-separated; an empty variable counts as unset, except for the listen addresses, which it
disables) or in a YAML file given with --config, whose keys are the flag names. Flags override
the environment, which overrides the file.
`)
	def := defaultConfig()
	opts := options()
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, o := range opts {
			if o.group != g {
				continue
			}
			left := "  --" + o.name
			if o.arg != "" {
				left += " " + o.arg
			}
			fmt.Fprintf(w, "%-34s %s", left, o.help)
			if d := o.get(&def); d != "" && d != "0" && d != "0s" && d != "false" {
				fmt.Fprintf(w, " (default %s)", d)
			}
			if o.list {
				fmt.Fprint(w, "; repeatable")
			}
			fmt.Fprintf(w, "\n%-34s env %s\n", "", envName(o.name))
		}
	}
	fmt.Fprintf(w, "\nOther:\n  %-32s %s\n  %-32s %s\n", "--help", "show this help", "--version", "print the version")
	fmt.Fprint(w, "\n"+strings.TrimLeft(`
Signals: SIGINT or SIGTERM stop accepting connections, finish requests in flight, leave the
cluster and exit 0 within --shutdown-timeout; a second signal exits at once.
`, "\n"))
}
