package witness

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// AskPath is where a witness answers questions (POST, JSON Question).
const AskPath = "/v1/ask"

// Question is an agent's "can you reach the API server?". The nonce binds
// the answer to this question, so an answer cannot be replayed to another.
type Question struct {
	Nonce string `json:"nonce"`
	// From names the asking agent, for the witness's log only.
	From string `json:"from,omitempty"`
}

// Reply is the witness's signed answer.
type Reply struct {
	Witness string `json:"witness"`
	Nonce   string `json:"nonce"`
	// Cannot: the witness cannot reach the API server either, and has not
	// for the grace period.
	Cannot bool `json:"cannot"`
	// Signature is ed25519 over signedBytes, by the witness's key, whose
	// public half is in its record (AnnotationPublicKey).
	Signature []byte `json:"signature"`
}

// signedBytes is what the signature covers: a domain prefix (a signature
// made for anything else never verifies here), the witness, the nonce and
// the answer.
func signedBytes(witness, nonce string, cannot bool) []byte {
	return []byte("irisha-witness-answer-v1\n" + witness + "\n" + nonce + "\n" + strconv.FormatBool(cannot))
}

// Sign makes the reply to q.
func Sign(key ed25519.PrivateKey, witness string, q Question, cannot bool) Reply {
	return Reply{Witness: witness, Nonce: q.Nonce, Cannot: cannot, Signature: ed25519.Sign(key, signedBytes(witness, q.Nonce, cannot))}
}

// Verify checks that r answers the question with nonce, from the witness
// whose public key is pub.
func Verify(pub ed25519.PublicKey, witness, nonce string, r Reply) error {
	switch {
	case r.Witness != witness:
		return fmt.Errorf("reply names witness %q, asked %q", r.Witness, witness)
	case r.Nonce != nonce:
		return errors.New("reply is for another question (nonce differs): a replay or a late answer")
	case len(pub) != ed25519.PublicKeySize:
		return fmt.Errorf("witness %s has no valid public key", witness)
	case !ed25519.Verify(pub, signedBytes(r.Witness, r.Nonce, r.Cannot), r.Signature):
		return fmt.Errorf("reply of witness %s has a bad signature", witness)
	}
	return nil
}

// EncodeKey and DecodeKey carry a public key in an annotation.
func EncodeKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// DecodeKey is the inverse of EncodeKey.
func DecodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not an ed25519 public key: %q", s)
	}
	return ed25519.PublicKey(b), nil
}
