package emit

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-", "-"},
		{"/var/log/netbase.json", "/var/log/netbase.json"},
		{"es+http://localhost:9200/nb", "es+http://localhost:9200/nb"},
		{"es+http://elastic:S3cretPW@h:9200/nb", "es+http://elastic:xxxxx@h:9200/nb"},
		{"es+https://elastic:S3cret/PW@a:9200,b:9200/nb-%Y", "es+https://elastic:xxxxx@a:9200,b:9200/nb-%Y"},
		{"kafka://user:S3cretPW@host/topic", "kafka://user:xxxxx@host/topic"},
		{"kafka://user@host/topic?sasl=plain&user=u", "kafka://user@host/topic?sasl=plain&user=u"},
		{"kafka://h/t?password=S3cretPW&tls=1", "kafka://h/t?password=xxxxx&tls=1"},
		{"kafka://h/t?sasl_password=S3cretPW&api_key=S3cretPW&token=S3cretPW", "kafka://h/t?sasl_password=xxxxx&api_key=xxxxx&token=xxxxx"},
		{"clickhouse://u:S3cretPW@h:9000/db#S3cretPW", "clickhouse://u:xxxxx@h:9000/db"},
		{"es+http://u:a@b@c/x", "es+http://u:xxxxx@c/x"},
		{"://S3cretPW@x", "://S3cretPW@x"}, // not a URL: a file path, shown as given
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("es+http://elastic:S3cretPW@h:9200/nb")
	f.Add("kafka://h/t?password=S3cretPW")
	f.Add("kafka://u:p@h/t?key=v#frag")
	f.Fuzz(func(t *testing.T, s string) {
		got := Redact(s)
		scheme, ok := schemeOf(s)
		if !ok {
			if got != s {
				t.Fatalf("Redact changed a non-URL %q to %q", s, got)
			}
			return
		}
		// The password of the userinfo, as the parsers read it, is gone.
		rest := s[len(scheme)+3:]
		rest, _, _ = strings.Cut(rest, "#")
		main, _, _ := strings.Cut(rest, "?")
		if at := strings.LastIndexByte(main, '@'); at >= 0 {
			if _, pass, ok := strings.Cut(main[:at], ":"); ok && len(pass) >= 4 && strings.Contains(got, pass) {
				if !strings.Contains(strings.Replace(got, ":"+redacted+"@", "", 1), pass) {
					return // the password is part of what else is shown
				}
				t.Fatalf("Redact(%q) = %q shows the password %q", s, got, pass)
			}
		}
	})
}

// secretPW is the secret every failure path below must never show.
const secretPW = "S3cretPW"

