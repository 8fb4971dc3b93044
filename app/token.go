package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"earshot/relay/secrets"
	"earshot/relay/server"
	"earshot/relay/tokens"
)

// operatorTokenItem is the keyring item holding the control token the CLI
// uses to reach a running relay's control plane.
const operatorTokenItem = "operator-token"

// tokenAdmin is what the token commands do, either through a running relay's
// control plane or directly on the registry file (under its lock): the one
// token-administration interface, plus letting go of what it holds.
type tokenAdmin interface {
	tokens.Admin
	Close()
}

func cmdToken(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("token: say what to do: create, list, revoke, rotate or rotate-all")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(env, "token "+sub)
	var (
		name    = new(string)
		scope   = new(string)
		expires = new(time.Duration)
		grace   = new(time.Duration)
		asJSON  = new(bool)
	)
	switch sub {
	case "create":
		fs.StringVar(name, "name", "", "what the token is for, e.g. OBS")
		fs.StringVar(scope, "scope", tokens.ScopeListen, "listen (feed and audio) or control (also token management)")
		fs.DurationVar(expires, "expires", 0, "lifetime, e.g. 720h (default: no expiry)")
	case "list":
		fs.BoolVar(asJSON, "json", false, "print JSON for scripts")
	case "rotate":
		fs.DurationVar(grace, "grace", 0, "how long the old token keeps working, e.g. 10m")
	case "rotate-all":
		fs.DurationVar(grace, "grace", 0, "how long the old tokens keep working")
	case "revoke":
	default:
		return usagef("token: unknown action %q (create, list, revoke, rotate, rotate-all)", sub)
	}
	// Flags may come before or after the id.
	var id string
	if (sub == "revoke" || sub == "rotate") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (sub == "revoke" || sub == "rotate") && id == "" {
		return usagef("token %s: give the token id (see `earshot token list`)", sub)
	}
	if sub == "create" {
		if strings.TrimSpace(*name) == "" {
			return usagef("token create: --name is required, e.g. --name OBS")
		}
		if *scope != tokens.ScopeListen && *scope != tokens.ScopeControl {
			return usagef("token create: --scope must be listen or control")
		}
		if *expires < 0 {
			return usagef("token create: --expires must be positive")
		}
	}
	if *grace < 0 {
		return usagef("token %s: --grace must not be negative", sub)
	}

	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	admin, base, err := openTokenAdmin(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()

	switch sub {
	case "create":
		token, info, err := admin.Create(ctx, *name, *scope, *expires)
		if err != nil {
			return err
		}
		printIssued(env.Stdout, base, token, info)
	case "list":
		list, err := admin.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		printTokenTable(env.Stdout, list, time.Now())
	case "revoke":
		if err := admin.Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Revoked %s: it stops working now, on open connections too.\n", id)
	case "rotate":
		token, info, err := admin.Rotate(ctx, id, *grace)
		if err != nil {
			return err
		}
		if *grace > 0 {
			fmt.Fprintf(env.Stdout, "Rotated %s: the old token keeps working for %s.\n", id, *grace)
		} else {
			fmt.Fprintf(env.Stdout, "Rotated %s: the old token stopped working.\n", id)
		}
		printIssued(env.Stdout, base, token, info)
	case "rotate-all":
		if err := admin.RotateAll(ctx, *grace); err != nil {
			return err
		}
		if *grace > 0 {
			fmt.Fprintf(env.Stdout, "New signing key: every existing token stops working in %s. Create new ones with `earshot token create`.\n", *grace)
		} else {
			fmt.Fprintln(env.Stdout, "New signing key: every existing token stopped working. Create new ones with `earshot token create`.")
		}
	}
	return nil
}

// printIssued shows a new token once, with ready-to-paste URLs.
func printIssued(w io.Writer, base, token string, info tokens.Info) {
	fmt.Fprintf(w, "Token %s (%s, scope %s):\n\n  %s\n\n", info.ID, info.Name, info.Scope, token)
	fmt.Fprintln(w, "It is shown only once. Ready-to-paste URLs:")
	for _, l := range server.Links(base, token) {
		fmt.Fprintf(w, "  %-40s %s\n", l.Name+":", l.URL)
	}
	fmt.Fprintln(w, "Programs can also send it as \"Authorization: Bearer <token>\".")
}

func printTokenTable(w io.Writer, list []tokens.Info, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No stream tokens. Create one with `earshot token create --name NAME`.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED\tSTATUS")
	for _, t := range list {
		expires, used := "never", "never"
		if t.Expires != nil {
			expires = t.Expires.Local().Format("2006-01-02 15:04")
		}
		if t.LastUsed != nil {
			used = t.LastUsed.Local().Format("2006-01-02 15:04")
			if by := t.UsedBy(); by != "" {
				used += " (" + by + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope,
			t.Created.Local().Format("2006-01-02 15:04"), expires, used, t.Status(now))
	}
	tw.Flush()
}

// openTokenAdmin reaches the running relay's control plane when one has
// announced itself and proves it is that relay (findRelay), and otherwise
// opens the registry directly. It returns the relay's base URL for
// printing.
func openTokenAdmin(ctx context.Context, env *Env, cfg *Config) (tokenAdmin, string, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	base := "http://" + listen
	keys := env.keyring()
	reg, err := tokens.Open(ctx, filepath.Join(env.ConfigDir, "tokens.json"), keys, tokens.Options{Logger: discardLogger()})
	if err != nil {
		return nil, "", fmt.Errorf("open the stream-token registry: %w", err)
	}
	rc, err := findRelay(ctx, env)
	if err != nil {
		reg.Close(ctx)
		return nil, "", err
	}
	if rc == nil {
		return directAdmin{reg}, base, nil
	}
	op, err := operatorToken(ctx, keys, reg)
	if err != nil {
		rc.Close()
		reg.Close(ctx)
		return nil, "", err
	}
	// The running relay re-reads the registry; the CLI's copy is done.
	if err := reg.Close(ctx); err != nil {
		rc.Close()
		return nil, "", err
	}
	return &controlClient{conn: rc, token: op}, rc.base(), nil
}

// operatorToken returns the CLI's control token from the keyring, creating
// it (in the registry, under its lock) on first use or when it no longer
// verifies.
func operatorToken(ctx context.Context, keys secrets.KeyStore, reg *tokens.Manager) (string, error) {
	tok, err := keys.Get(ctx, operatorTokenItem)
	if err == nil {
		if _, verr := reg.Verify(tok); verr == nil {
			return tok, nil
		}
	} else if !errors.Is(err, secrets.ErrNotFound) {
		return "", fmt.Errorf("read the operator token from the keyring: %w", err)
	}
	tok, _, err = reg.Create(ctx, "earshot CLI (operator)", tokens.ScopeControl, 0)
	if err != nil {
		return "", fmt.Errorf("create the operator token: %w", err)
	}
	if err := keys.Set(ctx, operatorTokenItem, tok); err != nil {
		return "", fmt.Errorf("keep the operator token in the keyring: %w", err)
	}
	return tok, nil
}

// Bounds on finding the relay: connecting, and its proof of identity.
const (
	relayDialTimeout = 700 * time.Millisecond
	identityTimeout  = 2 * time.Second
)

// findRelay returns a connection to the running relay once the relay on it
// has proved it is the one that announced itself (running.json plus the
// instance secret in the keyring; see announce): it answers a fresh random
// nonce with the HMAC only that relay can compute, bound to the address
// dialled. The operator token is only ever sent over that same connection,
// so a program that holds the port — or takes it once the relay is gone —
// never receives it. With no relay announced, a stale announcement (the
// relay is gone) or a wrong answer, it returns nil: the caller edits the
// registry directly.
func findRelay(ctx context.Context, env *Env) (*relayConn, error) {
	info, err := readRunning(env.ConfigDir)
	if err != nil {
		return nil, nil // none announced (or not readable as one): nothing to reach
	}
	item, err := env.keyring().Get(ctx, relayInstanceItem)
	if errors.Is(err, secrets.ErrNotFound) {
		return nil, nil // the relay that wrote running.json is gone
	}
	if err != nil {
		return nil, fmt.Errorf("read the running relay's instance secret from the keyring: %w", err)
	}
	instance, encoded, _ := strings.Cut(item, ":")
	secret, err := base64.StdEncoding.DecodeString(encoded)
	if instance != info.Instance || err != nil || len(secret) < 16 {
		return nil, nil // a stale announcement from an earlier run
	}
	dctx, cancel := context.WithTimeout(ctx, relayDialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", info.Addr)
	if err != nil {
		return nil, nil // the relay is gone
	}
	rc := newRelayConn(conn)
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		rc.Close()
		return nil, fmt.Errorf("make a nonce: %w", err)
	}
	ictx, icancel := context.WithTimeout(ctx, identityTimeout)
	defer icancel()
	req, err := http.NewRequestWithContext(ictx, "GET", rc.base()+"/v1/identity?nonce="+hex.EncodeToString(nonce), nil)
	if err != nil {
		rc.Close()
		return nil, err
	}
	status, body, err := rc.roundTrip(req)
	var id server.IdentityResponse
	if err == nil && status == http.StatusOK && json.Unmarshal(body, &id) == nil &&
		id.Service == server.ServiceName && server.CheckIdentityProof(secret, conn.RemoteAddr().String(), nonce, id.Proof) {
		return rc, nil
	}
	rc.Close()
	fmt.Fprintf(env.Stderr, "earshot: the program answering at %s could not prove it is the Earshot relay that announced itself there; editing the token registry directly instead.\n", info.Addr)
	return nil, nil
}

// relayConn is one HTTP/1.1 connection to the relay, used for every request
// of a command (net/http keeps it alive between them). It is never
// redialled: what proved itself on it is what the requests reach.
type relayConn struct {
	conn   net.Conn
	client *http.Client
	addr   string // as dialled
	host   string // the Host header the relay accepts
}

func newRelayConn(conn net.Conn) *relayConn {
	addr := conn.RemoteAddr().String()
	host := addr
	if h, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			host = net.JoinHostPort("localhost", port)
		}
	}
	var dialled atomic.Bool
	transport := &http.Transport{
		// The one connection, once; never a proxy, never a new dial.
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			if dialled.Swap(true) {
				return nil, errors.New("the connection to the relay is closed; run the command again")
			}
			return conn, nil
		},
		MaxConnsPerHost:    1,
		DisableCompression: true,
	}
	return &relayConn{conn: conn, client: &http.Client{Transport: transport, Timeout: 10 * time.Second}, addr: addr, host: host}
}

