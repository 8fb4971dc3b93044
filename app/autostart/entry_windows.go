//go:build windows

package autostart

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// NewEntry is the user's Run key value.
func NewEntry() (Entry, error) {
	return runKeyEntry{open: openRunKey}, nil
}

func openRunKey() (registryValues, func(), error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, `Software\Microsoft\Windows\CurrentVersion\Run`, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return nil, nil, err
	}
	return runKey{k}, func() { k.Close() }, nil
}

type runKey struct{ k registry.Key }

func (r runKey) GetString(name string) (string, error) {
	v, _, err := r.k.GetStringValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return "", errValueNotFound
	}
	return v, err
}

func (r runKey) SetString(name, value string) error { return r.k.SetStringValue(name, value) }

func (r runKey) DeleteValue(name string) error {
	err := r.k.DeleteValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return errValueNotFound
	}
	return err
}
