package listening

import "strings"

// wordReason turns the backend's reason for a lost connection (an error's
// text, written for logs) into words for a listener. The raw text stays in
// the log; views never show it.
func wordReason(raw string) string {
	r := strings.ToLower(raw)
	switch {
	case raw == "":
		return ""
	case strings.Contains(r, "connection refused"):
		return "it refuses connections (is it running?)"
	case strings.Contains(r, "no such host"), strings.Contains(r, "server misbehaving"):
		return "its name does not resolve (check the address and the network)"
	case strings.Contains(r, "network is unreachable"), strings.Contains(r, "no route to host"):
		return "this computer has no route to it (is the network up?)"
	case strings.Contains(r, "timeout"), strings.Contains(r, "deadline exceeded"), strings.Contains(r, "i/o timeout"):
		return "it does not answer"
	case strings.Contains(r, "certificate"), strings.Contains(r, "x509"), strings.Contains(r, "tls"):
		return "its TLS certificate is not trusted"
	case strings.Contains(r, "reset by peer"), strings.Contains(r, "broken pipe"), strings.Contains(r, "eof"),
		strings.Contains(r, "close 1006"), strings.Contains(r, "unexpected"):
		return "the connection was cut"
	case strings.Contains(r, "429"), strings.Contains(r, "too many"):
		return "it is refusing sign-ins for a while"
	case strings.Contains(r, "max_clients"), strings.Contains(r, "too many clients"):
		return "it has too many listeners connected"
	case strings.Contains(r, " 5") && strings.Contains(r, "server answered"):
		return "it answers with an error"
	}
	return "the connection failed"
}
