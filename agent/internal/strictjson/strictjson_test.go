package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// raw reads every value whole, keeping the keys in order, as the
// parsers that use Object do.
func raw(data []byte) ([]string, map[string]json.RawMessage, error) {
	var keys []string
	m := map[string]json.RawMessage{}
	err := Object(data, func(key string, dec *json.Decoder) error {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		keys = append(keys, key)
		m[key] = v
		return nil
	})
	return keys, m, err
}

func TestObject(t *testing.T) {
	keys, m, err := raw([]byte(" {\"b\":[1,{\"x\":2}],\"a\":\"\\u00e9\",\"c\":null, \"n\":-1.5e3}\n\t"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "b,a,c,n" || string(m["a"]) != `"\u00e9"` || string(m["b"]) != `[1,{"x":2}]` || string(m["n"]) != "-1.5e3" {
		t.Errorf("keys %v, values %q", keys, m)
	}
	if _, m, err := raw([]byte(`{}`)); err != nil || len(m) != 0 {
		t.Errorf("empty object: %v %v", m, err)
	}
}

// A number reaches value as its digits, not as a float64 that rounds.
func TestObjectNumbers(t *testing.T) {
	var got any
	err := Object([]byte(`{"n":9223372036854775807}`), func(key string, dec *json.Decoder) error {
		var err error
		got, err = dec.Token()
		return err
	})
	if n, ok := got.(json.Number); err != nil || !ok || n.String() != "9223372036854775807" {
		t.Errorf("got %T %v, %v", got, got, err)
	}
}

func TestObjectRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "not JSON"},
		{"white space", " \n", "not JSON"},
		{"array", `[]`, "not a JSON object"},
		{"string", `"{}"`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"number", `1`, "not a JSON object"},
		{"repeated key", `{"a":1,"b":2,"a":1}`, `key "a" appears twice`},
		{"repeated key, other spelling", `{"a":1,"\u0061":2}`, `key "a" appears twice`},
		{"object after", `{"a":1}{"a":2}`, "data after the JSON object"},
		{"value after", `{"a":1} 2`, "data after the JSON object"},
		{"garbage after", `{"a":1} x`, "data after the JSON object"},
		{"unterminated", `{"a":1`, "not JSON"},
		{"unterminated key", `{"a`, "not JSON"},
		{"no value", `{"a"}`, "not JSON"},
		{"no colon", `{"a" 1}`, "not JSON"},
		{"trailing comma", `{"a":1,}`, "not JSON"},
		{"wrong close", `{"a":1]`, "not JSON"},
		{"bare word", `{"a":tru}`, "not JSON"},
		{"number key", `{1:2}`, "not JSON"},
		{"single quotes", `{'a':1}`, "not JSON"},
		{"comment", `{"a":1 /* x */}`, "not JSON"},
	} {
		if _, _, err := raw([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q gives %v, want %q", tc.name, tc.in, err, tc.want)
		}
	}
}

// The first error of value ends the walk and is returned unchanged.
func TestObjectValueError(t *testing.T) {
	stop := errors.New("unknown key")
	var seen []string
	err := Object([]byte(`{"a":1,"b":2,"c":3}`), func(key string, dec *json.Decoder) error {
		seen = append(seen, key)
		if key == "b" {
			return stop
		}
		var v any
		return dec.Decode(&v)
	})
	if err != stop || strings.Join(seen, ",") != "a,b" {
		t.Errorf("err %v after %v", err, seen)
	}
}

// FuzzObject: no input panics the reader, and what it accepts is one
// valid JSON object whose keys are all different and that
// encoding/json reads with the same keys and values.
func FuzzObject(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,{"c":"d"}]}`, `{"a":1,"a":2}`, `{"a":1}{}`, `{"\u0061":1,"a":2}`,
		`{}`, `[]`, ``, `{"a":1e400}`, "{\"\xff\":1}", `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, m, err := raw(in)
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if len(keys) != len(m) {
			t.Fatalf("%q: keys %v repeat", in, keys)
		}
		var std map[string]json.RawMessage
		if err := json.Unmarshal(in, &std); err != nil || len(std) != len(m) {
			t.Fatalf("%q: encoding/json reads %v (%v), Object %v", in, std, err, m)
		}
		for k, v := range m {
			if string(std[k]) != string(v) {
				t.Fatalf("%q: key %q is %s, encoding/json reads %s", in, k, v, std[k])
			}
		}
	})
}
