//go:build unix

package singleinstance

func platformTransport() transport { return unixSocket{} }
