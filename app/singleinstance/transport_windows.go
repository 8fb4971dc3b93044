//go:build windows

package singleinstance

func platformTransport() transport { return loopbackPort{} }
