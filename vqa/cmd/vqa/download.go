package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vilt-go/workbook/vqa/download"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
)

func runDownload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("download", "Fetches the official VQAv2 questions/annotations archives (and with -images the COCO\n"+
		"images) for a split and unpacks them into the VQAv2 layout under -root. Interrupted\n"+
		"downloads resume; -vqa-url/-coco-url point at a local mirror to work offline.", stderr)
	root := fs.String("root", "vqav2", "VQAv2-layout folder to fill")
	split := fs.String("split", "val2014", "split: train2014, val2014, test2015 or test-dev2015")
	images := fs.Bool("images", false, "also fetch the split's COCO image archive (6-13 GB)")
	vqaURL := fs.String("vqa-url", download.DefaultVQABaseURL, "base URL of the VQAv2 question/annotation zips")
	cocoURL := fs.String("coco-url", download.DefaultCOCOBaseURL, "base URL of the COCO image zips")
	sums := fs.String("checksums", "", "sha256sum-format file with the expected digests of the archives")
	keep := fs.Bool("keep", false, "keep the zip files in <root>/.download after unpacking")
	retries := fs.Int("retries", 5, "times a broken transfer is resumed before giving up")
	interval := fs.Duration("progress", 2*time.Second, "least time between two progress lines")
	timeout := fs.Duration("timeout", 0, "give up on a server that sends nothing for this long (connecting, answering, or in the middle of a\n"+
		"transfer, which is then resumed); 0: 30s to connect, 60s otherwise")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := download.Options{
		VQABaseURL: *vqaURL, COCOBaseURL: *cocoURL, Images: *images, Keep: *keep, Log: stdout,
		Fetcher: &download.Fetcher{
			Timeouts: httptimeout.Timeouts{Connect: *timeout, Header: *timeout, Idle: *timeout},
			Progress: stdout, Interval: *interval, Retries: *retries, RetryWait: time.Second,
		},
	}
	if *sums != "" {
		f, err := os.Open(*sums)
		if err != nil {
			return err
		}
		o.Checksums, err = download.ReadChecksums(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *sums, err)
		}
	}
	return download.Split(ctx, *root, *split, o)
}
