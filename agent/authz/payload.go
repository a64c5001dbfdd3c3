package authz

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hiddeco/sshsig"

	"edge-agent/agent/internal/strictjson"
)

// MaxPayload is the largest message a signed command may arrive in.
const MaxPayload = 16 << 10

// Namespace is the SSHSIG namespace of commands: ssh-keygen -Y sign -n
// edge-agent. A signature made for another purpose (git commits, files)
// never verifies as a command.
const Namespace = "edge-agent"

// Payload is the message on a cmd/<action> topic in signed mode.
type Payload struct {
	// Command is the signed text, exactly the bytes that were signed.
	Command string `json:"command"`
	// Signature is the armored SSHSIG signature, as ssh-keygen -Y sign
	// writes it.
	Signature string `json:"signature"`
}

// Marshal returns the payload as JSON.
func (p Payload) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("authz: payload: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParsePayload reads a signed-mode message: at most MaxPayload bytes, one
// JSON object with exactly the string keys command and signature. It does
// not look inside them. Errors are *Refusal with reason Malformed.
func ParsePayload(data []byte) (Payload, error) {
	var p Payload
	if len(data) > MaxPayload {
		return p, Refuse(Malformed, "payload is %d bytes, over the limit of %d", len(data), MaxPayload)
	}
	if !utf8.Valid(data) {
		return p, Refuse(Malformed, "payload is not UTF-8")
	}
	var seen int
	err := strictjson.Object(data, func(key string, dec *json.Decoder) error {
		var err error
		switch key {
		case "command":
			p.Command, err = readString(dec)
		case "signature":
			p.Signature, err = readString(dec)
		default:
			return fmt.Errorf("unknown key %q; a signed command is {\"command\": ..., \"signature\": ...}", key)
		}
		seen++
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err == nil && seen != 2 {
		err = errors.New(`a signed command is {"command": ..., "signature": ...}`)
	}
	if err != nil {
		return Payload{}, Refuse(Malformed, "payload: %v", err)
	}
	return p, nil
}

const (
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
)

// ParseSignature reads an armored SSHSIG signature: one block between
// -----BEGIN SSH SIGNATURE----- and -----END SSH SIGNATURE----- lines, of
// base64 lines without headers, with nothing but white space around it.
// Errors are *Refusal with reason Malformed.
func ParseSignature(armored string) (*sshsig.Signature, error) {
	s := strings.TrimSpace(armored)
	body, ok := strings.CutPrefix(s, armorBegin)
	if !ok {
		return nil, Refuse(Malformed, "signature does not start with %s", armorBegin)
	}
	body, ok = strings.CutSuffix(body, armorEnd)
	if !ok {
		return nil, Refuse(Malformed, "signature does not end with %s", armorEnd)
	}
	var b64 strings.Builder
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.ContainsAny(line, ":-") {
			return nil, Refuse(Malformed, "signature: more than one block, or headers, in the armor")
		}
		b64.WriteString(line)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		return nil, Refuse(Malformed, "signature: bad base64 in the armor")
	}
	sig, err := sshsig.ParseSignature(raw)
	if err != nil {
		return nil, Refuse(Malformed, "signature: %v", err)
	}
	return sig, nil
}
