package agent

import (
	"bytes"
	"encoding"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Variable describes one EDGE_ variable.
type Variable struct {
	Name    string // e.g. EDGE_ECHO_ADDR
	Default string
	Value   string // the value in the Config it was read from; "(set)" for secrets
	Meaning string
	Accepts string
	Secret  bool
	// Optional marks a variable whose empty default means something.
	Optional bool
}

// Variables lists every variable of c in declaration order. Names are
// taken from envconfig itself so they cannot drift from what it reads.
func Variables(c Config) []Variable {
	var keys bytes.Buffer
	if err := envconfig.Usagef(Prefix, &c, &keys, "{{range .}}{{.Key}}\n{{end}}"); err != nil {
		panic(fmt.Sprintf("agent: config struct: %v", err)) // a programming error, caught by tests
	}
	names := strings.Fields(keys.String())
	var vars []Variable
	walkLeaves(reflect.ValueOf(c), func(f reflect.StructField, v reflect.Value) {
		vars = append(vars, Variable{
			Default:  f.Tag.Get("default"),
			Value:    formatValue(v),
			Meaning:  f.Tag.Get("desc"),
			Accepts:  accepts(f),
			Secret:   f.Tag.Get("secret") == "true",
			Optional: f.Tag.Get("optional") == "true" || f.Tag.Get("secret") == "true",
		})
	})
	if len(names) != len(vars) {
		panic(fmt.Sprintf("agent: envconfig sees %d variables, the walk %d", len(names), len(vars)))
	}
	for i := range vars {
		vars[i].Name = names[i]
		if vars[i].Secret && vars[i].Value != "" {
			vars[i].Value = "(set)"
		}
	}
	return vars
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// walkLeaves visits the fields envconfig fills, as envconfig orders them.
func walkLeaves(v reflect.Value, visit func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			walkLeaves(fv, visit)
			continue
		}
		visit(f, fv)
	}
}

func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case slog.Level:
		return strings.ToLower(x.String())
	case time.Duration:
		return formatDuration(x)
	case encoding.TextMarshaler:
		b, _ := x.MarshalText()
		return string(b)
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration drops the zero units time.Duration.String adds: 5m, not 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func accepts(f reflect.StructField) string {
	if a := f.Tag.Get("accepts"); a != "" {
		return a
	}
	switch {
	case strings.HasSuffix(f.Name, "Addr"):
		return "host:port, :port (all interfaces), or off"
	case f.Type == reflect.TypeFor[time.Duration]():
		return "a duration such as 500ms, 30s, 5m, 1h"
	case f.Type == reflect.TypeFor[ByteSize]():
		return "a size in bytes, with an optional unit: 64MiB, 2GiB, 100MB"
	}
	switch f.Type.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "text"
}

// PrintVariables writes the variables as an aligned table for a terminal.
func PrintVariables(w io.Writer, vars []Variable) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tCURRENT\tMEANING")
	for _, v := range vars {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s; accepts: %s\n", v.Name, orDash(v.Default), orDash(v.Value), v.Meaning, v.Accepts)
	}
	return tw.Flush()
}

// MarkdownVariables writes the table the README carries.
func MarkdownVariables(w io.Writer, vars []Variable) error {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning | Accepts |\n|---|---|---|---|\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, code(v.Default), v.Meaning, v.Accepts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func code(s string) string {
	if s == "" {
		return "(empty)"
	}
	return "`" + s + "`"
}
