package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes devices as a table for a person. Every string in it
// came from a device (the id from its topic, the rest from its retained
// state), so each goes through Printable: an escape sequence in a version
// must not retitle or clear the operator's terminal, a tab must not shift
// the columns, U+202E must not reverse the rest of the line.
func WriteTable(w io.Writer, devices []Device) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATUS\tVERSION\tUPTIME\tIP\tCPU TEMP\tLAST STATE")
	for _, d := range devices {
		status := "offline"
		if d.Online {
			status = "online"
		}
		temp := "-"
		if d.CPUTempC != nil {
			temp = fmt.Sprintf("%.1f °C", *d.CPUTempC)
		}
		last := "-"
		if !d.LastState.IsZero() {
			last = d.LastState.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(d.ID), status, cell(d.Version),
			(time.Duration(d.UptimeS) * time.Second).String(), cell(d.IP), temp, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(devices) == 0 {
		_, err := fmt.Fprintln(w, "(no devices on this broker under this prefix)")
		return err
	}
	return nil
}

// WriteJSON writes devices as one JSON array on one line. The strings keep
// their values (a reader decodes exactly what the device sent, invalid
// UTF-8 aside, which encoding/json replaces with U+FFFD); controls, bidi
// and other format characters are \u escapes, never raw bytes.
func WriteJSON(w io.Writer, devices []Device) error { return writeJSONLine(w, devices) }

// WriteRunJSON writes the answers of Run as one JSON array on one line,
// its strings escaped as WriteJSON's. A device that did not answer has
// answered false, and the reason in error when there is one.
func WriteRunJSON(w io.Writer, answers []Answer) error { return writeJSONLine(w, answers) }

// writeJSONLine writes items as one JSON array ([] for none) on one line,
// escaped by jsonPrintable.
func writeJSONLine[T any](w io.Writer, items []T) error {
	if items == nil {
		items = []T{}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", jsonPrintable(b))
	return err
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return Printable(s)
}

// WriteRunTable writes the answers of Run for a person: the device, the
// result (ok, failed, or no answer within waited) and a detail, the first
// line of the output or the code and the device's message. Everything a
// device sent goes through Printable, as in WriteTable.
func WriteRunTable(w io.Writer, answers []Answer, waited time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tRESULT\tDETAIL")
	for _, a := range answers {
		result, detail := "ok", a.FirstLine
		switch {
		case !a.Answered && a.Error != "":
			result, detail = "no answer", a.Error
		case !a.Answered:
			result, detail = "no answer", "no reply within "+waited.String()
		case !a.OK:
			result, detail = "failed", a.Code+": "+firstLine(a.Error)
			if a.FirstLine != "" {
				detail += " | " + a.FirstLine
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cell(a.Device), result, cell(detail))
	}
	return tw.Flush()
}
