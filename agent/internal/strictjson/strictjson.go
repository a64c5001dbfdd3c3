// Package strictjson reads a JSON object from outside input the strict
// way: where JSON decoders differ (a key given twice, data after the
// object), it refuses instead of choosing, so that what the agent acts on
// is what any other reader of the same bytes would see.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Object reads data as one JSON object and nothing after it but white
// space, calling value for each key with dec positioned at the key's
// value, which value must consume exactly (dec.Decode, or dec.Token for
// each token of it). A key that repeats is an error: decoders disagree on
// which of two wins. Numbers are json.Number, so value sees an integer's
// exact digits. The first error of value is returned as it is; the
// others say what is wrong in words a person can act on.
func Object(data []byte, value func(key string, dec *json.Decoder) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	} else if t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		key, ok := t.(string)
		if !ok {
			return errors.New("not JSON: a key is not a string")
		}
		if seen[key] {
			return fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		if err := value(key, dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