func (c *relayConn) base() string { return "http://" + c.addr }

// maxRelayAnswer caps a control-plane answer.
const maxRelayAnswer = 4 << 20

// roundTrip sends req and reads the whole answer, within req's context
// and at most 10 s.
func (c *relayConn) roundTrip(req *http.Request) (int, []byte, error) {
	req.Host = c.host
	// The token list then says the operator token was used by Earshot.
	req.Header.Set("User-Agent", "earshot/"+Version)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayAnswer+1))
	if err != nil || len(body) > maxRelayAnswer {
		return 0, nil, fmt.Errorf("read the relay's answer: %w", errors.Join(err, errors.New("answer too long or cut short")))
	}
	return resp.StatusCode, body, nil
}

func (c *relayConn) Close() {
	c.client.CloseIdleConnections()
	c.conn.Close()
}

// directAdmin edits the registry file when no relay runs.
type directAdmin struct{ *tokens.Manager }

func (d directAdmin) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), keyringTimeout)
	defer cancel()
	_ = d.Manager.Close(ctx)
}

// controlClient calls a running relay's control plane over the connection
// on which it proved itself.
type controlClient struct {
	conn  *relayConn
	token string
}

func (c *controlClient) Close() { c.conn.Close() }

func (c *controlClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.conn.base()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	status, data, err := c.conn.roundTrip(req)
	if err != nil {
		return fmt.Errorf("reach the running relay at %s: %w", c.conn.base(), err)
	}
	if status >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return &relayRefusal{code: e.Error.Code, message: e.Error.Message}
		}
		return fmt.Errorf("the running relay answered %d %s", status, http.StatusText(status))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the relay's answer is not what this version of earshot expects: %w", err)
		}
	}
	return nil
}

