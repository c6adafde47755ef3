package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// manCommand prints netbased(1), the manual page, in roff: the commands and
// every flag with its help text and default, read from the same flag sets
// the commands parse, so that the page cannot drift from the binary. It is
// hidden (`make deb` runs it); `man ./netbased.1` shows the result.
func manCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	writeManPage(stdout, readBuildInfo())
	return nil
}

// manOrder is the order of the commands in the page (man is left out).
var manOrder = []string{"replay", "run", "check", "es-template", "clickhouse-schema", "version"}

// manFlagCommands are the commands whose flags the OPTIONS section lists
// (es-template reads only --config, --out and --format of them).
var manFlagCommands = []string{"replay", "run", "check"}

// manFlag is one flag: its help texts, each with the commands that take
// the flag with that text (replay's --workers is not run's).
type manFlag struct {
	name     string
	variants []manVariant
}

// manVariant is a flag as some commands define it.
type manVariant struct {
	f        *flag.Flag
	commands []string
}

func writeManPage(w io.Writer, b buildInfo) {
	date := b.Date
	if len(date) >= 10 {
		date = date[:10]
	}
	fmt.Fprintf(w, ".TH NETBASED 1 %q %q \"netbased manual\"\n", date, "netbased "+b.Version)
	fmt.Fprint(w, `.SH NAME
netbased \- Zeek-exact per-host interval records from packets
.SH SYNOPSIS
`)
	for i, name := range manOrder {
		if i > 0 {
			fmt.Fprintln(w, ".br")
		}
		synopsis, _, _ := strings.Cut(commandTable()[name].synopsis, "   ")
		fmt.Fprintf(w, "%s\n", roffEscape(synopsis))
	}
	fmt.Fprint(w, `.SH DESCRIPTION
.B netbased
rebuilds connections from packets exactly as Zeek does, recognizes their
services from payload and, at each interval boundary, writes one Interval
record per monitored IP address: connections made and answered, inside and
outside, ports and hosts, bytes and packets, per-service counts and
producer/consumer ratios \- the records of Zeek's netbase scripts.
.PP
Every flag is also a key of the YAML configuration file given with
.BR \-\-config ,
with underscores for the dashes
.RB ( \-\-local\-nets " is " local_nets );
a flag given on the command line wins over the file.
.SH COMMANDS
`)
	for _, name := range manOrder {
		fmt.Fprintf(w, ".TP\n.B %s\n%s\n", name, roffEscape(commandTable()[name].summary))
	}
	fmt.Fprint(w, ".SH OPTIONS\n")
	for _, mf := range manFlags() {
		name, _ := flag.UnquoteUsage(mf.variants[0].f)
		fmt.Fprintf(w, ".TP\n.BR \\-\\-%s", roffEscape(mf.name))
		if name != "" {
			fmt.Fprintf(w, " \" \\fI%s\\fR\"", roffEscape(name))
		}
		fmt.Fprintln(w)
		for i, v := range mf.variants {
			if i > 0 {
				fmt.Fprintln(w, ".br")
			}
			_, text := flag.UnquoteUsage(v.f)
			if v.f.DefValue != "" && v.f.DefValue != "false" && v.f.DefValue != "0" && v.f.DefValue != "0s" {
				text += fmt.Sprintf(" (default %s)", v.f.DefValue)
			}
			if len(v.commands) < len(manFlagCommands) {
				text += " [" + strings.Join(v.commands, ", ") + "]"
			}
			fmt.Fprintln(w, roffEscape(text))
		}
	}
	fmt.Fprint(w, `.SH SIGNALS
.TP
.B SIGTERM, SIGINT
.B run
stops capturing, ends every open connection, writes the last, partial window,
closes the outputs and exits 0.
.B replay
writes what it computed up to the signal and exits 128 plus the signal
number (130 for Ctrl\-C); a second signal ends it at once.
.TP
.B SIGHUP
.B run
re\-reads its configuration and reopens its output files (logrotate); record
settings take effect at the next window boundary.
.SH EXIT STATUS
0 on success, 1 when the input, an output or a check failed, 2 for a usage
error (a bad flag, value or configuration key), 128+n after signal n
interrupted a replay.
.SH ENVIRONMENT
.TP
.B CREDENTIALS_DIRECTORY
set by systemd's LoadCredential=; its file es\-api\-key is the Elasticsearch
API key when no other is configured.
.TP
.B NETBASED_ES_API_KEY
the Elasticsearch API key, when neither es_api_key nor es_api_key_file
nor the credential is set.
.TP
.B NETBASED_KAFKA_PASSWORD
the SASL password of a kafka:// output.
.SH FILES
.TP
.I /etc/netbased/netbased.yaml
the configuration the systemd unit starts
.B netbased run
with.
.TP
.I /var/log/netbased/
records written by the unit (its LogsDirectory).
.SH SEE ALSO
.BR zeek (8),
.BR systemd.exec (5),
.BR tcpdump (8)
`)
}

// manFlags lists every flag of the documented commands once, by name,
// with the commands that take it.
func manFlags() []manFlag {
	byName := map[string]*manFlag{}
	for _, name := range manFlagCommands {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		commandTable()[name].flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			mf := byName[f.Name]
			if mf == nil {
				mf = &manFlag{name: f.Name}
				byName[f.Name] = mf
			}
			for i, v := range mf.variants {
				if v.f.Usage == f.Usage && v.f.DefValue == f.DefValue {
					mf.variants[i].commands = append(v.commands, name)
					return
				}
			}
			mf.variants = append(mf.variants, manVariant{f: f, commands: []string{name}})
		})
	}
	out := make([]manFlag, 0, len(byName))
	for _, mf := range byName {
		out = append(out, *mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// roffEscape protects backslashes, dashes and leading dots or quotes.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
