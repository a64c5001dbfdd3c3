package main

import (
	"fmt"
	"strings"
	"testing"
)

func sum(c byte) string { return strings.Repeat(string(c), 64) }

func listing(files map[string]string) string {
	var b strings.Builder
	for name, s := range files {
		fmt.Fprintf(&b, "%s  ./%s\n", s, name)
	}
	return b.String()
}

// What a boot after a cut may show, and what the check makes of it.
func TestLedgerCheck(t *testing.T) {
	tests := []struct {
		name     string
		entry    entry
		disk     string // "" = absent
		problems int
		want     totals
	}{
		{"acknowledged and there", entry{Acked: sum('a')}, sum('a'), 0, totals{Checked: 1}},
		{"acknowledged and lost", entry{Acked: sum('a')}, "", 1, totals{Lost: 1}},
		{"acknowledged, an older version back", entry{Acked: sum('b')}, sum('a'), 1, totals{Wrong: 1}},
		{"replacement cut mid-body, previous kept", entry{Acked: sum('a'), Cut: true}, sum('a'), 0, totals{Checked: 1, ReplacementsCut: 1}},
		{"replacement sent in full, published", entry{Acked: sum('a'), Doubt: []string{sum('b')}}, sum('b'), 0, totals{Checked: 1, DoubtKept: 1}},
		{"replacement sent in full, not published", entry{Acked: sum('a'), Doubt: []string{sum('b')}}, sum('a'), 0, totals{Checked: 1, ReplacementsCut: 1, DoubtGone: 1}},
		{"new file sent in full, published", entry{Doubt: []string{sum('b')}}, sum('b'), 0, totals{DoubtKept: 1}},
		{"new file sent in full, not published", entry{Doubt: []string{sum('b')}}, "", 0, totals{DoubtGone: 1}},
		{"new file cut mid-body, a part under its name", entry{}, sum('c'), 1, totals{Wrong: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.entry
			l := &ledger{Files: map[string]*entry{"f.bin": &e}}
			disk := map[string]string{}
			if tc.disk != "" {
				disk["f.bin"] = tc.disk
			}
			problems, err := l.check(strings.NewReader(listing(disk)))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Cuts = 1
			if len(problems) != tc.problems || l.Totals != tc.want {
				t.Errorf("problems %q, totals %+v; want %d problems, totals %+v", problems, l.Totals, tc.problems, tc.want)
			}
			// The ledger now stands on what the disk holds.
			if got := l.Files["f.bin"]; tc.disk != "" && (got == nil || got.Acked != tc.disk || got.Doubt != nil || got.Cut) {
				t.Errorf("settled on %+v, want %s", got, tc.disk[:8])
			}
		})
	}
}

func TestLedgerCheckUnexpected(t *testing.T) {
	l := &ledger{Files: map[string]*entry{}}
	problems, err := l.check(strings.NewReader(listing(map[string]string{
		"never-sent.bin":      sum('a'),
		".edge-tmp-123456789": sum('b'),
	})))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 || l.Totals.Unexpected != 2 || !strings.Contains(strings.Join(problems, "\n"), "temporary file") {
		t.Errorf("problems %q, totals %+v", problems, l.Totals)
	}
}

func TestReadListingRefusesOtherOutput(t *testing.T) {
	for _, in := range []string{
		"sha256sum: ./x: Permission denied\n",
		sum('a') + " ./one-space\n",
		"abc  ./short-sum\n",
		"\n",
	} {
		if _, err := readListing(strings.NewReader(in)); err == nil {
			t.Errorf("%q read as a listing", in)
		}
	}
	got, err := readListing(strings.NewReader(sum('a') + "  ./a b.bin\n"))
	if err != nil || got["a b.bin"] != sum('a') {
		t.Errorf("%v, %v", got, err)
	}
}

func FuzzReadListing(f *testing.F) {
	f.Add(sum('a') + "  ./x.bin\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, in string) {
		files, err := readListing(strings.NewReader(in))
		if err != nil {
			return
		}
		for name, s := range files {
			if len(s) != 64 {
				t.Errorf("%q -> %q with sum %q", in, name, s)
			}
		}
	})
}
