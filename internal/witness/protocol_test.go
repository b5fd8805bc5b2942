package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

func TestAnswersVerifyOnlyAsSigned(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	q := Question{Nonce: "n1"}
	good := Sign(key, "irisha-witness-node-1", q, true)
	if err := Verify(pub, "irisha-witness-node-1", "n1", good); err != nil {
		t.Fatalf("a genuine answer: %v", err)
	}
	tampered := good
	tampered.Cannot = false
	for name, c := range map[string]struct {
		pub     ed25519.PublicKey
		witness string
		nonce   string
		r       Reply
	}{
		"replayed to another question": {pub, "irisha-witness-node-1", "n2", good},
		"answer flipped":               {pub, "irisha-witness-node-1", "n1", tampered},
		"signed by another key":        {pub, "irisha-witness-node-1", "n1", Sign(otherKey, "irisha-witness-node-1", q, true)},
		"checked against another key":  {otherPub, "irisha-witness-node-1", "n1", good},
		"another witness's answer":     {pub, "irisha-witness-node-2", "n1", good},
		"no key":                       {nil, "irisha-witness-node-1", "n1", good},
	} {
		if err := Verify(c.pub, c.witness, c.nonce, c.r); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestKeysRoundTrip(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	got, err := DecodeKey(EncodeKey(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("DecodeKey(EncodeKey) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "not base64!", EncodeKey(pub[:10])} {
		if _, err := DecodeKey(bad); err == nil {
			t.Errorf("DecodeKey(%q) accepted", bad)
		}
	}
}
