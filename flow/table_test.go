package flow

import (
	"math/rand/v2"
	"testing"
)

// TestConnTableAgainstMap drives the hash index with random inserts and
// deletes over a small key space (long probe runs, wrap-around at the end
// of the index, growth) and checks every lookup against a Go map.
func TestConnTableAgainstMap(t *testing.T) {
	tb := newConnTable()
	ref := map[connKey]connRef{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func(i int) connKey {
		var k connKey
		k.a[15], k.a[14] = byte(i), byte(i>>8)
		k.pa = uint16(i * 7)
		k.proto = 6
		return k
	}
	for step := 0; step < 200_000; step++ {
		k := key(rng.IntN(3000))
		r, h := tb.lookup(&k)
		if want := ref[k]; r != want {
			t.Fatalf("step %d: lookup %v = %d, want %d", step, k, r, want)
		}
		if r == 0 {
			r, c := tb.alloc()
			c.key, c.ref = k, r
			tb.insert(h, r)
			ref[k] = r
		} else if rng.IntN(2) == 0 {
			tb.delete(&k, r)
			tb.release(r)
			delete(ref, k)
		}
		if tb.count != len(ref) {
			t.Fatalf("step %d: count %d, want %d", step, tb.count, len(ref))
		}
	}
	n := 0
	tb.each(func(r connRef, c *conn) {
		if ref[c.key] != r {
			t.Fatalf("each: slot %d holds %v", r, c.key)
		}
		n++
	})
	if n != len(ref) {
		t.Fatalf("each visited %d, want %d", n, len(ref))
	}
}
