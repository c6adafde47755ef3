package classify

import "testing"

func TestRESP(t *testing.T) {
	cmds := []struct {
		in   string
		want tri
	}{
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", yes},
		{"*2\r\n$3\r\nGET\r\n$1\r\n", more},
		{"*0\r\n", no},
		{"*1\r\n:5\r\n", no},
		{"PING\r\n", no},
		{"*1\r\n$-1\r\n", no},
		{"*", more},
	}
	for _, tc := range cmds {
		if got := respCommand([]byte(tc.in)); got != tc.want {
			t.Errorf("respCommand(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	server := []struct {
		in   string
		want tri
	}{
		{"+OK\r\n", yes},
		{"$1\r\n6\r\n", yes},
		{"$-1\r\n", yes},
		{":1.5\r\n", yes},
		{"+OK\n", no},
		{"$x\r\n", no},
		{"HTTP/1.1 200", no},
		{"+OK", more},
	}
	for _, tc := range server {
		if got := redisServerSig([]byte(tc.in)); got != tc.want {
			t.Errorf("redisServerSig(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzRedis(f *testing.F) {
	for _, s := range seedsFor("redis") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "redis", t: TCP, ports: []uint16{6379, 10625}}
	f.Fuzz(func(t *testing.T, data []byte) {
		respCommand(data)
		redisServerSig(data)
		fuzzConn(t, ft, data)
	})
}
