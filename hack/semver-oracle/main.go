// Command semver-oracle evaluates Masterminds/semver v3 (the library Flux's
// source-controller uses for GitRepository spec.ref.semver) on the inputs of
// Eddy's semver tests and prints the answers as tab-separated lines.
//
// Usage: semver-oracle CONSTRAINTS_FILE VERSIONS_FILE
//
// Output lines (one input per line, '#' comments and blank lines skipped):
//
//	constraint <TAB> C <TAB> ok|error
//	version    <TAB> V <TAB> ok|error            (Flux's version.ParseVersion: three dot-separated parts, then NewVersion)
//	check      <TAB> C <TAB> V <TAB> true|false  (for every valid constraint and valid version)
//	compare    <TAB> V1 <TAB> V2 <TAB> -1|0|1    (for every pair of valid versions)
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
)

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// parseVersion is fluxcd/pkg/version.ParseVersion.
func parseVersion(v string) (*semver.Version, error) {
	if len(strings.SplitN(v, ".", 3)) != 3 {
		return nil, semver.ErrInvalidSemVer
	}
	return semver.NewVersion(v)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: semver-oracle CONSTRAINTS_FILE VERSIONS_FILE")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()

	type namedC struct {
		s string
		c *semver.Constraints
	}
	type namedV struct {
		s string
		v *semver.Version
	}
	var cs []namedC
	for _, c := range readLines(os.Args[1]) {
		parsed, err := semver.NewConstraint(c)
		if err != nil {
			fmt.Fprintf(w, "constraint\t%s\terror\n", c)
			continue
		}
		fmt.Fprintf(w, "constraint\t%s\tok\n", c)
		cs = append(cs, namedC{c, parsed})
	}
	var vs []namedV
	for _, v := range readLines(os.Args[2]) {
		parsed, err := parseVersion(v)
		if err != nil {
			fmt.Fprintf(w, "version\t%s\terror\n", v)
			continue
		}
		fmt.Fprintf(w, "version\t%s\tok\n", v)
		vs = append(vs, namedV{v, parsed})
	}
	for _, c := range cs {
		for _, v := range vs {
			fmt.Fprintf(w, "check\t%s\t%s\t%t\n", c.s, v.s, c.c.Check(v.v))
		}
	}
	for _, a := range vs {
		for _, b := range vs {
			fmt.Fprintf(w, "compare\t%s\t%s\t%d\n", a.s, b.s, a.v.Compare(b.v))
		}
	}
}
