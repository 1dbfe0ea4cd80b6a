// Command flux-archive writes a directory as the tarball Flux's artifact storage writes
// (fluxcd/pkg artifact/storage Storage.Archive, without a filter), to stdout, using only Go's
// standard library: filepath.Walk, symlinks and other non-regular files skipped, names
// relative to the root ("." for it), uid/gid 0, no user or group names, zero times, modes
// 0750 for directories, 0700 for files with an execute bit and 0600 for other files.
//
// It is the reference the eddy-artifact tests compare Eddy's archives with:
//
//	go run ./hack/flux-archive [-gzip] DIR > out
//
// Without -gzip it writes the uncompressed tar stream (Eddy's must be byte-for-byte equal);
// with -gzip the gzip stream Flux stores (only its header can match: Go's deflate is its own).
package main

import (
	"archive/tar"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	gz := flag.Bool("gzip", false, "gzip the tar stream as Flux stores it")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: flux-archive [-gzip] DIR")
		os.Exit(2)
	}
	if err := archive(flag.Arg(0), os.Stdout, *gz); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func archive(dir string, out io.Writer, compress bool) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var gw *gzip.Writer
	w := out
	if compress {
		gw = gzip.NewWriter(out)
		w = gw
	}
	tw := tar.NewWriter(w)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if m := fi.Mode(); !(m.IsRegular() || m.IsDir()) {
			return nil
		}
		header, err := tar.FileInfoHeader(fi, p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		header.Name = rel
		header.Gid, header.Uid = 0, 0
		header.Uname, header.Gname = "", ""
		header.ModTime, header.AccessTime, header.ChangeTime = time.Time{}, time.Time{}, time.Time{}
		switch {
		case header.FileInfo().IsDir():
			header.Mode = 0o750
		case header.FileInfo().Mode()&0o111 != 0:
			header.Mode = 0o700
		default:
			header.Mode = 0o600
		}
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if gw != nil {
		return gw.Close()
	}
	return nil
}
