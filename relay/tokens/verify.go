package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// Verification is the relay's hot path (every request, every WebSocket), so
// it does not go through a general JWT parser. What it accepts is exactly
// what sign produces:
//
//   - three base64url segments, at most MaxTokenLen bytes in all;
//   - a header segment byte-for-byte equal to the one this registry issues
//     for one of its signing keys ({"alg":"HS256","kid":…,"typ":"JWT"}), so
//     the algorithm is pinned and "alg":"none" or RS/HS confusion cannot
//     even be expressed;
//   - a signature segment equal, in constant time, to the canonical
//     base64url encoding of HMAC-SHA256 over "header.payload" (no second
//     spelling of the same signature is accepted);
//   - then, and only then, the claims: iss, aud, jti, scope, exp, and the
//     registry's word on the jti.
//
// Tokens are ordinary JWTs: github.com/golang-jwt/jwt/v5 signs them and
// accepts them (a test checks both directions).

// sigLen is the length of an HS256 signature in unpadded base64url.
const sigLen = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)

// minTokenLen rejects obvious garbage before any work.
const minTokenLen = 2*16 + 2 + sigLen

// maxClaimsCache bounds the cache of decoded claims. Only payloads with a
// valid signature enter it, so it holds at most what this registry issued.
const maxClaimsCache = 10000

// signingKey is one HMAC key with what verification needs at hand.
type signingKey struct {
	id     string
	raw    []byte
	header string    // the header segment issued with this key
	macs   sync.Pool // of *macScratch
}

// macScratch is a keyed HMAC plus buffers, reused across verifications so
// the hot path does not allocate.
type macScratch struct {
	mac  hash.Hash
	in   [MaxTokenLen]byte
	sum  [sha256.Size]byte
	want [sigLen]byte
	got  [sigLen]byte
}

func newSigningKey(id string, raw []byte) *signingKey {
	k := &signingKey{id: id, raw: raw, header: headerSegment(id)}
	k.macs.New = func() any { return &macScratch{mac: hmac.New(sha256.New, raw)} }
	return k
}

// headerSegment is the encoded JOSE header issued with key kid. Key ids are
// hex, so no JSON escaping is needed.
func headerSegment(kid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + kid + `","typ":"JWT"}`))
}

// signatureOK reports, in constant time with respect to the signature,
// whether sig is the canonical signature of signed.
func (k *signingKey) signatureOK(signed, sig string) bool {
	if len(sig) != sigLen || len(signed) > MaxTokenLen {
		return false
	}
	s := k.macs.Get().(*macScratch)
	defer k.macs.Put(s)
	s.mac.Reset()
	n := copy(s.in[:], signed)
	s.mac.Write(s.in[:n])
	s.mac.Sum(s.sum[:0])
	base64.RawURLEncoding.Encode(s.want[:], s.sum[:])
	copy(s.got[:], sig)
	return subtle.ConstantTimeCompare(s.want[:], s.got[:]) == 1
}

// sign makes the compact JWT for claims with key k.
func (k *signingKey) sign(c tokenClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign a stream token: %w", err)
	}
	signed := k.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signed, k.raw)
	if err != nil {
		return "", fmt.Errorf("sign a stream token: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// tokenHeader is the JOSE header, decoded only on the slow path.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// tokenClaims is the payload. Field order is the issued order.
type tokenClaims struct {
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
	Jti   string `json:"jti"`
	Scope string `json:"scope"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp,omitempty"`
}

// claimsCache maps a payload segment with a valid signature to its decoded
// claims. Safe for concurrent use.
type claimsCache struct {
	m sync.Map // string → tokenClaims
	n atomic.Int64
}

func (cc *claimsCache) get(seg string) (tokenClaims, bool) {
	if v, ok := cc.m.Load(seg); ok {
		return v.(tokenClaims), true
	}
	var c tokenClaims
	if !decodeSegment(seg, &c) {
		return tokenClaims{}, false
	}
	if cc.n.Add(1) > maxClaimsCache {
		cc.m.Clear()
		cc.n.Store(1)
	}
	cc.m.Store(strings.Clone(seg), c) // not a slice of the whole token
	return c, true
}

// Verify checks a presented token and returns what it stands for. Every
// refusal is ErrInvalid: malformed, oversized, another registry's or key's,
// tampered, unknown, revoked, rotated out or expired. It does not allocate
// on success with a warm cache and is safe for concurrent use.
func (m *Manager) Verify(token string) (Claims, error) {
	if len(token) < minTokenLen || len(token) > MaxTokenLen {
		return Claims{}, ErrInvalid
	}
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return Claims{}, ErrInvalid
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return Claims{}, ErrInvalid
	}
	j += i + 1
	h, p, sig := token[:i], token[i+1:j], token[j+1:]
	if len(sig) != sigLen || len(p) == 0 {
		return Claims{}, ErrInvalid // also refuses a fourth segment
	}

	installs := m.installs.Load() // before any look at the state: see reloadIfChanged
	k := m.keyForHeader(h)
	if k == nil {
		// Perhaps another process (the CLI) just made a new key. Only a
		// well-formed HS256 header naming a key we lack gets this far, and
		// a reload reads the file only if it changed on disk, so garbage
		// cannot make us re-read.
		var hdr tokenHeader
		if !decodeSegment(h, &hdr) || hdr.Alg != "HS256" || hdr.Typ != "JWT" || hdr.Kid == "" || h != headerSegment(hdr.Kid) {
			return Claims{}, ErrInvalid
		}
		if !m.reloadIfChanged(installs) {
			return Claims{}, ErrInvalid
		}
		installs = m.installs.Load()
		if k = m.keyForHeader(h); k == nil {
			return Claims{}, ErrInvalid
		}
	}
	if !k.signatureOK(token[:j], sig) {
		return Claims{}, ErrInvalid
	}
	c, ok := m.claims.get(p)
	if !ok || c.Iss != m.iss || c.Aud != m.aud || c.Jti == "" {
		return Claims{}, ErrInvalid
	}
	now := m.now()
	if c.Exp != 0 && now.Unix() >= c.Exp {
		return Claims{}, ErrInvalid
	}
	cl, found, ok := m.lookup(c.Jti, k.id, c.Scope)
	if !found && m.reloadIfChanged(installs) {
		// Correctly signed but unknown: another process created it a
		// moment ago.
		cl, _, ok = m.lookup(c.Jti, k.id, c.Scope)
	}
	if !ok {
		return Claims{}, ErrInvalid
	}
	return cl, nil
}

// keyForHeader returns the signing key whose issued header is h.
func (m *Manager) keyForHeader(h string) *signingKey {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.headers[h]
}

// lookup checks the registry's entry for a verified token: found reports
// whether the id is known, ok whether the token may be used now.
func (m *Manager) lookup(id, kid, scope string) (c Claims, found, ok bool) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, found := m.byID[id]
	if !found || t.KeyID != kid || t.Scope != scope || !t.usable(now) {
		return Claims{}, found, false
	}
	if _, live := m.keys[kid]; !live {
		return Claims{}, true, false
	}
	return Claims{ID: t.ID, Name: t.Name, Scope: t.Scope}, true, true
}

// decodeSegment decodes one base64url JSON segment strictly.
func decodeSegment(seg string, v any) bool {
	if len(seg) > MaxTokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}
