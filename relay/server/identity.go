package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
)

// The relay's proof of identity. The earshot CLI sends the operator token
// (a control token) to a running relay; before it does, the relay must show
// it is the one this install started, not another program that took its
// port. GET /v1/identity?nonce=<hex> answers
//
//	HMAC-SHA256(instance secret, "earshot relay identity v1\n" + address + "\n" + nonce)
//
// where the instance secret is random per run (kept in the keyring by the
// relay's owner, never on disk) and address is the local address of the
// connection the question came in on. Binding the address means a program
// on another port cannot pass the real relay's answers off as its own. The
// route needs no token (there is none to send yet) and reveals nothing: the
// answer is useless without the secret, and the nonce is the caller's.

// Nonce limits for GET /v1/identity, in bytes.
const (
	MinIdentityNonce = 16
	MaxIdentityNonce = 64
)

// IdentityResponse is the body of GET /v1/identity.
type IdentityResponse struct {
	Service string `json:"service"`
	Proof   string `json:"proof"` // hex
}

// IdentityProof is the answer a relay holding secret, reached at addr
// (host:port as the caller dialled it), gives for nonce.
func IdentityProof(secret []byte, addr string, nonce []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("earshot relay identity v1\n"))
	mac.Write([]byte(addr))
	mac.Write([]byte("\n"))
	mac.Write(nonce)
	return mac.Sum(nil)
}

// CheckIdentityProof reports, in constant time, whether proof (hex) is the
// answer of the relay holding secret at addr for nonce.
func CheckIdentityProof(secret []byte, addr string, nonce []byte, proof string) bool {
	got, err := hex.DecodeString(proof)
	if err != nil {
		return false
	}
	return hmac.Equal(got, IdentityProof(secret, addr, nonce))
}

func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()["nonce"]
	var nonce []byte
	if len(q) == 1 && len(q[0]) <= 2*MaxIdentityNonce {
		nonce, _ = hex.DecodeString(q[0])
	}
	if len(nonce) < MinIdentityNonce || len(nonce) > MaxIdentityNonce {
		writeError(w, http.StatusBadRequest, "bad_request", "nonce: give one hex nonce of 16 to 64 bytes")
		return
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "the relay cannot tell which address it was reached at")
		return
	}
	writeJSON(w, http.StatusOK, IdentityResponse{
		Service: ServiceName,
		Proof:   hex.EncodeToString(IdentityProof(s.instance, local.String(), nonce)),
	})
}
