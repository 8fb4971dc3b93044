package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Every item Earshot stores must fit every platform's keyring:
//
//   - Windows Credential Manager (go-keyring via danieljoos/wincred): a
//     secret of at most 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE; go-keyring
//     refuses more), and the item name is the credential's user name, at
//     most 513 characters (CRED_MAX_USERNAME_LENGTH).
//   - macOS Keychain (go-keyring drives `security -i`): the whole command,
//     with the name, and the value base64-encoded behind an 18-byte prefix,
//     must stay within 4,096 bytes.
//   - Secret Service: no limit that matters here.
//
// Most items are small (a 64-hex refresh token, a 44-byte signing key, a
// JWT of a few hundred bytes), but a remembered password, or a token from
// an unusual server, has no such bound, and an item's name carries the
// server URL (up to 2 KiB). So a value longer than maxPartLen is split over
// several items, and a name longer than maxNameLen is shortened to a
// prefix and a hash of the whole. The same rules apply on every platform,
// so what the tests here prove about them holds on Windows and macOS too.
const (
	maxPartLen = 2048 // ≤ 2,560 (Windows); base64 of it, 2,732, leaves macOS room for the name
	maxNameLen = 200  // ≤ 513 (Windows), and with a part suffix well inside macOS's command
	splitMark  = "earshot-split-v1:"
	// maxParts is the most items a value spans: the first part holds the
	// header too. A single digit, so the header's length is known before
	// the count is.
	maxParts = 1 + (MaxValueLen+maxPartLen-1)/maxPartLen
)

// rawStore is one item per call, as the platform's keyring stores it.
type rawStore interface {
	getItem(ctx context.Context, name string) (string, error)
	setItem(ctx context.Context, name, value string) error
	deleteItem(ctx context.Context, name string) error
}

// itemName is the name key is stored under: key itself when short enough,
// else its start and a hash of all of it (names stay readable in a
// keyring manager, and distinct).
func itemName(key string) string {
	if len(key) <= maxNameLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return key[:maxNameLen-41] + "~" + hex.EncodeToString(sum[:20])
}

func partName(name string, i int) string { return name + "#part" + strconv.Itoa(i) }

// splitHeader is the first item of a split value: the mark, the number of
// parts, a hash of the whole value (a half-written set is detected, never
// returned as the secret), then the first part.
func splitHeader(n int, value string) string {
	sum := sha256.Sum256([]byte(value))
	return splitMark + strconv.Itoa(n) + ":" + hex.EncodeToString(sum[:8]) + ":"
}

func setFitted(ctx context.Context, rs rawStore, key, value string) error {
	name := itemName(key)
	had := partsOf(ctx, rs, name) // the parts of a split value there now
	if len(value) <= maxPartLen && !strings.HasPrefix(value, splitMark) {
		if err := rs.setItem(ctx, name, value); err != nil {
			return err
		}
		return deleteParts(ctx, rs, name, 2, had)
	}
	head := splitHeader(0, value) // its length does not depend on n (n ≤ maxParts ≤ 9)
	first := maxPartLen - len(head)
	rest := value[min(first, len(value)):]
	n := 1 + (len(rest)+maxPartLen-1)/maxPartLen
	// The other parts first: a reader sees the old value until the header
	// is replaced, and a half-replaced set fails its hash.
	for i := 2; i <= n; i++ {
		part := rest[(i-2)*maxPartLen : min((i-1)*maxPartLen, len(rest))]
		if err := rs.setItem(ctx, partName(name, i), part); err != nil {
			return err
		}
	}
	if err := rs.setItem(ctx, name, splitHeader(n, value)+value[:min(first, len(value))]); err != nil {
		return err
	}
	return deleteParts(ctx, rs, name, n+1, had)
}

// partsOf returns how many items the value stored under name spans (1 when
// it is not split, 0 when there is none or it cannot be read).
func partsOf(ctx context.Context, rs rawStore, name string) int {
	v, err := rs.getItem(ctx, name)
	if err != nil {
		return 0
	}
	rest, ok := strings.CutPrefix(v, splitMark)
	if !ok {
		return 1
	}
	count, _, _ := strings.Cut(rest, ":")
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > maxParts {
		return maxParts // damaged: clear every part it could have
	}
	return n
}

// deleteParts removes parts from..to.
func deleteParts(ctx context.Context, rs rawStore, name string, from, to int) error {
	for i := from; i <= to; i++ {
		if err := rs.deleteItem(ctx, partName(name, i)); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

func getFitted(ctx context.Context, rs rawStore, key string) (string, error) {
	name := itemName(key)
	v, err := rs.getItem(ctx, name)
	if errors.Is(err, ErrNotFound) && name != key {
		// Stored by an Earshot from before names were shortened.
		v, err = rs.getItem(ctx, key)
	}
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(v, splitMark)
	if !ok {
		return v, nil
	}
	count, rest, ok1 := strings.Cut(rest, ":")
	sum, first, ok2 := strings.Cut(rest, ":")
	n, err := strconv.Atoi(count)
	if !ok1 || !ok2 || err != nil || n < 1 || n > maxParts {
		return "", fmt.Errorf("keyring item %q is damaged; sign in again (or store it again)", key)
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 2; i <= n; i++ {
		part, err := rs.getItem(ctx, partName(name, i))
		if err != nil {
			return "", fmt.Errorf("keyring item %q is missing part %d of %d: %w", key, i, n, err)
		}
		b.WriteString(part)
	}
	value := b.String()
	if splitHeader(n, value) != splitMark+count+":"+sum+":" {
		return "", fmt.Errorf("keyring item %q is damaged (its parts do not match); sign in again (or store it again)", key)
	}
	return value, nil
}

func deleteFitted(ctx context.Context, rs rawStore, key string) error {
	name := itemName(key)
	had := partsOf(ctx, rs, name)
	if err := rs.deleteItem(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if name != key {
		if err := rs.deleteItem(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return deleteParts(ctx, rs, name, 2, had)
}
