package resp

import "sort"

// CommandNames lists the commands and subcommands geocache describes in COMMAND LIST, for the
// differential test to compare Redis's filtered lists on the commands both have.
func CommandNames() []string {
	names := make([]string, 0, len(commandData))
	for n := range commandData {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoopsSupported reports whether this platform serves connections with event loops.
const LoopsSupported = loopsSupported
