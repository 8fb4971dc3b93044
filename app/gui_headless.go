//go:build headless

package app

import "context"

// runDefault is what `earshot` with no command does. A headless build links
// no GUI library, so it runs the relay alone.
func runDefault(ctx context.Context, env *Env, args []string) error {
	return cmdRelay(ctx, env, args)
}
