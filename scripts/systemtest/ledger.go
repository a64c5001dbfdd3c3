package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"edge-agent/transport/filerecv"
)

// ledger is what the uploaders were told across power cuts, kept in a
// file between the driver's runs: for each name, the SHA-256 of the
// version the agent last acknowledged, and the versions sent in full
// since whose answer never came (the power went first), which the agent
// may or may not have published.
type ledger struct {
	mu     sync.Mutex
	Files  map[string]*entry `json:"files"`
	Totals totals            `json:"totals"`
}

type entry struct {
	Acked string   `json:"acked,omitempty"` // hex SHA-256 of the latest acknowledged version
	Doubt []string `json:"doubt,omitempty"` // versions sent in full since, with no answer
	// Cut: a replacement of Acked was under way (not all of its body
	// sent) when the power went, so the previous version must stand
	// (with Doubt, it may have been replaced by one of those).
	Cut bool `json:"cut,omitempty"`
}

// totals are summed over every check of a run.
type totals struct {
	Cuts             int `json:"cuts"`
	Acks             int `json:"acks"`              // acknowledgements received
	Checked          int `json:"checked"`           // acknowledged uploads found intact, summed over the checks
	Lost             int `json:"lost"`              // acknowledged uploads missing after a cut
	Wrong            int `json:"wrong"`             // files holding a version never acknowledged nor sent in full
	Unexpected       int `json:"unexpected"`        // names never sent, or left-over temporary files
	ReplacementsCut  int `json:"replacements_cut"`  // replacements the cut interrupted that left the previous version intact
	DoubtKept        int `json:"doubt_kept"`        // versions sent in full, unanswered, found published
	DoubtGone        int `json:"doubt_gone"`        // versions sent in full, unanswered, not published
	InFlightAtCut    int `json:"in_flight_at_cut"`  // uploads the power cut interrupted
	BytesAcked       int `json:"bytes_acked"`       // bytes of acknowledged uploads
	NewFiles         int `json:"new_files"`         // first versions acknowledged
	ReplacementsDone int `json:"replacements_done"` // replacements acknowledged
}

func loadLedger(path string) (*ledger, error) {
	l := &ledger{Files: map[string]*entry{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	if l.Files == nil {
		l.Files = map[string]*entry{}
	}
	return l, nil
}

// save writes the ledger through a temporary file, so a driver stopped
// while saving leaves the previous ledger.
func (l *ledger) save(path string) error {
	l.mu.Lock()
	b, err := json.MarshalIndent(l, "", " ")
	l.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (l *ledger) get(name string) *entry {
	e, ok := l.Files[name]
	if !ok {
		e = &entry{}
		l.Files[name] = e
	}
	return e
}

func (l *ledger) ack(name, sum string, size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(name)
	if e.Acked == "" {
		l.Totals.NewFiles++
	} else {
		l.Totals.ReplacementsDone++
	}
	e.Acked, e.Doubt, e.Cut = sum, nil, false
	l.Totals.Acks++
	l.Totals.BytesAcked += size
}

// interrupted records an upload the power cut stopped: full says every
// byte of its body went out, so the agent may have published it.
func (l *ledger) interrupted(name, sum string, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(name)
	l.Totals.InFlightAtCut++
	if full {
		e.Doubt = append(e.Doubt, sum)
	} else if e.Acked != "" {
		e.Cut = true
	}
}

// readListing parses sha256sum output: "<hex>  ./<name>" per line.
func readListing(listing io.Reader) (map[string]string, error) {
	disk := map[string]string{}
	sc := bufio.NewScanner(listing)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("listing: unexpected line %q", sc.Text())
		}
		disk[strings.TrimPrefix(name, "./")] = sum
	}
	return disk, sc.Err()
}

// adopt takes what the listing shows as acknowledged: the files earlier
// steps left, before the first cut.
func (l *ledger) adopt(listing io.Reader) error {
	disk, err := readListing(listing)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, sum := range disk {
		l.get(name).Acked = sum
	}
	return nil
}

// check compares the listing of the received directory (sha256sum
// output: "<hex>  ./<name>" per line) with the ledger, counts what it
// finds into the totals and settles the ledger on what is on disk now.
// It returns the problems found.
func (l *ledger) check(listing io.Reader) ([]string, error) {
	disk, err := readListing(listing)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Totals.Cuts++
	var problems []string
	for name, sum := range disk {
		if _, ok := l.Files[name]; !ok {
			l.Totals.Unexpected++
			what := "a name never sent"
			if strings.HasPrefix(name, filerecv.ReservedPrefix) {
				what = "a temporary file left after the agent started"
			}
			problems = append(problems, fmt.Sprintf("%s: %s (sha256 %.12s…)", name, what, sum))
		}
	}
	for name, e := range l.Files {
		sum, present := disk[name]
		doubt := present && slices.Contains(e.Doubt, sum)
		switch {
		case e.Acked != "" && !present:
			l.Totals.Lost++
			problems = append(problems, fmt.Sprintf("%s: acknowledged (sha256 %.12s…) and lost", name, e.Acked))
		case e.Acked != "" && sum == e.Acked:
			l.Totals.Checked++
			if e.Cut || len(e.Doubt) > 0 {
				l.Totals.ReplacementsCut++
			}
		case doubt:
			if e.Acked != "" {
				l.Totals.Checked++ // replaced by a later version sent in full
			}
			l.Totals.DoubtKept++
		case present:
			l.Totals.Wrong++
			problems = append(problems, fmt.Sprintf("%s: holds sha256 %.12s…, not the acknowledged version (%.12s…) nor one sent in full", name, sum, e.Acked))
		}
		if !doubt {
			l.Totals.DoubtGone += len(e.Doubt)
		} else {
			l.Totals.DoubtGone += len(e.Doubt) - 1
		}
		// What stands after a boot is the new baseline.
		if present {
			e.Acked, e.Doubt, e.Cut = sum, nil, false
		} else if e.Acked == "" {
			delete(l.Files, name)
		} else {
			e.Doubt, e.Cut = nil, false
		}
	}
	slices.Sort(problems)
	return problems, nil
}
