package main

import (
	"flag"
	"strings"
)

// parseFlags parses args with fs, taking flags before, between and after
// the operands, as users of scp, curl and GNU tools expect:
// `send HOST --as NAME FILE`. A flag that takes a value takes the next
// argument unless written --name=value; a bool flag never does (--udp
// false is the flag and an operand). "--" ends the flags, so `-- --as`
// is an operand, and a lone "-" is always one. The operands keep their
// order, and so do the flags (the last of a repeated flag wins).
func parseFlags(fs *flag.FlagSet, args []string) error {
	var flags, operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(a[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) {
			// An unknown flag is the flag package's to report.
			continue
		}
		if i+1 == len(args) {
			// Parsed alone, the flag package reports the missing value
			// instead of taking the "--" below for it.
			return fs.Parse(flags)
		}
		i++
		flags = append(flags, args[i])
	}
	return fs.Parse(append(append(flags, "--"), operands...))
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
