package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netbased/netbased/bench/traffic"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, stdout string)
	}{
		{name: "no output", args: nil, wantErr: "-o is required"},
		{name: "bad flag", args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		{name: "scaled trace into pcaps/", args: []string{"-o", filepath.Join(dir, "pcaps", "big.pcap"), "-scale", "2"}, wantErr: "refusing"},
		{name: "pcap matches the library", args: []string{"-o", filepath.Join(dir, "out", "t.pcap"), "-seed", "3", "-sessions", "4"},
			check: func(t *testing.T, _ string) {
				got, err := os.ReadFile(filepath.Join(dir, "out", "t.pcap"))
				if err != nil {
					t.Fatal(err)
				}
				var want bytes.Buffer
				if _, err := traffic.WritePcap(&want, traffic.Config{Seed: 3, Sessions: 4}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("gen wrote %d bytes, library gives %d", len(got), want.Len())
				}
			}},
		{name: "markdown manifest", args: []string{"-manifest", "-sessions", "3"},
			check: func(t *testing.T, stdout string) {
				if !strings.Contains(stdout, "| # | start | kind |") || !strings.Contains(stdout, "packets, ") {
					t.Fatalf("no summary or table in:\n%s", stdout)
				}
			}},
		{name: "json manifest", args: []string{"-manifest-json", "-sessions", "3"},
			check: func(t *testing.T, stdout string) {
				sc := bufio.NewScanner(strings.NewReader(stdout))
				n := 0
				for sc.Scan() {
					var s traffic.Session
					if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
						t.Fatalf("line %d: %v", n+1, err)
					}
					if s.ConnState == "" || s.Packets == 0 {
						t.Fatalf("line %d lacks expectations: %s", n+1, sc.Text())
					}
					n++
				}
				if n < 50 {
					t.Fatalf("only %d sessions", n)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v (stderr %s)", err, stderr.String())
			}
			tc.check(t, stdout.String())
		})
	}
}
