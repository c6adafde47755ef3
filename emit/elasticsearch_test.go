package emit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// esDoc is one document the fake Elasticsearch indexed.
type esDoc struct {
	index, id string
	source    map[string]any
}

// fakeES is a stand-in for Elasticsearch's _bulk endpoint on a loopback
// port: it parses the NDJSON body, asks respond how to answer, and keeps
// the documents it acknowledged by _id, counting every index operation.
type fakeES struct {
	t   testing.TB
	srv *http.Server
	url string

	mu       sync.Mutex
	requests int
	byID     map[string]esDoc
	indexed  map[string]int // index operations per _id
	// respond returns the HTTP status of request number req (from 1) and,
	// for 200, each item's status (nil: all 201). Nil respond: all 201.
	respond func(req int, items []esDoc) (int, []int)
}

// startFakeES serves on ln (a fresh loopback port when nil).
func startFakeES(t testing.TB, ln net.Listener) *fakeES {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeES{t: t, url: "http://" + ln.Addr().String(), byID: map[string]esDoc{}, indexed: map[string]int{}}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go f.srv.Serve(ln)
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// setRespond replaces the answering function.
func (f *fakeES) setRespond(fn func(req int, items []esDoc) (int, []int)) {
	f.mu.Lock()
	f.respond = fn
	f.mu.Unlock()
}

// freePort returns a loopback address nothing listens on (yet).
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":"not a bulk request"}`, http.StatusBadRequest)
		f.t.Errorf("fake ES: unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	// A client that gave up on the request (a timeout under load) leaves a
	// truncated body: index nothing of it, as Elasticsearch would not.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	items, err := parseBulk(bytes.NewReader(body))
	if err != nil {
		f.t.Errorf("fake ES: %v", err)
		http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests++
	req := f.requests
	respond := f.respond
	f.mu.Unlock()
	status, itemStatus := http.StatusOK, []int(nil)
	if respond != nil {
		status, itemStatus = respond(req, items)
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"type":"fake","reason":"status %d"},"status":%d}`, status, status)
		return
	}
	var out bytes.Buffer
	errorsSeen := false
	out.WriteString(`{"took":1,"items":[`)
	f.mu.Lock()
	for i, it := range items {
		st := http.StatusCreated
		if itemStatus != nil {
			st = itemStatus[i]
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if st >= 200 && st <= 299 {
			f.byID[it.id] = it
			f.indexed[it.id]++
			fmt.Fprintf(&out, `{"index":{"_index":%q,"_id":%q,"status":%d}}`, it.index, it.id, st)
			continue
		}
		errorsSeen = true
		typ := "es_rejected_execution_exception"
		if st == http.StatusBadRequest {
			typ = "mapper_parsing_exception"
		}
		fmt.Fprintf(&out, `{"index":{"_index":%q,"status":%d,"error":{"type":%q,"reason":"fake failure"}}}`, it.index, st, typ)
	}
	f.mu.Unlock()
	fmt.Fprintf(&out, `],"errors":%t}`, errorsSeen)
	w.Write(out.Bytes())
}

// parseBulk reads action/source line pairs.
func parseBulk(r io.Reader) ([]esDoc, error) {
	var items []esDoc
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			return nil, fmt.Errorf("action line %q: %v", sc.Text(), err)
		}
		var d esDoc
		for name, meta := range action {
			if name != "index" {
				return nil, fmt.Errorf("action %q, want index", name)
			}
			d.index, _ = meta["_index"].(string)
			d.id, _ = meta["_id"].(string)
		}
		if d.id == "" {
			return nil, fmt.Errorf("action without _id: %s", sc.Text())
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("action without source")
		}
		if err := json.Unmarshal(sc.Bytes(), &d.source); err != nil {
			return nil, fmt.Errorf("source line %q: %v", sc.Text(), err)
		}
		items = append(items, d)
	}
	return items, sc.Err()
}

// testRecords are n records of the window ending at end, addresses
// 10.0.x.y.
func testRecords(n int, end time.Time) []aggregate.Interval {
	base := sampleRecords()[1]
	recs := make([]aggregate.Interval, n)
	for i := range recs {
		r := base
		r.Address = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		r.StartTime, r.EndTime = end.Add(-5*time.Minute), end
		r.ConnectionsCount = uint64(i + 1)
		recs[i] = r
	}
	return recs
}

// recordID is the _id a record is indexed under.
func recordID(r *aggregate.Interval) string {
	d := Document{Address: r.Address, Start: r.StartTime, Sensor: SensorOf(r)}
	return d.ID().String()
}

// writeWindow writes recs and ends their window, failing if that waits
// for the back end (a generous bound: the point is not waiting seconds).
func writeWindow(t testing.TB, o *Output, recs []aggregate.Interval) {
	t.Helper()
	began := time.Now()
	for i := range recs {
		if err := o.WriteInterval(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("writing a window of %d records took %v: the caller waited for the back end", len(recs), took)
	}
}

// checkIndexedOnce fails unless the fake holds exactly want (by _id), in
// the index the record's window end names.
func (f *fakeES) checkIndexedOnce(t *testing.T, want []aggregate.Interval, format Format) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.byID) != len(want) {
		t.Errorf("%d documents indexed, want %d", len(f.byID), len(want))
	}
	for i := range want {
		r := &want[i]
		d, ok := f.byID[recordID(r)]
		if !ok {
			t.Errorf("record of %s (window end %v) missing", r.Address, r.EndTime)
			continue
		}
		wantIndex := "nb-" + r.EndTime.UTC().Format("2006.01.02")
		if d.index != wantIndex {
			t.Errorf("%s: _index %q, want %q", r.Address, d.index, wantIndex)
		}
		var addr any
		if format == FormatJSON {
			addr = d.source["address"]
			if d.source["elasticsearch_index"] != wantIndex {
				t.Errorf("%s: elasticsearch_index %v", r.Address, d.source["elasticsearch_index"])
			}
		} else {
			addr = d.source["zeek"].(map[string]any)["address"]
		}
		if addr != r.Address.String() {
			t.Errorf("document %s holds address %v, want %s", d.id, addr, r.Address)
		}
	}
}

// openES opens an Elasticsearch output through the registry.
func openES(t testing.TB, url string, format Format, opt OutputOptions) *Output {
	t.Helper()
	if opt.BackoffMin == 0 {
		opt.BackoffMin, opt.BackoffMax = time.Millisecond, 50*time.Millisecond
	}
	o, err := DefaultRegistry().Open(context.Background(), "es+"+url+"/nb-%Y.%m.%d", OpenParams{Format: format}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		o.Close(ctx)
	})
	return o
}

func flush(t testing.TB, o *Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (stats %+v)", err, o.Stats())
	}
}

var esDay = time.Date(2026, 11, 27, 23, 55, 0, 0, time.UTC)

// Every record reaches Elasticsearch once, under its DocumentID, in the
// daily index of its window end, in both document formats.
func TestElasticsearchOutputIndexesEachRecordOnce(t *testing.T) {
	for _, format := range []Format{FormatJSON, FormatDynamite} {
		t.Run(format.String(), func(t *testing.T) {
			es := startFakeES(t, nil)
			o := openES(t, es.url, format, OutputOptions{})
			var all []aggregate.Interval
			for w := range 3 { // the third window is on the next day
				recs := testRecords(700, esDay.Add(time.Duration(w)*5*time.Minute))
				writeWindow(t, o, recs)
				all = append(all, recs...)
			}
			flush(t, o)
			if err := o.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			es.checkIndexedOnce(t, all, format)
			st := o.Stats()
			if st.Delivered != uint64(len(all)) || st.Pending != 0 || st.DroppedTotal() != 0 || st.Kind != "elasticsearch" {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Failed requests and items are retried until they arrive; a document
// Elasticsearch rejects (a mapping error) is dropped, counted, and shows
// in the health.
func TestElasticsearchOutputRetriesAndCountsRejections(t *testing.T) {
	es := startFakeES(t, nil)
	recs := testRecords(50, esDay)
	rejected := recordID(&recs[7])
	es.setRespond(func(req int, items []esDoc) (int, []int) {
		switch req {
		case 1:
			return http.StatusServiceUnavailable, nil
		case 2:
			return http.StatusTooManyRequests, nil
		}
		st := make([]int, len(items))
		for i, it := range items {
			switch {
			case it.id == rejected:
				st[i] = http.StatusBadRequest
			case req == 3 && i%3 == 0:
				st[i] = http.StatusTooManyRequests
			default:
				st[i] = http.StatusCreated
			}
		}
		return http.StatusOK, st
	})
	o := openES(t, es.url, FormatJSON, OutputOptions{})
	writeWindow(t, o, recs)
	flush(t, o)
	want := append(append([]aggregate.Interval{}, recs[:7]...), recs[8:]...)
	es.checkIndexedOnce(t, want, FormatJSON)
	st := o.Stats()
	if st.Delivered != 49 || st.Dropped[DropRejected] != 1 || st.Retried == 0 || st.Pending != 0 {
		t.Errorf("stats %+v: want 49 delivered, 1 rejected, retries", st)
	}
	h := o.Health()
	if h.State != StateDropping || h.Err == nil || !strings.Contains(h.Err.Error(), "mapper_parsing_exception") {
		t.Errorf("health %v %v: want dropping with the mapping error", h.State, h.Err)
	}
}

// A dead port: records wait in the spool, the caller never waits, Close
// honours its deadline; after a restart against a server that came up,
// every record is indexed once by _id and the spool empties.
func TestElasticsearchOutputDeadPortSpoolsAndDeliversAfterRestart(t *testing.T) {
	addr := freePort(t)
	spool := t.TempDir()
	opt := OutputOptions{SpoolDir: spool}
	o := openES(t, "http://"+addr, FormatJSON, opt)
	var all []aggregate.Interval
	for w := range 4 {
		recs := testRecords(300, esDay.Add(time.Duration(w)*5*time.Minute))
		writeWindow(t, o, recs)
		all = append(all, recs...)
	}
	waitFor(t, "the output reports spooling", func() bool {
		h := o.Health()
		return h.State == StateSpooling && h.Err != nil && strings.Contains(h.Err.Error(), addr)
	})
	if !o.Health().OK() {
		t.Error("spooling within bounds is unhealthy")
	}
	st := o.Stats()
	if st.Pending != int64(len(all)) || st.SpooledBytes == 0 || st.DroppedTotal() != 0 {
		t.Errorf("stats while the back end is down: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	began := time.Now()
	err := o.Close(ctx)
	cancel()
	took := time.Since(began)
	t.Logf("Close with a 300ms deadline returned after %v", took)
	if took > 5*time.Second {
		t.Errorf("Close took %v with a 300ms deadline", took)
	}
	if err != nil {
		t.Errorf("Close: %v; records kept in the spool are no error", err)
	}
	if st := o.Stats(); st.Pending != int64(len(all)) {
		t.Errorf("after Close %d records pending (kept in the spool), want %d", st.Pending, len(all))
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	es := startFakeES(t, ln)
	o2 := openES(t, es.url, FormatJSON, opt)
	if st := o2.Stats(); st.Replayed != uint64(len(all)) {
		t.Errorf("replayed %d records from the spool, want %d", st.Replayed, len(all))
	}
	flush(t, o2)
	if err := o2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	es.checkIndexedOnce(t, all, FormatJSON)
	segs, _ := filepath.Glob(filepath.Join(spool, "*", "*"+spoolSegExt))
	if len(segs) != 0 {
		t.Errorf("segments left after delivering everything: %v", segs)
	}
}

// A server that accepts and never answers: the caller never waits, and
// Close returns at its deadline with the records kept in the spool.
func TestElasticsearchOutputStalledServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // never read, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	o := openES(t, "http://"+ln.Addr().String(), FormatDynamite, OutputOptions{SpoolDir: t.TempDir(), StallTimeout: 200 * time.Millisecond})
	for w := range 3 {
		writeWindow(t, o, testRecords(500, esDay.Add(time.Duration(w)*5*time.Minute)))
	}
	waitFor(t, "the health says the back end stalls", func() bool {
		h := o.Health()
		return h.State == StateSpooling && h.OK() && h.Err != nil && strings.Contains(h.Err.Error(), "waiting for the back end")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err = o.Close(ctx)
	took := time.Since(began)
	t.Logf("Close with a 300ms deadline returned after %v", took)
	if took > 5*time.Second {
		t.Errorf("Close took %v with a 300ms deadline", took)
	}
	if err != nil {
		t.Errorf("Close: %v; records kept in the spool are no error", err)
	}
	if st := o.Stats(); st.Pending != 1500 {
		t.Errorf("after Close %d records pending (kept in the spool), want 1500", st.Pending)
	}
}

// A server that comes up while the output runs gets every record once,
// and the health recovers.
func TestElasticsearchOutputServerComesUpLater(t *testing.T) {
	addr := freePort(t)
	o := openES(t, "http://"+addr, FormatJSON, OutputOptions{SpoolDir: t.TempDir()})
	recs := testRecords(400, esDay)
	writeWindow(t, o, recs)
	waitFor(t, "spooling", func() bool { return o.Health().State == StateSpooling })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	es := startFakeES(t, ln)
	flush(t, o)
	es.checkIndexedOnce(t, recs, FormatJSON)
	if h := o.Health(); h.State != StateDelivering || h.Err != nil {
		t.Errorf("health after recovery: %v %v", h.State, h.Err)
	}
}

// With the back end down, a spool at its bound drops its oldest records,
// counted; the newest are delivered when the back end comes up.
func TestElasticsearchOutputSpoolBoundDropsOldest(t *testing.T) {
	addr := freePort(t)
	const bound = 2 << 20
	o := openES(t, "http://"+addr, FormatJSON, OutputOptions{SpoolDir: t.TempDir(), SpoolMaxBytes: bound})
	var all []aggregate.Interval
	for w := range 12 { // about 6 MB of records
		recs := testRecords(800, esDay.Add(time.Duration(w)*5*time.Minute))
		writeWindow(t, o, recs)
		all = append(all, recs...)
		if _, disk := o.q.size(); disk > bound {
			t.Fatalf("the spool holds %d bytes, bound %d", disk, bound)
		}
	}
	st := o.Stats()
	if st.Dropped[DropSpoolFull] == 0 || o.Health().State != StateDropping {
		t.Fatalf("nothing dropped past the bound: %+v", st)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	es := startFakeES(t, ln)
	flush(t, o)
	st = o.Stats()
	if st.Delivered+st.Dropped[DropSpoolFull] != uint64(len(all)) || st.Pending != 0 {
		t.Errorf("%d delivered + %d dropped != %d records", st.Delivered, st.Dropped[DropSpoolFull], len(all))
	}
	// The newest window arrived whole.
	es.mu.Lock()
	defer es.mu.Unlock()
	for i := len(all) - 800; i < len(all); i++ {
		if es.indexed[recordID(&all[i])] != 1 {
			t.Fatalf("a record of the newest window arrived %d times", es.indexed[recordID(&all[i])])
		}
	}
}

// Without a spool, a full memory queue drops its oldest records, counted,
// and never makes the caller wait.
func TestOutputMemoryQueueDropsOldest(t *testing.T) {
	o := openES(t, "http://"+freePort(t), FormatJSON, OutputOptions{QueueBytes: 1 << 20})
	n := 0
	for w := range 10 {
		recs := testRecords(1000, esDay.Add(time.Duration(w)*5*time.Minute))
		writeWindow(t, o, recs)
		n += len(recs)
	}
	st := o.Stats()
	if st.Dropped[DropQueueFull] == 0 || st.QueuedBytes > 2<<20 {
		t.Errorf("stats %+v: want drops and at most about 1 MiB queued", st)
	}
	if int64(st.Dropped[DropQueueFull])+st.Pending != int64(n) {
		t.Errorf("%d dropped + %d pending != %d written", st.Dropped[DropQueueFull], st.Pending, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o.Close(ctx)
	st = o.Stats()
	if st.Pending != 0 || st.Dropped[DropShutdown] == 0 {
		t.Errorf("after Close without a spool: %+v; want the rest counted as shutdown drops", st)
	}
}

// Replay's Block policy gives up on a batch after MaxRetryTime, counts it
// and says so at Close.
func TestOutputBlockGivesUpAfterMaxRetryTime(t *testing.T) {
	o := openES(t, "http://"+freePort(t), FormatJSON, OutputOptions{Policy: Block, MaxRetryTime: 300 * time.Millisecond})
	for w := range 20 { // 20 batches: one gives up after 300ms, the others at once
		writeWindow(t, o, testRecords(10, esDay.Add(time.Duration(w)*time.Minute)))
	}
	began := time.Now()
	err := o.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "200 records lost (200 retries_exhausted)") {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Close took %v: every batch waited its own MaxRetryTime", took)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestElasticsearchSinkRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ElasticsearchConfig
		want string
	}{
		{"zeek format", ElasticsearchConfig{URLs: []string{"http://localhost:9200"}, Format: FormatZeek}, "the zeek format is not supported"},
		{"clickhouse format", ElasticsearchConfig{URLs: []string{"http://localhost:9200"}, Format: FormatClickHouse}, "the clickhouse format is not supported"},
		{"no URL", ElasticsearchConfig{}, "no URL"},
		{"bad URL", ElasticsearchConfig{URLs: []string{"localhost:9200"}}, "want http://"},
		{"upper case index", ElasticsearchConfig{URLs: []string{"http://h:9200"}, Index: "NetBase"}, "lowercase"},
		{"unknown verb", ElasticsearchConfig{URLs: []string{"http://h:9200"}, Index: "nb-%s"}, "unknown %s"},
		{"trailing percent", ElasticsearchConfig{URLs: []string{"http://h:9200"}, Index: "nb-%"}, "ends with %"},
		{"bad character", ElasticsearchConfig{URLs: []string{"http://h:9200"}, Index: "nb/%Y"}, "must not contain"},
		{"leading underscore", ElasticsearchConfig{URLs: []string{"http://h:9200"}, Index: "_nb"}, "must not start"},
		{"missing CA file", ElasticsearchConfig{URLs: []string{"https://h:9200"}, CAFile: "/nonexistent/ca.pem"}, "reading CA file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewElasticsearchSink(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("accepted, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseElasticsearchOut(t *testing.T) {
	for _, tc := range []struct {
		out      string
		ok       bool
		urls     []string
		index    string
		user     string
		password string
		err      bool
	}{
		{out: "/var/log/netbase.json"},
		{out: "-"},
		{out: "es+http://localhost:9200", ok: true, urls: []string{"http://localhost:9200"}},
		{out: "es+http://localhost:9200/netbase-%Y.%m.%d", ok: true, urls: []string{"http://localhost:9200"}, index: "netbase-%Y.%m.%d"},
		{out: "es+https://elastic:p%40ss@a:9200,b:9200/dynamite-netbase", ok: true,
			urls: []string{"https://a:9200", "https://b:9200"}, index: "dynamite-netbase", user: "elastic", password: "p@ss"},
		// A password with a slash stays a password.
		{out: "es+http://elastic:S3cret/PW@h:9200/nb", ok: true, urls: []string{"http://h:9200"}, index: "nb",
			user: "elastic", password: "S3cret/PW"},
		{out: "es+ftp://h/x", ok: true, err: true},
		{out: "es+http://h:9200/Bad", ok: true, err: true},
		{out: "es+http://a,,b/x", ok: true, err: true},
	} {
		cfg, ok, err := ParseElasticsearchOut(tc.out)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%q: ok %v err %v, want ok %v err %v", tc.out, ok, err, tc.ok, tc.err)
			continue
		}
		if err != nil || !ok {
			continue
		}
		if fmt.Sprint(cfg.URLs) != fmt.Sprint(tc.urls) || cfg.Index != tc.index || cfg.Username != tc.user || cfg.Password != tc.password {
			t.Errorf("%q: got %+v", tc.out, cfg)
		}
	}
}

func FuzzParseElasticsearchOut(f *testing.F) {
	for _, s := range []string{"es+http://localhost:9200/netbase-%Y.%m.%d", "es+https://u:p@a,b/x", "es+http://h/%",
		"es+http://u:a/b@h/x", "es+http://u:%zz@h", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		cfg, ok, err := ParseElasticsearchOut(out)
		if err != nil && cfg.Password != "" && strings.Contains(err.Error(), cfg.Password) {
			t.Fatalf("%q: the error shows the password: %v", out, err)
		}
		if !ok || err != nil {
			return
		}
		if len(cfg.URLs) == 0 {
			t.Fatalf("%q: accepted without a URL", out)
		}
		if cfg.Index != "" {
			if _, err := parseIndexPattern(cfg.Index); err != nil {
				t.Fatalf("%q: accepted an invalid index: %v", out, err)
			}
		}
	})
}

// The bulk body names a valid index for any window end, and every
// document is one line.
func FuzzElasticsearchItem(f *testing.F) {
	f.Add(int64(1764215100e9), []byte(`{"address":"10.0.0.1"}`+"\n"), true)
	f.Add(int64(-1), []byte("{}"), false)
	f.Add(int64(1<<62), []byte(""), true)
	sinks := map[bool]*ElasticsearchSink{}
	for _, js := range []bool{true, false} {
		format := FormatDynamite
		if js {
			format = FormatJSON
		}
		s, err := NewElasticsearchSink(ElasticsearchConfig{URLs: []string{"http://127.0.0.1:9"}, Format: format, Index: "nb-%Y.%m.%d-%H"})
		if err != nil {
			f.Fatal(err)
		}
		sinks[js] = s
	}
	f.Fuzz(func(t *testing.T, endNS int64, body []byte, js bool) {
		s := sinks[js]
		d := Document{Address: netip.MustParseAddr("10.0.0.1"), End: time.Unix(0, endNS), Body: body}
		if err := validIndexName(s.indexOf(d.End)); err != nil {
			t.Fatalf("index for %v: %v", d.End, err)
		}
		item := s.appendItem(nil, &d)
		if bytes.Count(item, []byte("\n")) != 2+bytes.Count(trimNewline(body), []byte("\n")) {
			t.Fatalf("item %q is not an action line and a source line", item)
		}
	})
}

// The spool directory of an output is private to the process.
func TestSpoolDirectoryPermissions(t *testing.T) {
	dir := t.TempDir()
	o := openES(t, "http://"+freePort(t), FormatJSON, OutputOptions{SpoolDir: dir})
	writeWindow(t, o, testRecords(3, esDay))
	subs, _ := filepath.Glob(filepath.Join(dir, "elasticsearch-*"))
	if len(subs) != 1 {
		t.Fatalf("spool subdirectories %v", subs)
	}
	st, err := os.Stat(subs[0])
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("spool directory mode %v (%v): want no access for group and others", st.Mode(), err)
	}
}

// A reload opens the new output while the old one still holds the spool:
// the new one keeps its records in memory, takes the spool over once the
// old one is closed, and delivers the old one's leftovers and its own,
// each once by _id.
func TestOutputTakesTheSpoolOverFromTheOutputItReplaces(t *testing.T) {
	addr := freePort(t)
	spool := t.TempDir()
	opt := OutputOptions{SpoolDir: spool}
	old := openES(t, "http://"+addr, FormatJSON, opt)
	first := testRecords(300, esDay)
	writeWindow(t, old, first)

	next := openES(t, "http://"+addr, FormatJSON, opt) // the reload
	if _, ok := next.q.(*deferredSpool); !ok {
		t.Fatalf("the new output's queue is a %T, want a deferred spool", next.q)
	}
	// Until the old output is closed the new one's records wait in memory
	// (real reloads switch at a window boundary; this is the worst case).
	mid := testRecords(200, esDay.Add(time.Minute))
	writeWindow(t, next, mid)
	if st := next.Stats(); st.SpooledBytes != 0 || st.QueuedBytes == 0 {
		t.Errorf("while the old output runs: %+v; want the records in memory", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	old.Close(ctx) // the old output's last window was written: it retires
	cancel()
	second := testRecords(300, esDay.Add(5*time.Minute))
	writeWindow(t, next, second) // its EndWindow takes the spool over
	if st := next.Stats(); st.Replayed != 300 || st.SpooledBytes == 0 {
		t.Errorf("after the take-over: %+v; want the old output's 300 records replayed from the spool", st)
	}
	second = append(mid, second...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	es := startFakeES(t, ln)
	flush(t, next)
	if err := next.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	es.checkIndexedOnce(t, append(first, second...), FormatJSON)
}
