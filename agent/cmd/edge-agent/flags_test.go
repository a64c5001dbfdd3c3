package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// testFlags is a flag set shaped like send's and echo's: bools, a string
// and a duration.
func testFlags() (*flag.FlagSet, *bool, *bool, *string, *time.Duration) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	udp := fs.Bool("udp", false, "")
	legacy := fs.Bool("legacy", false, "")
	as := fs.String("as", "", "")
	timeout := fs.Duration("timeout", time.Second, "")
	return fs, udp, legacy, as, timeout
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		operands []string
		udp      bool
		legacy   bool
		as       string
		timeout  time.Duration
		err      string
	}{
		{args: nil, operands: []string{}, timeout: time.Second},
		{args: []string{"host", "file"}, operands: []string{"host", "file"}, timeout: time.Second},
		{args: []string{"--as", "name", "host", "file"}, operands: []string{"host", "file"}, as: "name", timeout: time.Second},
		{args: []string{"host", "--as", "name", "file"}, operands: []string{"host", "file"}, as: "name", timeout: time.Second},
		{args: []string{"host", "file", "--as", "name"}, operands: []string{"host", "file"}, as: "name", timeout: time.Second},
		{args: []string{"host", "file", "-as=name"}, operands: []string{"host", "file"}, as: "name", timeout: time.Second},
		{args: []string{"host", "--as=a=b", "file"}, operands: []string{"host", "file"}, as: "a=b", timeout: time.Second},
		{args: []string{"host:1", "hi", "--udp"}, operands: []string{"host:1", "hi"}, udp: true, timeout: time.Second},
		{args: []string{"host:1", "-udp", "hi", "--timeout", "3s"}, operands: []string{"host:1", "hi"}, udp: true, timeout: 3 * time.Second},
		// A bool flag never takes the next argument.
		{args: []string{"--udp", "false", "host"}, operands: []string{"false", "host"}, udp: true, timeout: time.Second},
		{args: []string{"--udp=false", "host"}, operands: []string{"host"}, timeout: time.Second},
		// A value flag always does, even one that looks like a flag.
		{args: []string{"--as", "--udp", "host"}, operands: []string{"host"}, as: "--udp", timeout: time.Second},
		{args: []string{"--as", "--", "host"}, operands: []string{"host"}, as: "--", timeout: time.Second},
		{args: []string{"--as", "", "host"}, operands: []string{"host"}, timeout: time.Second},
		// "--" ends the flags; a lone "-" is an operand.
		{args: []string{"host", "--", "--as"}, operands: []string{"host", "--as"}, timeout: time.Second},
		{args: []string{"--legacy", "host", "--", "-", "--udp", "--"}, operands: []string{"host", "-", "--udp", "--"}, legacy: true, timeout: time.Second},
		{args: []string{"host", "-", "--legacy"}, operands: []string{"host", "-"}, legacy: true, timeout: time.Second},
		{args: []string{"--"}, operands: []string{}, timeout: time.Second},
		// The last of a repeated flag wins, wherever they are.
		{args: []string{"--as", "a", "host", "--as", "b"}, operands: []string{"host"}, as: "b", timeout: time.Second},
		// Bad input is the flag package's to report.
		{args: []string{"host", "--as"}, err: "flag needs an argument: -as"},
		{args: []string{"host", "file", "--timeout"}, err: "flag needs an argument: -timeout"},
		{args: []string{"host", "--bogus", "x"}, err: "flag provided but not defined: -bogus"},
		{args: []string{"host", "---as", "x"}, err: "bad flag syntax: ---as"},
		{args: []string{"host", "--=x"}, err: "bad flag syntax: --=x"},
		{args: []string{"host", "--timeout", "soon"}, err: `invalid value "soon" for flag -timeout`},
		{args: []string{"host", "--udp=maybe"}, err: `invalid boolean value "maybe" for -udp`},
		{args: []string{"host", "-h"}, err: "flag: help requested"},
		{args: []string{"--help", "host"}, err: "flag: help requested"},
		// A negative number is a flag, as in getopt: -- passes it.
		{args: []string{"host", "-5"}, err: "flag provided but not defined: -5"},
		{args: []string{"host", "--", "-5"}, operands: []string{"host", "-5"}, timeout: time.Second},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs, udp, legacy, as, timeout := testFlags()
			err := parseFlags(fs, tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fs.Args(), tc.operands) || *udp != tc.udp || *legacy != tc.legacy || *as != tc.as || *timeout != tc.timeout {
				t.Errorf("operands %q udp %v legacy %v as %q timeout %v; want %q %v %v %q %v",
					fs.Args(), *udp, *legacy, *as, *timeout, tc.operands, tc.udp, tc.legacy, tc.as, tc.timeout)
			}
		})
	}
}

func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"", "host\x00--as\x00name\x00file", "--\x00--as", "-\x00--udp\x00x", "--as", "--timeout\x001s\x00h", "--as=\x00-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var args []string
		if s != "" {
			args = strings.Split(s, "\x00")
		}
		if len(args) > 64 {
			return
		}
		fs, udp, legacy, as, timeout := testFlags()
		if parseFlags(fs, args) != nil {
			return
		}
		// The operands are arguments, in their order.
		rest := args
		for _, op := range fs.Args() {
			i := slices.Index(rest, op)
			if i < 0 {
				t.Fatalf("%q: operand %q is not among the arguments in order", args, op)
			}
			rest = rest[i+1:]
		}
		// Before a "--", every operand is "-" or does not start with '-'.
		if !slices.Contains(args, "--") {
			for _, op := range fs.Args() {
				if op != "-" && strings.HasPrefix(op, "-") {
					t.Fatalf("%q: %q taken for an operand", args, op)
				}
			}
		}
		// Parsing the flags alone, then "--" and the operands, gives the
		// same result: what the helper does is only a reordering.
		var again []string
		fs.Visit(func(f *flag.Flag) { again = append(again, "--"+f.Name+"="+f.Value.String()) })
		again = append(append(again, "--"), fs.Args()...)
		fs2, udp2, legacy2, as2, timeout2 := testFlags()
		if err := parseFlags(fs2, again); err != nil {
			t.Fatalf("%q: reordered as %q: %v", args, again, err)
		}
		if !slices.Equal(fs.Args(), fs2.Args()) || *udp != *udp2 || *legacy != *legacy2 || *as != *as2 || *timeout != *timeout2 {
			t.Fatalf("%q and %q parse differently", args, again)
		}
	})
}
