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

// TestCountersPast32Bits checks that ConnSize counters kept as 32-bit low
// halves carry into the connection's extension, and that a flip swaps the
// high halves with the low ones.
func TestCountersPast32Bits(t *testing.T) {
	tr := NewTracker(Config{}, nil)
	c := &conn{}
	c.pkts[0], c.ipBytes[0] = 1<<32-1, 1<<32-100
	tr.countPacket(c, 0, 1500)
	if p, b := c.counts(0); p != 1<<32 || b != 1<<32-100+1500 {
		t.Fatalf("counts %d %d", p, b)
	}
	tr.countPacket(c, 1, 60)
	tr.flipRoles(c)
	if p, b := c.counts(1); p != 1<<32 || b != 1<<32-100+1500 {
		t.Fatalf("after flip: responder counts %d %d", p, b)
	}
	if p, b := c.counts(0); p != 1 || b != 60 {
		t.Fatalf("after flip: originator counts %d %d", p, b)
	}
}
