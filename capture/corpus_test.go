package capture

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netbased/netbased/internal/testenv"
)

type manifestRow struct {
	packets         int
	encap           string
	ignoreChecksums bool
}

func readManifest(t *testing.T, path string) map[string]manifestRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	rows := map[string]manifestRow{}
	var cols map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range fields {
				cols[c] = i
			}
			continue
		}
		n, _ := strconv.Atoi(fields[cols["packets"]])
		rows[fields[cols["test"]]] = manifestRow{
			packets:         n,
			encap:           fields[cols["encapsulation"]],
			ignoreChecksums: strings.Contains(fields[cols["netbased_args"]], "--ignore-checksums"),
		}
	}
	if len(rows) == 0 {
		t.Fatalf("manifest %s is empty", path)
	}
	return rows
}

type traceCounts struct {
	frames, packets, tunnel, errs, badChecksum int
	// counted and countedIPBytes cover the packets Zeek's ConnSize counts:
	// not those with a bad checksum, nor ICMP packets captured incompletely.
	counted, countedIPBytes int
	reasons                 map[string]int
}

// connLogPackets sums orig_pkts + resp_pkts and orig_ip_bytes + resp_ip_bytes
// over a Zeek conn.log.
func connLogPackets(t *testing.T, path string) (pkts, ipBytes int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("conn.log: %v", err)
	}
	var cols []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#fields\t") {
			cols = strings.Split(line, "\t")[1:]
			continue
		}
		if strings.HasPrefix(line, "ts\t") { // zeek-cut style header
			cols = strings.Split(line, "\t")
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		for i, c := range cols {
			if i >= len(f) {
				break
			}
			n, _ := strconv.Atoi(f[i])
			switch c {
			case "orig_pkts", "resp_pkts":
				pkts += n
			case "orig_ip_bytes", "resp_ip_bytes":
				ipBytes += n
			}
		}
	}
	return pkts, ipBytes
}

func decodeTrace(t *testing.T, path string, opts DecoderOptions) traceCounts {
	t.Helper()
	src, err := OpenFiles(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer src.Close()
	dec := NewDecoder(opts)
	var out []Packet
	c := traceCounts{reasons: map[string]int{}}
	for {
		fr, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next after %d frames: %v", c.frames, err)
		}
		c.frames++
		out, err = dec.Decode(fr, out[:0])
		if err != nil {
			c.errs++
			var de *DecodeError
			if errors.As(err, &de) {
				c.reasons[de.Reason]++
			} else {
				t.Errorf("frame %d: non-DecodeError %v", c.frames, err)
			}
		}
		for i := range out {
			c.packets++
			if out[i].BadChecksum {
				c.badChecksum++
				continue
			}
			if out[i].Truncated && (out[i].Proto == ProtoICMP || out[i].Proto == ProtoICMPv6) {
				continue
			}
			c.counted++
			c.countedIPBytes += int(out[i].IPLen)
			if out[i].TunnelDepth > 0 {
				c.tunnel++
			}
		}
	}
	return c
}

// knownCountDifferences lists traces whose conn.log packet counts differ from
// the decoded packets for reasons outside the decoder.
var knownCountDifferences = map[string]string{
	"scripts.base.protocols.ftp.gridftp": "the GridFTP script calls skip_further_processing on the data channel",
}

// TestCorpus decodes every trace of the Zeek ground truth and checks that the
// packets and IP bytes Zeek's ConnSize would count add up to conn.log's
// orig/resp_pkts and orig/resp_ip_bytes.
func TestCorpus(t *testing.T) {
	base := filepath.Join(testenv.SharedDir(t), "testdata", "zeek")
	manifest := readManifest(t, filepath.Join(base, "MANIFEST.tsv"))
	total := 0
	for name, row := range manifest {
		dir := filepath.Join(base, name)
		trace := filepath.Join(dir, "trace.pcap")
		if _, err := os.Stat(trace); err != nil {
			trace = filepath.Join(dir, "trace.pcapng")
		}
		_, skipErr := os.Stat(filepath.Join(dir, "parity-skip.txt"))
		paritySkip := skipErr == nil
		t.Run(name, func(t *testing.T) {
			c := decodeTrace(t, trace, DecoderOptions{IgnoreChecksums: row.ignoreChecksums})
			if c.frames != row.packets {
				t.Errorf("frames = %d, MANIFEST packets = %d", c.frames, row.packets)
			}
			if c.packets == 0 {
				t.Errorf("no packets decoded")
			}
			zeekPkts, zeekBytes := connLogPackets(t, filepath.Join(dir, "conn.log"))
			t.Logf("%-60s encap=%-22s frames=%5d packets=%5d tunnel=%4d bad_checksum=%d errors=%d %v; counted %d pkts %d IP bytes, conn.log %d pkts %d IP bytes",
				name, row.encap, c.frames, c.packets, c.tunnel, c.badChecksum, c.errs, c.reasons,
				c.counted, c.countedIPBytes, zeekPkts, zeekBytes)
			why, known := knownCountDifferences[name]
			switch {
			case paritySkip:
				// Zeek's run filtered or re-routed packets: counts differ.
			case known:
				t.Logf("known difference: %s", why)
			case c.counted != zeekPkts || c.countedIPBytes != zeekBytes:
				t.Errorf("decoded %d packets / %d IP bytes, Zeek's conn.log counts %d / %d",
					c.counted, c.countedIPBytes, zeekPkts, zeekBytes)
			}
		})
		total++
	}
	if total < 80 {
		t.Fatalf("only %d traces in manifest", total)
	}
}
