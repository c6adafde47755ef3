package emit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// esDoc is one document the fake Elasticsearch accepted.
type esDoc struct {
	index  string
	action string
	source map[string]any
}

// fakeES is an in-process stand-in for Elasticsearch's _bulk endpoint: it
// parses the NDJSON body, asks respond how to answer, and records the
// documents it acknowledged.
type fakeES struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests int
	docs     []esDoc
	// respond returns the HTTP status of request number req (from 1) and,
	// for 200, each item's status (nil: all 201). Nil respond: all 201.
	respond func(req int, items []esDoc) (int, []int)
	// arrived gets a value when a request arrives (if not nil; non-blocking).
	arrived chan struct{}
	// stall, if not nil, is waited on before answering.
	stall chan struct{}
}

func newFakeES(t testing.TB) *fakeES {
	f := &fakeES{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":"not a bulk request"}`, http.StatusBadRequest)
		f.t.Errorf("fake ES: unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	if f.arrived != nil {
		select {
		case f.arrived <- struct{}{}:
		default:
		}
	}
	if f.stall != nil {
		<-f.stall
	}
	items, err := parseBulk(r.Body)
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
			f.docs = append(f.docs, it)
			fmt.Fprintf(&out, `{"index":{"_index":%q,"status":%d,"result":"created"}}`, it.index, st)
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
			d.action = name
			d.index, _ = meta["_index"].(string)
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

func (f *fakeES) documents() []esDoc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]esDoc(nil), f.docs...)
}

// fastRetries are settings that keep retrying tests short.
func (f *fakeES) config(format Format) ElasticsearchConfig {
	return ElasticsearchConfig{URLs: []string{f.srv.URL}, Format: format,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, RequestTimeout: 5 * time.Second}
}

// testRecords are n records of one window, addresses 10.0.x.y.
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

// docKey identifies a record in either format: address and window end.
func docKey(t testing.TB, d esDoc) string {
	t.Helper()
	if z, ok := d.source["zeek"].(map[string]any); ok {
		return fmt.Sprint(z["address"], " ", z["endtime"])
	}
	return fmt.Sprint(d.source["address"], " ", d.source["end_time"])
}

func recKey(r *aggregate.Interval) string {
	return r.Address.String() + " " + string(appendRFC3339(nil, r.EndTime))
}

// checkExactlyOnce fails unless docs are exactly want, each once, in the
// index wantIndex[key].
func checkExactlyOnce(t *testing.T, docs []esDoc, want map[string]string, format Format) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range docs {
		k := docKey(t, d)
		seen[k]++
		wi, ok := want[k]
		if !ok {
			t.Errorf("unexpected document %s", k)
			continue
		}
		if d.index != wi {
			t.Errorf("%s: _index %q, want %q", k, d.index, wi)
		}
		if d.action != "index" {
			t.Errorf("%s: action %q, want index", k, d.action)
		}
		ei, has := d.source["elasticsearch_index"]
		switch {
		case format == FormatJSON && ei != wi:
			t.Errorf("%s: elasticsearch_index %v, want %q", k, ei, wi)
		case format == FormatDynamite && has:
			t.Errorf("%s: dynamite document carries elasticsearch_index", k)
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("%s arrived %d times, want once", k, seen[k])
		}
	}
	if len(docs) != len(want) {
		t.Errorf("%d documents arrived, want %d", len(docs), len(want))
	}
}

