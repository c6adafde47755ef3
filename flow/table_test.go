package flow

import (
	"bytes"
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

// TestTimerLaneBlocks checks the block FIFO of a lane against a slice:
// pushes, pops and filters across block boundaries.
func TestTimerLaneBlocks(t *testing.T) {
	var l timerLane
	var free []*timerBlock
	var ref []timer
	rng := rand.New(rand.NewPCG(3, 4))
	next := int64(0)
	for step := 0; step < 100_000; step++ {
		switch r := rng.IntN(100); {
		case r < 55:
			next++
			tm := timer{when: next}
			l.push(tm, &free)
			ref = append(ref, tm)
		case r < 99:
			if len(ref) == 0 {
				if !l.empty() {
					t.Fatalf("step %d: lane not empty", step)
				}
				continue
			}
			if got := l.pop(&free); got.when != ref[0].when {
				t.Fatalf("step %d: pop %d, want %d", step, got.when, ref[0].when)
			}
			ref = ref[1:]
		default:
			keep := func(tm *timer) bool { return tm.when%3 != 0 }
			l.filter(keep, &free)
			var kept []timer
			for _, tm := range ref {
				if keep(&tm) {
					kept = append(kept, tm)
				}
			}
			ref = kept
		}
		if l.len() != len(ref) || l.empty() != (len(ref) == 0) {
			t.Fatalf("step %d: len %d empty %v, want %d", step, l.len(), l.empty(), len(ref))
		}
		if len(ref) > 0 && (l.front().when != ref[0].when || l.back().when != ref[len(ref)-1].when) {
			t.Fatalf("step %d: front %d back %d, want %d %d", step, l.front().when, l.back().when, ref[0].when, ref[len(ref)-1].when)
		}
	}
}

// TestSizesCompact checks the UDP/ICMP sizes kept as 32 low bits plus one:
// −1 until something is seen, a negative sum restarting at the next
// datagram (as the int64 it replaces did), and sums past 2^32.
func TestSizesCompact(t *testing.T) {
	tr := NewTracker(Config{}, nil)
	c := &conn{}
	if c.size(0) != -1 || c.size(1) != -1 {
		t.Fatalf("fresh sizes %d %d", c.size(0), c.size(1))
	}
	tr.addSize(c, 0, -5)
	tr.addSize(c, 0, 7) // a negative size counts as nothing seen
	if c.size(0) != 7 {
		t.Fatalf("size %d, want 7", c.size(0))
	}
	for range 70_000 {
		tr.addSize(c, 1, 65_527)
	}
	if want := int64(70_000) * 65_527; c.size(1) != want || c.size(0) != 7 {
		t.Fatalf("sizes %d %d, want 7 %d", c.size(0), c.size(1), want)
	}
	tr.addSize(c, 0, -100)
	if c.size(0) != -93 {
		t.Fatalf("size %d, want -93", c.size(0))
	}
}

// TestKeyWordsMatchBytes checks the word-at-a-time key order and equality
// against byte comparisons, with addresses that share long prefixes.
func TestKeyWordsMatchBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	addr := func() [16]byte {
		var a [16]byte
		for i := range a {
			if rng.IntN(3) > 0 {
				a[i] = byte(rng.IntN(3)) // few distinct bytes: long equal prefixes
			}
		}
		return a
	}
	for range 100_000 {
		a, b := addr(), addr()
		pa, pb := uint16(rng.IntN(3)), uint16(rng.IntN(3))
		want := bytes.Compare(a[:], b[:]) < 0 || (a == b && pa < pb)
		if got := addrPortLess(&a, pa, &b, pb); got != want {
			t.Fatalf("addrPortLess(%x:%d, %x:%d) = %v", a, pa, b, pb, got)
		}
		k1 := connKey{a: a, b: b, pa: pa, pb: pb, proto: 6}
		k2 := connKey{a: addr(), b: addr(), pa: pa, pb: pb, proto: 6}
		if k1.equal(&k2) != (k1 == k2) || !k1.equal(&k1) {
			t.Fatalf("equal(%v, %v) disagrees with ==", k1, k2)
		}
	}
}
