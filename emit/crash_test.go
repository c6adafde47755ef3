package emit

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// crashWindow is the window number w of the crash test: 200 records.
func crashWindow(w int) []aggregate.Interval {
	return testRecords(200, esDay.Add(time.Duration(w)*time.Minute))
}

// TestMain runs the crash test's writer process when asked to.
func TestMain(m *testing.M) {
	if url, dir := os.Getenv("NETBASED_CRASH_ES"), os.Getenv("NETBASED_CRASH_SPOOL"); url != "" && dir != "" {
		crashWriter(url, dir)
		os.Exit(1) // killed before
	}
	os.Exit(m.Run())
}

// crashWriter is the process the crash test kills: it writes windows to
// an Elasticsearch output with a spool until it is killed, printing the
// number of each window whose EndWindow returned (durable).
func crashWriter(url, dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o, err := DefaultRegistry().Open(context.Background(), "es+"+url+"/nb-%Y.%m.%d", OpenParams{Format: FormatJSON},
		OutputOptions{SpoolDir: dir, BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	if err != nil {
		fail(err)
	}
	for w := 0; ; w++ {
		recs := crashWindow(w)
		for i := range recs {
			if err := o.WriteInterval(&recs[i]); err != nil {
				fail(err)
			}
		}
		if err := o.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
			fail(err)
		}
		fmt.Printf("committed %d\n", w)
		time.Sleep(time.Millisecond)
	}
}

// kill -9 while records are being delivered: the spool replayed by the
// next process delivers every record of every committed window, and a
// record delivered twice (sent, then the crash before its ack was kept)
// overwrites itself under its _id instead of doubling.
func TestKill9MidDeliveryLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	es := startFakeES(t, nil)
	es.setRespond(func(int, []esDoc) (int, []int) {
		time.Sleep(20 * time.Millisecond) // a slow back end: the spool fills
		return http.StatusOK, nil
	})
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NETBASED_CRASH_ES="+es.url, "NETBASED_CRASH_SPOOL="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed, _ = strconv.Atoi(n)
			if committed == 30 {
				break
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The writer went on until the signal landed: read what it printed.
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed, _ = strconv.Atoi(n)
		}
	}
	cmd.Wait()
	if committed < 30 { // the writer failed before it was killed
		t.Fatalf("the writer committed only %d windows before it ended", committed)
	}
	es.mu.Lock()
	before := len(es.byID)
	es.mu.Unlock()

	es.setRespond(nil)
	o := openES(t, es.url, FormatJSON, OutputOptions{SpoolDir: dir})
	replayed := o.Stats().Replayed
	flush(t, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	again := 0
	for w := 0; w <= committed; w++ {
		recs := crashWindow(w)
		for i := range recs {
			n := es.indexed[recordID(&recs[i])]
			if n == 0 {
				t.Fatalf("record %d of committed window %d was lost", i, w)
			}
			again += n - 1
		}
	}
	// Every document indexed is one of the records written (committed or
	// in the window being written at the kill), each under one _id.
	for id, d := range es.byID {
		var end time.Time
		if s, _ := d.source["end_time"].(string); s != "" {
			end, _ = time.Parse(time.RFC3339Nano, s)
		}
		w := int(end.Sub(esDay) / time.Minute)
		if w < 0 || w > committed+1 {
			t.Fatalf("document %s from window %d, the writer reached %d", id, w, committed+1)
		}
	}
	t.Logf("killed after %d committed windows: %d documents indexed before the kill, %d records replayed from the spool, "+
		"%d delivered again (overwritten by _id), %d distinct documents", committed+1, before, replayed, again, len(es.byID))
}
