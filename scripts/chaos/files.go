package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"edge-agent/transport/filerecv"
)

// uploadSummary is what the received directory held at the end.
type uploadSummary struct {
	acked, present, doubtful  int // names acknowledged, files found, files holding an unconfirmed version
	temps, partials           int
	partialBytes, resumeBytes int64
}

// checkFiles compares the received directory with the ledger: every
// acknowledged upload is there with the SHA-256 of its latest
// acknowledged version (or of a later one sent in full whose answer was
// lost), and nothing else is, but the receiver's own temporary files.
func checkFiles(dir string, fa *fileAttacks, chk *checks) uploadSummary {
	var s uploadSummary
	s.resumeBytes = fa.resumeBytes.Load()
	led := fa.ledger
	led.mu.Lock()
	defer led.mu.Unlock()
	var lost, wrong, unexpected []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		chk.add("uploads kept", false, err.Error())
		return s
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		info, err := e.Info()
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, filerecv.ReservedPrefix+"partial-"):
			s.partials++
			s.partialBytes += info.Size()
			continue
		case strings.HasPrefix(name, filerecv.ReservedPrefix):
			s.temps++
			continue
		}
		rec, ok := led.files[name]
		if !ok || !e.Type().IsRegular() {
			unexpected = append(unexpected, fmt.Sprintf("%q (%d bytes)", name, info.Size()))
			continue
		}
		s.present++
		seen[name] = true
		sum, err := fileSHA256(filepath.Join(dir, name))
		switch {
		case err != nil:
			wrong = append(wrong, fmt.Sprintf("%s: %v", name, err))
		case sum == rec.acked:
		case slices.Contains(rec.doubt, sum):
			s.doubtful++
		default:
			// A partial or foreign body under a final name, or an older
			// version than the one acknowledged.
			wrong = append(wrong, fmt.Sprintf("%s holds %d bytes with SHA-256 %.12s…, never acknowledged last", name, info.Size(), sum))
		}
	}
	for name, rec := range led.files {
		if rec.acked == "" {
			continue
		}
		s.acked++
		if !seen[name] {
			lost = append(lost, name)
		}
	}
	// Names that would escape the directory.
	for _, p := range []string{filepath.Join(filepath.Dir(dir), "hostile-escape"), "/etc/hostile"} {
		if _, err := os.Lstat(p); err == nil {
			unexpected = append(unexpected, p+" (outside the directory)")
		}
	}
	slices.Sort(lost)
	chk.add("acknowledged uploads kept", len(lost) == 0 && len(wrong) == 0 && s.acked > 0,
		fmt.Sprintf("%d names acknowledged, %d present; missing %v; wrong %v", s.acked, s.present, limit(lost), limit(wrong)))
	chk.add("no partial or hostile file under a final name", len(unexpected) == 0,
		fmt.Sprintf("unexpected %v", limit(unexpected)))
	// Temporary files go once their upload ends; interrupted resumable
	// uploads are kept for their sender, and hold no more than was sent.
	chk.add("receiver's temporary files", s.temps == 0 && s.partialBytes <= s.resumeBytes,
		fmt.Sprintf("%d temporary files (want 0); %d kept resumable uploads holding %d bytes, of %d sent in cut resumable uploads",
			s.temps, s.partials, s.partialBytes, s.resumeBytes))
	return s
}

func limit(l []string) []string {
	if len(l) > 5 {
		return append(l[:5:5], fmt.Sprintf("and %d more", len(l)-5))
	}
	return l
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
