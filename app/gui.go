//go:build !headless

package app

import "context"

// runDefault is what `earshot` with no command does: in a GUI build, the tray
// app with the relay inside it.
//
// Until the tray lands it runs the relay alone, like the headless build.
func runDefault(ctx context.Context, env *Env, args []string) error {
	return cmdRelay(ctx, env, args)
}