// Every failure of parsing a destination and of delivering to it, and
// everything an output reports (destination, kind, health, stats, Close),
// is free of the password, the API key and secret query parameters.
func TestSecretsNeverShown(t *testing.T) {
	dead := freePort(t)
	unauthorized := startFakeES(t, nil)
	unauthorized.setRespond(func(int, []esDoc) (int, []int) { return http.StatusUnauthorized, nil })
	sasl := newKafkaCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "right-password"))

	env := func(key string) string {
		switch key {
		case ESAPIKeyEnv, KafkaPasswordEnv:
			return secretPW + "-env"
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		dest   string
		format Format
		getenv func(string) string
	}{
		// Destinations that do not parse or open.
		{dest: "es+http://elastic:S3cret/PW@h:9200/Bad"},
		{dest: "es+http://elastic:S3cretPW@h:9200/Bad"},
		{dest: "es+ftp://elastic:S3cretPW@h/x"},
		{dest: "es+http://elastic:S3cretPW%zz@h/x"},
		{dest: "es+http://elastic:S3cretPW@/x"},
		{dest: "es+http://elastic:S3cretPW@a,,b/x"},
		{dest: "es+http://elastic:S3cretPW@h/nb-%q"},
		{dest: "es+http://elastic:S3cretPW@h/nb", format: FormatZeek},
		{dest: "kafka://user:S3cretPW@h"},
		{dest: "kafka://user:S3cretPW@h/t?password=S3cretPW"},
		{dest: "kafka://b1/t?password=S3cretPW"},
		{dest: "kafka://b1/t?sasl_password=S3cretPW&x=1"},
		{dest: "kafka://user:S3cretPW@h/t?%zz"},
		{dest: "kafka://user:S3cretPW@h/t?%zzS3cretPW"},
		{dest: "kafka://user:S3cretPW@h/t?tls=maybe"},
		{dest: "kafka://user:S3cretPW@h/t?compression=bad"},
		{dest: "kafka://user:S3cretPW@h/t?sasl=gssapi"},
		{dest: "kafka://user:S3cretPW@/t"},
		{dest: "kafka://user:S3cretPW%zz@h/t"},
		{dest: "kafka://:S3cretPW@h/t"},
		{dest: "kafka://user:S3cretPW@h/t", format: FormatZeek},
		{dest: "bogus://user:S3cretPW@h/x"},
		// Destinations that open and then fail to deliver.
		{dest: "es+http://elastic:S3cretPW@" + dead + "/nb"},
		{dest: "es+http://elastic:S3cret/PW@" + dead + "/nb"},
		{dest: "es+http://" + dead + "/nb", getenv: env},
		{dest: "es+http://elastic:S3cretPW@" + strings.TrimPrefix(unauthorized.url, "http://") + "/nb"},
		{dest: "es+http://" + strings.TrimPrefix(unauthorized.url, "http://") + "/nb", getenv: env},
		{dest: "kafka://user:S3cretPW@" + dead + "/" + kafkaTestTopic + "?delivery_timeout=1s"},
		{dest: "kafka://user:S3cretPW@" + sasl.ListenAddrs()[0] + "/" + kafkaTestTopic + "?delivery_timeout=1s"},
		{dest: "kafka://user@" + sasl.ListenAddrs()[0] + "/" + kafkaTestTopic + "?delivery_timeout=1s", getenv: env},
	} {
		t.Run(Redact(tc.dest), func(t *testing.T) {
			getenv := tc.getenv
			if getenv == nil {
				getenv = noEnv
			}
			var shown []string
			o, err := DefaultRegistry().Open(context.Background(), tc.dest, OpenParams{Format: tc.format, Getenv: getenv},
				OutputOptions{SpoolDir: t.TempDir(), BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond})
			if err != nil {
				shown = append(shown, err.Error())
			} else {
				shown = append(shown, o.Destination(), o.Kind(), o.Stats().Destination)
				writeWindow(t, o, testRecords(5, esDay))
				// Kafka's client may keep trying for its delivery timeout.
				for end := time.Now().Add(3 * time.Second); o.Health().Err == nil && time.Now().Before(end); {
					time.Sleep(10 * time.Millisecond)
				}
				if h := o.Health(); h.Err != nil {
					shown = append(shown, h.Err.Error(), h.State.String())
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				if err := o.Close(ctx); err != nil {
					shown = append(shown, err.Error())
				}
				cancel()
				if h := o.Health(); h.Err != nil {
					shown = append(shown, h.Err.Error())
				}
			}
			for _, s := range shown {
				for _, secret := range []string{secretPW, "S3cret/PW", "PW@", "3cretP"} {
					if strings.Contains(s, secret) {
						t.Errorf("%q shows the secret (%q)", s, secret)
					}
				}
			}
			t.Log(shown)
		})
	}
}

// The configure hooks see the parsed settings and may change them.
func TestOpenParamsConfigureHooks(t *testing.T) {
	es := startFakeES(t, nil)
	var seen ElasticsearchConfig
	o, err := DefaultRegistry().Open(context.Background(), "es+"+es.url+"/nb-%Y.%m.%d", OpenParams{
		Getenv: func(string) string { return "" },
		ConfigureElasticsearch: func(c *ElasticsearchConfig) error {
			seen = *c
			c.FlushDocs = 7
			return nil
		},
	}, OutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeWindow(t, o, testRecords(20, esDay))
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen.URLs) != 1 || seen.Index != "nb-%Y.%m.%d" {
		t.Errorf("the hook saw %+v", seen)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.requests < 3 {
		t.Errorf("%d bulk requests for 20 documents in batches of 7", es.requests)
	}
	_, err = DefaultRegistry().Open(context.Background(), "kafka://h/t", OpenParams{
		ConfigureKafka: func(*KafkaConfig) error { return badOutput("no") },
	}, OutputOptions{})
	if !errors.Is(err, ErrBadOutput) {
		t.Errorf("the Kafka hook's error: %v", err)
	}
}
