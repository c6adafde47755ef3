package clickhousetest

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	want, err := ParseJSON([]byte(`{"address":"10.0.0.1","start_time":"s","n":3,"x":0.1,"set":["a","b"]}
{"address":"10.0.0.2","start_time":"s","n":4,"set":[]}
`))
	if err != nil {
		t.Fatal(err)
	}
	x := 0.1
	good := []Row{
		{"address": "10.0.0.1", "start_time": "s", "n": uint64(3), "x": x, "set": []string{"a", "b"}},
		{"address": "10.0.0.2", "start_time": "s", "n": uint64(4), "x": nil, "set": []string{}},
	}
	if res := Compare(good, want); !res.OK() || res.Records != 2 || res.Equal != 10 {
		t.Fatalf("equal rows: %s", res.Summary())
	}
	for name, mutate := range map[string]func(r []Row){
		"count":       func(r []Row) { r[0]["n"] = uint64(4) },
		"last bit":    func(r []Row) { r[0]["x"] = 0.10000000000000002 },
		"null":        func(r []Row) { r[1]["x"] = 0.0 },
		"set":         func(r []Row) { r[0]["set"] = []string{"b", "a"} },
		"missing":     func(r []Row) { delete(r[1], "n") },
		"extra field": func(r []Row) { r[0]["y"] = uint64(1) },
	} {
		bad := []Row{{}, {}}
		for i := range good {
			for k, v := range good[i] {
				bad[i][k] = v
			}
		}
		mutate(bad)
		if res := Compare(bad, want); res.OK() {
			t.Errorf("%s: a difference went unnoticed", name)
		} else if !strings.Contains(res.Summary(), "10.0.0.") {
			t.Errorf("%s: %s", name, res.Summary())
		}
	}
	if res := Compare(good[:1], want); res.OK() {
		t.Error("a missing record went unnoticed")
	}
	if res := Compare(append(good, good[0]), want); res.OK() {
		t.Error("a doubled record went unnoticed")
	}
}
