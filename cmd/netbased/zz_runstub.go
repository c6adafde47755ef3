// Temporary stand-in until run.go (the daemon, being written now) lands: delete this file then.
package main

import (
	"context"
	"io"
)

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