func (c *controlClient) List(ctx context.Context) ([]tokens.Info, error) {
	var out struct{ Tokens []tokens.Info }
	err := c.do(ctx, "GET", "/v1/tokens", nil, &out)
	return out.Tokens, err
}

func (c *controlClient) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error) {
	req := server.CreateRequest{Name: name, Scope: scope}
	if ttl > 0 {
		req.Expires = ttl.String()
	}
	var out server.IssuedResponse
	err := c.do(ctx, "POST", "/v1/tokens", req, &out)
	return out.Token, out.Info, err
}

func (c *controlClient) Revoke(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(id), nil, nil)
}

func (c *controlClient) Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error) {
	var out server.IssuedResponse
	err := c.do(ctx, "POST", "/v1/tokens/"+url.PathEscape(id)+"/rotate", server.GraceRequest{Grace: grace.String()}, &out)
	return out.Token, out.Info, err
}

func (c *controlClient) RotateAll(ctx context.Context, grace time.Duration) error {
	return c.do(ctx, "POST", "/v1/tokens/rotate-all", server.GraceRequest{Grace: grace.String()}, nil)
}

// cmdStatus prints what the running relay is doing.
func cmdStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "status")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := LoadConfig(env.ConfigDir); err != nil {
		return err
	}
	rc, err := findRelay(ctx, env)
	if err != nil {
		return err
	}
	if rc == nil {
		fmt.Fprintln(env.Stdout, "No Earshot relay is running. Start one with `earshot relay`.")
		return errNotRunning
	}
	defer rc.Close()
	base := rc.base()
	keys := env.keyring()
	reg, err := tokens.Open(ctx, filepath.Join(env.ConfigDir, "tokens.json"), keys, tokens.Options{Logger: discardLogger()})
	if err != nil {
		return fmt.Errorf("open the stream-token registry: %w", err)
	}
	op, err := operatorToken(ctx, keys, reg)
	reg.Close(ctx)
	if err != nil {
		return err
	}
	c := &controlClient{conn: rc, token: op}
	var st server.StatusResponse
	if err := c.do(ctx, "GET", "/v1/status", nil, &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	b := st.Backend
	fmt.Fprintf(env.Stdout, "Relay:       %s (up %s)\n", base, st.Uptime)
	fmt.Fprintf(env.Stdout, "Backend:     %s", b.State)
	if b.Reason != "" {
		fmt.Fprintf(env.Stdout, " — %s", b.Reason)
	}
	fmt.Fprintln(env.Stdout)
	if b.Problem != "" {
		fmt.Fprintf(env.Stdout, "Problem:     %s\n", b.Problem)
	}
	if b.Server != "" {
		fmt.Fprintf(env.Stdout, "Server:      %s\n", b.Server)
	}
	if b.User != "" {
		fmt.Fprintf(env.Stdout, "User:        %s\n", b.User)
	}
	fmt.Fprintf(env.Stdout, "Consumers:   %d live, %d on the continuous stream (%d encoders)\n",
		st.Served.LiveConsumers, st.Served.StreamListeners, st.Served.StreamEncoders)
	fmt.Fprintf(env.Stdout, "Calls:       %d received, %d held\n", st.CallsReceived, st.CallsHeld)
	fmt.Fprintf(env.Stdout, "Audio:       %d requests, %d bytes served\n", st.Served.AudioRequests, st.Served.BytesServed)
	fmt.Fprintf(env.Stdout, "Tokens used: %d in the last hour\n", st.TokensInUse)
	return nil
}

var errNotRunning = errors.New("the relay is not running")

// relayRefusal is a running relay's JSON error answer.
type relayRefusal struct{ code, message string }

func (e *relayRefusal) Error() string { return "the running relay refused: " + e.message }

// Is lets a token command test a refusal with errors.Is(err,
// tokens.ErrNotFound).
func (e *relayRefusal) Is(target error) bool {
	return target == tokens.ErrNotFound && e.code == "not_found"
}
