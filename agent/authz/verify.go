package authz

import (
	"bytes"
	"sync/atomic"
)

// Verify checks a signed-mode payload: its size and shape, that its
// signature is by a key in keys, for Namespace, over the exact bytes of the
// command, and that the command names deviceID and action. It returns the
// command and the key that signed it. It does not look at replay counters
// (Verifier.Authorize does). Errors are *Refusal with reason Malformed,
// UnknownKey, BadSignature, WrongDevice or WrongAction.
func Verify(keys *Keys, payload []byte, deviceID, action string) (Command, Key, error) {
	p, err := ParsePayload(payload)
	if err != nil {
		return Command{}, Key{}, err
	}
	signed, err := CheckSignature(keys, p.Signature, Namespace)
	key := signed.Key
	if err != nil {
		return Command{}, key, err
	}
	text := []byte(p.Command)
	if err := signed.Verify(bytes.NewReader(text)); err != nil {
		return Command{}, key, err
	}
	cmd, err := ParseCommand(text)
	if err != nil {
		return Command{}, key, err
	}
	if cmd.Device != deviceID {
		return Command{}, key, Refuse(WrongDevice, "command is for device %q, this is %q", cmd.Device, deviceID)
	}
	if cmd.Action != action {
		return Command{}, key, Refuse(WrongAction, "command is for action %q, its topic is for %q", cmd.Action, action)
	}
	return cmd, key, nil
}

// Verifier checks signed commands against the authorized keys and the
// replay counters. Its keys can be replaced while it is in use.
type Verifier struct {
	keys  atomic.Pointer[Keys]
	store *Store
}

// NewVerifier returns a verifier of commands signed by keys whose
// counters are kept in store.
func NewVerifier(keys *Keys, store *Store) *Verifier {
	v := &Verifier{store: store}
	v.keys.Store(keys)
	return v
}

// SetKeys replaces the authorized keys, as after the file was edited.
// Counters of keys no longer listed are kept (see MaxCounterEntries):
// listed again, such a key cannot replay what it signed before.
func (v *Verifier) SetKeys(k *Keys) { v.keys.Store(k) }

// Keys returns the authorized keys in use.
func (v *Verifier) Keys() *Keys { return v.keys.Load() }

// Verify is the package's Verify with the verifier's keys.
func (v *Verifier) Verify(payload []byte, deviceID, action string) (Command, Key, error) {
	return Verify(v.keys.Load(), payload, deviceID, action)
}

// Commit records counter as the last accepted from key, durably, or
// refuses it (Replay) when it is not above the last one. A key that is no
// longer listed is refused (UnknownKey); a write that fails is refused
// (Failed) and changes nothing. The caller runs the command only after a
// nil return, so a command that restarts the device cannot be replayed
// after the restart.
func (v *Verifier) Commit(key Key, counter uint64) error {
	return v.store.Commit(key.Fingerprint, counter, v.keys.Load().Has)
}

// Authorize verifies payload and commits its counter: the command may run
// once it returns nil.
func (v *Verifier) Authorize(payload []byte, deviceID, action string) (Command, Key, error) {
	cmd, key, err := v.Verify(payload, deviceID, action)
	if err != nil {
		return Command{}, key, err
	}
	if err := v.Commit(key, cmd.Counter); err != nil {
		return Command{}, key, err
	}
	return cmd, key, nil
}
