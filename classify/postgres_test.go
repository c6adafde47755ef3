package classify

import (
	"encoding/hex"
	"testing"
)

// A PostgreSQL 3.0 StartupMessage (user=postgres, database=db).
const hexPGStartup = "00000023000300007573657200706f7374677265730064617461626173650064620000"

func TestPostgres(t *testing.T) {
	startup := hexPGStartup
	if r := pgStartup(mustHex(t, startup[:20])); r != more {
		t.Errorf("pgStartup(truncated) = %d, want more", r)
	}
	if r := pgStartup(mustHex(t, startup)); r != yes {
		t.Errorf("pgStartup = %d, want yes", r)
	}
	if r := pgStartup(mustHex(t, hexHTTPGet)); r != no {
		t.Errorf("pgStartup(HTTP) = %d", r)
	}
	cases := []traceCase{
		{name: "pg-startup", t: TCP, origPort: 40000, respPort: 5432,
			chunks: []chunk{{true, startup}}, want: "postgresql"},
		{name: "pg-ssl", t: TCP, origPort: 40000, respPort: 5432,
			chunks: []chunk{{true, "0000000804d2162f"}, {false, "53"}, {true, hexClientHello}}, want: "postgresql,ssl"},
		{name: "pg-ssl-refused", t: TCP, origPort: 40000, respPort: 5432,
			chunks: []chunk{{true, "0000000804d2162f"}, {false, "4e"}, {true, startup}}, want: "postgresql"},
		{name: "pg-other-port-signature", t: TCP, origPort: 40000, respPort: 15432,
			chunks: []chunk{{true, startup}, {false, "5200000008000000"}}, want: "postgresql"},
		{name: "pg-other-port-no-reply", t: TCP, origPort: 40000, respPort: 15432,
			chunks: []chunk{{true, startup}}, want: ""},
	}
	for _, tc := range cases {
		if got, _ := run(t, tc); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzPostgreSQL(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, "0000000804d2162f"}, chunk{false, "53"}, chunk{true, hexClientHello}))
	f.Add(seedChunks(1, chunk{true, hexPGStartup}, chunk{false, "5200000008000000"}))
	f.Add(seedChunks(0, chunk{true, hex.EncodeToString([]byte("\x00\x00\x00\x08"))}))
	ft := fuzzTarget{enabled: "postgresql,ssl", t: TCP, ports: []uint16{5432, 15432}}
	f.Fuzz(func(t *testing.T, data []byte) {
		pgStartup(data)
		pgClientSig(data)
		pgServerSig(data)
		fuzzConn(t, ft, data)
	})
}