func TestElasticsearchDeliversEveryRecordOnce(t *testing.T) {
	day1 := time.Date(2026, 11, 27, 23, 55, 0, 0, time.UTC)
	day2 := day1.Add(5 * time.Minute) // a window ending at midnight goes to the next day's index
	for _, tc := range []struct {
		name      string
		format    Format
		index     string
		wantIndex func(end time.Time) string
	}{
		{"json/daily", FormatJSON, "", func(e time.Time) string { return e.Format("netbase-2006.01.02") }},
		{"dynamite/daily", FormatDynamite, "", func(e time.Time) string { return e.Format("netbase-2006.01.02") }},
		{"json/hourly", FormatJSON, "nb-%Y%m%d-%H%%", func(e time.Time) string { return e.Format("nb-20060102-15%") }},
		{"json/fixed", FormatJSON, "netbase", func(time.Time) string { return "netbase" }},
		{"dynamite/fixed", FormatDynamite, "dynamite-netbase", func(time.Time) string { return "dynamite-netbase" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			cfg := es.config(tc.format)
			cfg.Index, cfg.FlushDocs, cfg.Workers = tc.index, 7, 2
			sink, err := NewElasticsearchSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWriter(sink, NewEncoder(tc.format, EncoderOptions{}))
			want := map[string]string{}
			for _, end := range []time.Time{day1, day2} {
				recs := testRecords(50, end)
				for i := range recs {
					if err := w.WriteInterval(&recs[i]); err != nil {
						t.Fatal(err)
					}
					want[recKey(&recs[i])] = tc.wantIndex(end)
				}
				if err := w.EndWindow(end.Add(-5*time.Minute), end); err != nil {
					t.Fatalf("EndWindow: %v", err)
				}
				// Sync returned: everything of the window is acknowledged.
				if got := len(es.documents()); got != len(want) {
					t.Fatalf("after the window ending %s: %d documents, want %d", end, got, len(want))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, es.documents(), want, tc.format)
			st := sink.Stats()
			if st.Documents != uint64(len(want)) || st.Failed != 0 || st.Retried != 0 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
			if st.BulkRequests < uint64(len(want)/7) {
				t.Errorf("%d bulk requests for %d documents in batches of 7", st.BulkRequests, len(want))
			}
		})
	}
}

// writeLines writes n records through a Writer and syncs.
func writeWindow(t *testing.T, sink Sink, format Format, recs []aggregate.Interval) (map[string]string, error) {
	t.Helper()
	w := NewWriter(sink, NewEncoder(format, EncoderOptions{}))
	want := map[string]string{}
	for i := range recs {
		if err := w.WriteInterval(&recs[i]); err != nil {
			t.Fatal(err)
		}
		want[recKey(&recs[i])] = recs[i].EndTime.Format("netbase-2006.01.02")
	}
	return want, w.EndWindow(time.Time{}, time.Time{})
}

func TestElasticsearchRetriesUntilEverythingArrivesOnce(t *testing.T) {
	end := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		respond func(req int, items []esDoc) (int, []int)
	}{
		{"429 on the request", func(req int, _ []esDoc) (int, []int) {
			if req <= 2 {
				return http.StatusTooManyRequests, nil
			}
			return http.StatusOK, nil
		}},
		{"503 on the request", func(req int, _ []esDoc) (int, []int) {
			if req%2 == 1 {
				return http.StatusServiceUnavailable, nil
			}
			return http.StatusOK, nil
		}},
		{"429 on every other item, twice", func(req int, items []esDoc) (int, []int) {
			st := make([]int, len(items))
			for i := range st {
				st[i] = http.StatusCreated
				if req <= 2 && i%2 == 0 {
					st[i] = http.StatusTooManyRequests
				}
			}
			return http.StatusOK, st
		}},
		{"mixed 429/503/500 items", func(req int, items []esDoc) (int, []int) {
			st := make([]int, len(items))
			for i := range st {
				st[i] = []int{http.StatusCreated, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError}[(i+req)%4]
				if req > 4 {
					st[i] = http.StatusOK
				}
			}
			return http.StatusOK, st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			es.respond = tc.respond
			cfg := es.config(FormatJSON)
			cfg.FlushDocs = 10
			sink, err := NewElasticsearchSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := writeWindow(t, sink, FormatJSON, testRecords(40, end))
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			checkExactlyOnce(t, es.documents(), want, FormatJSON)
			st := sink.Stats()
			if st.Retried == 0 || st.Failed != 0 || st.Documents != 40 || st.Pending != 0 {
				t.Errorf("stats %+v: want retries, no failure, 40 documents", st)
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestElasticsearchMappingErrorIsReportedNotRetried(t *testing.T) {
	end := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	es := newFakeES(t)
	const bad = "10.0.0.7"
	es.respond = func(_ int, items []esDoc) (int, []int) {
		st := make([]int, len(items))
		for i, it := range items {
			st[i] = http.StatusCreated
			if it.source["address"] == bad {
				st[i] = http.StatusBadRequest
			}
		}
		return http.StatusOK, st
	}
	sink, err := NewElasticsearchSink(es.config(FormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(20, end)
	want, err := writeWindow(t, sink, FormatJSON, recs)
	if err == nil || !strings.Contains(err.Error(), "mapper_parsing_exception") || !strings.Contains(err.Error(), "netbase-2026.11.27") {
		t.Fatalf("Sync error %v: want the mapping error and the index", err)
	}
	delete(want, bad+" "+string(appendRFC3339(nil, end)))
	checkExactlyOnce(t, es.documents(), want, FormatJSON)
	st := sink.Stats()
	if st.Failed != 1 || st.Retried != 0 || st.Documents != 19 || st.BulkRequests != 1 {
		t.Errorf("stats %+v: want 1 failed, 0 retried, 19 documents, 1 request", st)
	}
	// The failure was reported once; the next window is clean.
	es.respond = nil
	if err := sink.Sync(); err != nil {
		t.Errorf("second Sync: %v", err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestElasticsearchBackPressure(t *testing.T) {
	es := newFakeES(t)
	es.stall = make(chan struct{})
	es.arrived = make(chan struct{}, 1)
	cfg := es.config(FormatJSON)
	cfg.Index, cfg.FlushDocs, cfg.Workers, cfg.QueueBatches = "netbase", 1, 1, 1
	sink, err := NewElasticsearchSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) []byte {
		return fmt.Appendf(nil, `{"address":"10.0.0.%d","end_time":"2026-11-27T04:00:00.000000Z"}`+"\n", i)
	}
	if _, err := sink.Write(line(1)); err != nil { // sent, the server stalls
		t.Fatal(err)
	}
	<-es.arrived
	if _, err := sink.Write(line(2)); err != nil { // waits in the queue
		t.Fatal(err)
	}
	returned := make(chan error)
	go func() {
		_, err := sink.Write(line(3)) // the queue is full: must block
		returned <- err
	}()
	select {
	case err := <-returned:
		t.Fatalf("Write returned (%v) while the queue was full", err)
	case <-time.After(300 * time.Millisecond):
	}
	if st := sink.Stats(); st.Pending != 3 || st.Documents != 0 {
		t.Errorf("while stalled: stats %+v, want 3 pending", st)
	}
	close(es.stall)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(es.documents()); got != 3 {
		t.Errorf("%d documents arrived, want 3", got)
	}
}

func TestElasticsearchCloseFlushesTheRest(t *testing.T) {
	es := newFakeES(t)
	cfg := es.config(FormatDynamite)
	cfg.FlushDocs = 1000
	sink, err := NewElasticsearchSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	recs := testRecords(5, time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	e := NewEncoder(FormatDynamite, EncoderOptions{})
	for i := range recs {
		enc.Write(e.Append(nil, &recs[i]))
	}
	data := bytes.TrimSuffix(enc.Bytes(), []byte("\n")) // the last line lacks its newline
	// Written in odd pieces: lines cut across Writes are put together.
	for len(data) > 0 {
		n := min(len(data), 77)
		if _, err := sink.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if got := len(es.documents()); got != 0 {
		t.Fatalf("%d documents sent before Close, want 0 (below the thresholds)", got)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range recs {
		want[recKey(&recs[i])] = "netbase-2026.11.27"
	}
	checkExactlyOnce(t, es.documents(), want, FormatDynamite)
	if _, err := sink.Write([]byte("{}\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := sink.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestElasticsearchUnreachableNamesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close() // nothing listens there now
	sink, err := NewElasticsearchSink(ElasticsearchConfig{URLs: []string{dead}, MaxRetries: 2,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte(`{"address":"10.0.0.1"}` + "\n" + `{"address":"10.0.0.2"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	err = sink.Sync()
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "2 documents not indexed after 3 attempts") {
		t.Fatalf("Sync error %v: want the URL %s and the attempts", err, dead)
	}
	t.Log(err)
	st := sink.Stats()
	if st.Failed != 2 || st.BulkRequests != 3 || st.FailedRequests != 3 || st.Retried != 4 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := sink.Close(); err != nil {
		t.Errorf("Close after the failure was reported: %v", err)
	}
}

func TestElasticsearchRejectsBadInput(t *testing.T) {
	es := newFakeES(t)
	sink, err := NewElasticsearchSink(es.config(FormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	sink.Write([]byte("10.0.0.1\t1.0\t2.0\n{\"address\":\"10.0.0.2\"}\n\n"))
	err = sink.Sync()
	if err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("Sync error %v: want the non-JSON line reported", err)
	}
	if st := sink.Stats(); st.Failed != 1 || st.Documents != 1 {
		t.Errorf("stats %+v: want 1 failed, 1 document", st)
	}
	sink.Close()

	for _, tc := range []struct {
		name string
		cfg  ElasticsearchConfig
		want string
	}{
		{"zeek format", ElasticsearchConfig{URLs: []string{"http://localhost:9200"}, Format: FormatZeek}, "format zeek is not supported"},
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
	for _, s := range []string{"es+http://localhost:9200/netbase-%Y.%m.%d", "es+https://u:p@a,b/x", "es+http://h/%", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		cfg, ok, err := ParseElasticsearchOut(out)
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

// FuzzElasticsearchIndexOf feeds arbitrary lines to the index lookup and
// the line splitter (no server: batches stay below the thresholds).
func FuzzElasticsearchIndexOf(f *testing.F) {
	f.Add([]byte(`{"address":"10.0.0.1","end_time":"2026-11-27T04:00:00.000000Z"}`), true)
	f.Add([]byte(`{"@timestamp":"2026-11-27T04:00:00.000000Z"}`), false)
	f.Add([]byte(`{"end_time":"2026-1`), true)
	sinks := map[bool]*ElasticsearchSink{}
	for _, json := range []bool{true, false} {
		format := FormatDynamite
		if json {
			format = FormatJSON
		}
		s, err := NewElasticsearchSink(ElasticsearchConfig{URLs: []string{"http://127.0.0.1:9"}, Format: format,
			Index: "nb-%Y.%m.%d-%H", FlushDocs: 1 << 20, FlushBytes: 1 << 30})
		if err != nil {
			f.Fatal(err)
		}
		sinks[json] = s
		f.Cleanup(func() { s.Close() })
	}
	f.Fuzz(func(t *testing.T, line []byte, json bool) {
		s := sinks[json]
		if err := validIndexName(s.indexOf(line)); err != nil {
			t.Fatalf("index for %q: %v", line, err)
		}
		if _, err := s.Write(line); err != nil {
			t.Fatal(err)
		}
		// Drop what was buffered: nothing is sent, Close has nothing to do.
		s.wmu.Lock()
		s.cur.buf, s.cur.items, s.partial = s.cur.buf[:0], s.cur.items[:0], s.partial[:0]
		s.pending.Store(0)
		s.wmu.Unlock()
	})
}

func BenchmarkElasticsearchSink(b *testing.B) {
	// A cheap _bulk endpoint (streams the body, counts the documents,
	// acknowledges them all), so the numbers are mostly the sink's.
	item := []byte(`{"index":{"_index":"netbase-2026.11.27","_id":"x","_version":1,"result":"created","status":201}}`)
	var docs sync.Mutex
	total := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines, chunk := 0, make([]byte, 64<<10)
		for {
			k, err := r.Body.Read(chunk)
			lines += bytes.Count(chunk[:k], []byte("\n"))
			if err != nil {
				break
			}
		}
		n := lines / 2
		docs.Lock()
		total += n
		docs.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		out := make([]byte, 0, 40+n*(len(item)+1))
		out = append(out, `{"took":3,"errors":false,"items":[`...)
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, item...)
		}
		w.Write(append(out, "]}"...))
	}))
	defer srv.Close()
	for _, format := range []Format{FormatJSON, FormatDynamite} {
		b.Run(format.String(), func(b *testing.B) {
			sink, err := NewElasticsearchSink(ElasticsearchConfig{URLs: []string{srv.URL}, Format: format, Workers: 2})
			if err != nil {
				b.Fatal(err)
			}
			recs := testRecords(1000, time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
			full := sampleRecords()[0]
			enc := NewEncoder(format, EncoderOptions{})
			lines := make([][]byte, len(recs))
			for i := range recs {
				if i%2 == 0 { // half the records with every field
					full.Address, full.StartTime, full.EndTime = recs[i].Address, recs[i].StartTime, recs[i].EndTime
					recs[i] = full
				}
				lines[i] = enc.Append(nil, &recs[i])
			}
			docs.Lock()
			total = 0
			docs.Unlock()
			b.ReportAllocs()
			b.ResetTimer()
			bytesIn := 0
			for i := range b.N {
				l := lines[i%len(lines)]
				bytesIn += len(l)
				if _, err := sink.Write(l); err != nil {
					b.Fatal(err)
				}
			}
			if err := sink.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if total != b.N {
				b.Fatalf("%d documents arrived, want %d", total, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.SetBytes(int64(bytesIn / b.N))
		})
	}
}

func TestElasticsearchFailsOverAndGivesUpOnAuthErrors(t *testing.T) {
	end := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	t.Run("dead first node", func(t *testing.T) {
		es := newFakeES(t)
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		cfg := es.config(FormatJSON)
		cfg.URLs = []string{dead.URL, es.srv.URL}
		cfg.FlushDocs = 5
		sink, err := NewElasticsearchSink(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want, err := writeWindow(t, sink, FormatJSON, testRecords(30, end))
		if err != nil {
			t.Fatalf("Sync: %v", err)
		}
		checkExactlyOnce(t, es.documents(), want, FormatJSON)
		if st := sink.Stats(); st.Failed != 0 || st.Documents != 30 {
			t.Errorf("stats %+v", st)
		}
		sink.Close()
	})
	t.Run("401 is not retried", func(t *testing.T) {
		es := newFakeES(t)
		es.respond = func(int, []esDoc) (int, []int) { return http.StatusUnauthorized, nil }
		sink, err := NewElasticsearchSink(es.config(FormatJSON))
		if err != nil {
			t.Fatal(err)
		}
		_, err = writeWindow(t, sink, FormatJSON, testRecords(3, end))
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), es.srv.URL) {
			t.Fatalf("Sync error %v: want HTTP 401 and the URL", err)
		}
		if st := sink.Stats(); st.Failed != 3 || st.BulkRequests != 1 || st.Retried != 0 {
			t.Errorf("stats %+v: want 3 failed after 1 request", st)
		}
		sink.Close()
	})
}
