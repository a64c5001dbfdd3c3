package fleet

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteUpdateTable writes the statuses of an update as a table: device,
// from → to, state and how long the update took (or has run so far, at
// now). Everything a device sent goes through Printable, as in WriteTable.
func WriteUpdateTable(w io.Writer, statuses []UpdateStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tVERSION\tSTATE\tTIME")
	for _, s := range statuses {
		fmt.Fprintf(tw, "%s\t%s → %s\t%s\t%s\n", cell(s.Device), cell(s.From), cell(s.To), cell(s.State()), elapsedText(s.Elapsed(now), s.Sent))
	}
	return tw.Flush()
}

// WriteUpdateLine writes one change of an update's phase as a line:
// "pi-1: downloading (0.4s)", the time since the command was sent.
func WriteUpdateLine(w io.Writer, s UpdateStatus) error {
	line := cell(s.Device) + ": " + cell(s.State())
	if !s.Sent.IsZero() {
		line += " (" + elapsedText(s.Changed.Sub(s.Sent), s.Sent) + ")"
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func elapsedText(d time.Duration, sent time.Time) string {
	switch {
	case sent.IsZero():
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", max(d, 0).Seconds())
	}
	return d.Round(time.Second).String()
}

// UpdateView shows an update as it runs. On a terminal it redraws the
// table in place at each call; elsewhere it writes a line per change of
// phase, and the table once at the end.
type UpdateView struct {
	W   io.Writer
	TTY bool
	// Now is the clock of the durations; nil means time.Now.
	Now func() time.Time

	drawn int // lines of the table last drawn on the terminal
}

// Progress is UpdateOptions.Progress.
func (v *UpdateView) Progress(changes, all []UpdateStatus) {
	if v.TTY {
		v.redraw(all)
		return
	}
	for _, c := range changes {
		WriteUpdateLine(v.W, c)
	}
}

// Final shows the statuses as an update ended.
func (v *UpdateView) Final(all []UpdateStatus) {
	if v.TTY {
		v.redraw(all)
		return
	}
	WriteUpdateTable(v.W, all, v.now())
}

func (v *UpdateView) redraw(all []UpdateStatus) {
	var b bytes.Buffer
	if v.drawn > 0 {
		// Back to the table's first line, and clear from there down.
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", v.drawn)
	}
	var table strings.Builder
	WriteUpdateTable(&table, all, v.now())
	b.WriteString(table.String())
	v.drawn = strings.Count(table.String(), "\n")
	v.W.Write(b.Bytes())
}

func (v *UpdateView) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
