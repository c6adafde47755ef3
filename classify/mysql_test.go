package classify

import "testing"

func TestMySQLHandshake(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want tri
	}{
		{"v10", "6a0000000a352e352e352d31302e302e33362d4d6172696144422d307562756e7475302e31362e30342e310021000000", yes},
		{"split", "6a0000000a352e35", more},
		{"v9", "6a000000093335", no},
		{"empty-version", "6a0000000a00", no},
		{"text", "GET / HTTP/1.1", no},
	}
	for _, tc := range tests {
		var b []byte
		if tc.name == "text" {
			b = []byte(tc.hex)
		} else {
			b = mustHex(t, tc.hex)
		}
		if got := mysqlHandshake(b); got != tc.want {
			t.Errorf("%s: mysqlHandshake = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func FuzzMySQL(f *testing.F) {
	for _, s := range seedsFor("mysql") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "mysql,ssl", t: TCP, ports: []uint16{3306}}
	f.Fuzz(func(t *testing.T, data []byte) {
		mysqlHandshake(data)
		fuzzConn(t, ft, data)
	})
}
