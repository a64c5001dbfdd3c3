package authz

import (
	"io"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Signed is an armored SSHSIG signature whose key is authorized and whose
// namespace is the expected one: what CheckSignature can tell before the
// signed message is read. Verify then checks it over the message.
type Signed struct {
	// Key is the authorized key that made the signature.
	Key       Key
	sig       *sshsig.Signature
	namespace string
}

// CheckSignature parses an armored signature (see ParseSignature) and
// checks that its key is in keys (nil: none is) and that it was made for
// namespace, so that a message by anyone else is refused without being
// read. Errors are *Refusal with reason Malformed, UnknownKey, or
// BadSignature for another namespace, which still names the key in Key.
func CheckSignature(keys *Keys, armored, namespace string) (Signed, error) {
	sig, err := ParseSignature(armored)
	if err != nil {
		return Signed{}, err
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	key, ok := keys.Lookup(fp)
	if !ok {
		return Signed{}, Refuse(UnknownKey, "key %s (%s) is not in authorized_keys: sign with a listed key or list it", fp, sig.PublicKey.Type())
	}
	if sig.Namespace != namespace {
		return Signed{Key: key}, Refuse(BadSignature, "signature is for namespace %q, not %q: sign with ssh-keygen -Y sign -n %s", sig.Namespace, namespace, namespace)
	}
	return Signed{Key: key, sig: sig, namespace: namespace}, nil
}

// Verify checks the signature over everything r yields, with the hash
// the signer chose (SHA-256 or SHA-512). An error is a *Refusal with
// reason BadSignature whose Err says why, a read error of r included.
func (s Signed) Verify(r io.Reader) error {
	if s.sig == nil {
		return Refuse(BadSignature, "no signature was checked")
	}
	if err := sshsig.Verify(r, s.sig, s.Key.PublicKey, s.sig.HashAlgorithm, s.namespace); err != nil {
		return &Refusal{Reason: BadSignature, Message: "signature by " + s.Key.Fingerprint + " does not verify over what was received: sign exactly the bytes that are sent", Err: err}
	}
	return nil
}
