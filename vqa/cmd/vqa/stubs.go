package main

import (
	"context"
	"errors"
	"io"
)

var errNotYet = errors.New("not implemented yet")

func stub(name string, args []string, stderr io.Writer) error {
	if err := parse(newFlags(name, "(being written)", stderr), args); err != nil {
		return err
	}
	return errNotYet
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return stub("train", args, stderr)
}
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return stub("eval", args, stderr)
}
func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return stub("predict", args, stderr)
}
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return stub("export", args, stderr)
}
