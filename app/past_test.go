//go:build !headless

package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
	"earshot/ui"
	"earshot/ui/ipc"
)

// fileAudio is a call's audio in a file.
type fileAudio struct{ path string }

func (f fileAudio) Open() (*os.File, error) { return os.Open(f.path) }

type audioFiles map[int64]string

func (a audioFiles) Audio(_ context.Context, id int64) (interface{ Open() (*os.File, error) }, error) {
	p, ok := a[id]
	if !ok {
		return nil, fmt.Errorf("%w: call %d", relay.ErrNotFound, id)
	}
	return fileAudio{p}, nil
}

func TestSavingACallsAudioWritesItWholeWhereChosen(t *testing.T) {
	dir := t.TempDir()
	audio := filepath.Join(dir, "cached")
	want := make([]byte, 3<<20) // larger than any one message on the window's channel
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(audio, want, 0o600); err != nil {
		t.Fatal(err)
	}
	src := audioFiles{9: audio}
	dest := filepath.Join(dir, "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3")
	n, err := saveFrom(context.Background(), src, 9, dest)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("save: %d, %v", n, err)
	}
	got, _ := os.ReadFile(dest)
	if string(got) != string(want) {
		t.Fatal("the saved file differs from the call's audio")
	}
	// Saving again over it (the dialog asked) replaces it.
	if _, err := saveFrom(context.Background(), src, 9, dest); err != nil {
		t.Fatalf("saving over the earlier file: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the directory holds %d entries; want the audio and the saved file, no temporary file", len(entries))
	}
	// A call whose audio is gone: a clear error, nothing written.
	if _, err := saveFrom(context.Background(), src, 10, filepath.Join(dir, "gone.mp3")); !ipc.IsKind(err, ipc.KindNotFound) {
		t.Fatalf("saving a call the server no longer offers: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.mp3")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed save left a file")
	}
	// A cancelled save leaves nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := saveFrom(ctx, src, 9, filepath.Join(dir, "cancelled.mp3")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled save: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cancelled.mp3")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a cancelled save left a file")
	}
	if _, err := saveFrom(context.Background(), src, 9, "relative.mp3"); !ipc.IsKind(err, ipc.KindInvalid) {
		t.Fatalf("a relative path: %v", err)
	}
	if _, err := saveFrom(context.Background(), src, 9, dir); !ipc.IsKind(err, ipc.KindInvalid) {
		t.Fatalf("a directory as the file: %v", err)
	}
}

func TestASearchExportsAsItsCallsWereFound(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	opts := exportOptions(ipc.Search{Systems: []int64{1}, Talkgroups: []int64{101}, Text: "engine"}, "/tmp/x.zip", now)
	if opts.From.Unix() != 1 || !opts.To.Equal(now.Add(time.Second)) {
		t.Fatalf("a search without a range exports %v to %v; want from the start to now", opts.From, opts.To)
	}
	if len(opts.Query.Talkgroups) != 1 || opts.Query.Talkgroups[0].TalkgroupID != 101 || opts.Text != "engine" || opts.Query.Systems[0] != 1 {
		t.Fatalf("export options %+v", opts)
	}
	to := time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC)
	if opts := exportOptions(ipc.Search{To: to}, "/tmp/x", now); !opts.To.Equal(to.Add(time.Second)) {
		t.Fatalf("a search up to %v (inclusive) exports up to %v", to, opts.To)
	}
}

func TestSavedAudioIsNamedByTheCallAndItsRealFormat(t *testing.T) {
	dir := t.TempDir()
	wavFile := filepath.Join(dir, "a")
	if err := os.WriteFile(wavFile, []byte("RIFF\x24\x00\x00\x00WAVEfmt "), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 18, 3, 7, 0, time.Local)
	c := event.Call{ID: 9, DateTime: at.Unix(), SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch", AudioType: "audio/mpeg"}
	// The uploader said MP3; the audio is WAV: the name says what it is.
	name, err := audioName(context.Background(), audioFiles{9: wavFile}, c)
	if err != nil || name != "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.wav" {
		t.Fatalf("name %q, %v", name, err)
	}
	// Audio that cannot be had now: the uploader's word.
	c.ID = 10
	if name, _ := audioName(context.Background(), audioFiles{}, c); name != "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3" {
		t.Fatalf("name without audio %q", name)
	}
}

// The fault: rotating the tray's own token with a grace left Copy stream
// URL handing out the old token, which died when the grace ended.
func TestGUI_RotatingTheTraysTokenMovesCopyStreamURLToTheNewOne(t *testing.T) {
	r := newGUIRig(t)
	ctx := context.Background()
	first, err := r.res.StreamURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := r.res.trayTokenID(ctx)
	if id == "" {
		t.Fatal("the tray has no token after Copy stream URL")
	}
	// Rotated from the window's token manager, with a grace.
	newTok, _, err := r.res.Tokens().Rotate(ctx, id, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.res.StreamURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !strings.HasSuffix(second, "token="+newTok) {
		t.Fatal("after rotating the tray's token, Copy stream URL does not hand out the new token")
	}
	// Rotated elsewhere (the CLI; the new token is not ours to know): a
	// fresh token, never the one dying.
	id = r.res.trayTokenID(ctx)
	if _, _, err := r.inst.Tokens.Rotate(ctx, id, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	third, err := r.res.StreamURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third == second {
		t.Fatal("after a rotation by another program, Copy stream URL still hands out the rotated-out token")
	}
	if _, err := r.inst.Tokens.Verify(strings.SplitN(third, "token=", 2)[1]); err != nil {
		t.Fatalf("the token handed out does not work: %v", err)
	}
}

// The faults of the sign-in window with a real relay and server: an
// address without a scheme ("127.0.0.1:18480") is found as a browser
// finds it, and after a sign-out the window offers the account again.
func TestGUI_SignInFindsAServerWithoutSchemeAndRemembersItAfterSignOut(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	typed := strings.TrimPrefix(fake.URL(), "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found, _, note, err := ui.FindServer(ctx, r.acc, typed)
	if err != nil || found != fake.URL() || !strings.Contains(note, "did not answer; http:// did") {
		t.Fatalf("%s found as %q (%q), %v; want %s, https:// tried first", typed, found, note, err, fake.URL())
	}
	wantMessage(t, r.signIn(t, found, testUser, testPassword), "Signed in")
	if err := r.acc.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	if s, u := r.acc.Account(); s != "" || u != "" {
		t.Fatalf("after signing out the account is %q %q", s, u)
	}
	if s, u := r.acc.LastAccount(); s != fake.URL() || u != testUser {
		t.Fatalf("after signing out the sign-in window is offered %q %q; want %s %s", s, u, fake.URL(), testUser)
	}
}
