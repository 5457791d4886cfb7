// Command gen writes a synthetic CloudTrail log file (package trailgen) for memory and speed measurements:
//
//	go run ./internal/trailgen/gen -mb 500 -kms 5 [-gzip] -o /tmp/trail-500.json
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/grantwatch/grantwatch/internal/trailgen"
)

func main() {
	mb := flag.Int64("mb", 50, "size of the log file before compression, MB")
	kms := flag.Int("kms", 5, "percent of the records that are Bedrock KMS records")
	gz := flag.Bool("gzip", false, "gzip the file, as CloudTrail delivers it")
	out := flag.String("o", "", "file to write")
	flag.Parse()
	if *out == "" || *kms < 0 || *kms > 100 {
		fmt.Fprintln(os.Stderr, "gen: -o FILE is required; -kms is a percentage")
		os.Exit(2)
	}
	if err := write(*out, *mb<<20, *kms, *gz); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(path string, size int64, kms int, gz bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	if _, err := io.Copy(w, trailgen.Reader(size, kms)); err != nil {
		f.Close()
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
