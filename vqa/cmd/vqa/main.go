// Command vqa trains, evaluates and runs ViLT for visual question answering
// on the VQAv2 layout, and fetches the VQAv2 data.
//
//	vqa pretrain pre-train a model on captions: masked LM + image-text matching
//	vqa train    fine-tune or train a model (checkpoints, resume, loss curve)
//	vqa eval     VQA accuracy on a split, or of a results file, vs the majority baseline
//	vqa predict  answer a question about an image, or a whole questions file
//	vqa export   write a checkpoint as a HuggingFace folder (config.json + model.safetensors)
//	vqa download fetch the official VQAv2 and COCO archives for a split
//	vqa backend  show which GoMLX backend would run and describe it
//
// Run "vqa <command> -help" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order of the usage text.
func commands() []struct {
	name string
	command
} {
	return []struct {
		name string
		command
	}{
		{"pretrain", command{"pre-train a model on captions: masked LM + image-text matching", runPretrain}},
		{"train", command{"fine-tune or train a model (checkpoints, resume, loss curve)", runTrain}},
		{"eval", command{"VQA accuracy on a split, or of a results file, vs the majority baseline", runEval}},
		{"predict", command{"answer a question about an image, or a whole questions file", runPredict}},
		{"export", command{"write a checkpoint as a HuggingFace folder", runExport}},
		{"download", command{"fetch the official VQAv2 and COCO archives for a split", runDownload}},
		{"backend", command{"show which GoMLX backend would run and describe it", runBackend}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code: 0 on
// success (and for -help), 1 on any error, reported on stderr, 2 for usage
// errors.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := runCommand(ctx, c.run, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "vqa %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vqa: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// runCommand calls run, turning a panic (a bug, or a library that panics
// on bad input) into an error, so that no stack trace reaches the user.
func runCommand(ctx context.Context, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, args []string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error (please report it, with the command line): %v", r)
		}
	}()
	return run(ctx, args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vqa <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"vqa <command> -help\" for a command's flags.")
}

// errUsage marks a command-line mistake already reported by the flag set.
var errUsage = errors.New("usage error")

// newFlags returns a flag set for a subcommand that reports to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vqa "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vqa %s [flags]\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into errUsage (the flag package
// has already printed them) and refusing stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
