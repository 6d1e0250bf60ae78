package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/internal/pmitest"
	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
)

// v2 frames a PMI-2 payload right-justified (hydra), v2l left (Slurm).
func v2(p string) string  { return fmt.Sprintf("%6d%s", len(p), p) }
func v2l(p string) string { return fmt.Sprintf("%-6d%s", len(p), p) }

// rawJob is the one-rank job the raw sessions are served from.
var rawJob = server.JobConfig{Size: 1, KVSName: "kvs_t"}

// readReply reads what the server sends until it has been quiet briefly.
func readReply(t *testing.T, c net.Conn, want int) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for out.Len() < want {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

// TestServeTranscripts sends raw requests, good and bad, and checks the
// exact reply: every bad request gets an error reply, none a crash.
func TestServeTranscripts(t *testing.T) {
	long := strings.Repeat("x", 70*1024)
	tests := []struct {
		name, req, want string
	}{
		{"init 1.1", "cmd=init pmi_version=1 pmi_subversion=1\n", "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n"},
		{"init 1.2 gets 1.1", "cmd=init pmi_version=1 pmi_subversion=2\n", "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n"},
		{"init 2.0", "cmd=init pmi_version=2 pmi_subversion=0\n", "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"},
		{"init 3", "cmd=init pmi_version=3 pmi_subversion=0\n", "cmd=response_to_init rc=-1 msg=unsupported_version_3.0\n"},
		{"maxes", "cmd=get_maxes\n", "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 vallen_max=1024\n"},
		{"kvsname", "cmd=get_my_kvsname\n", "cmd=my_kvsname rc=0 kvsname=kvs_t\n"},
		{"universe", "cmd=get_universe_size\n", "cmd=universe_size rc=0 size=1\n"},
		{"mapping", "cmd=get kvsname=kvs_t key=PMI_process_mapping\n", "cmd=get_result rc=0 value=(vector,(0,1,1))\n"},
		{"missing key", "cmd=get kvsname=kvs_t key=nope\n", "cmd=get_result rc=-1 msg=key_nope_not_found\n"},
		{"other kvs", "cmd=get kvsname=other key=a\n", "cmd=get_result rc=-1 msg=unknown_kvsname_other\n"},
		{"long key", "cmd=put kvsname=kvs_t key=" + strings.Repeat("k", 65) + " value=v\n", "cmd=put_result rc=-1 msg="},
		{"long value", "cmd=put kvsname=kvs_t key=k value=" + strings.Repeat("v", 1025) + "\n", "cmd=put_result rc=-1 msg=check_value:_1025_bytes_exceeds_the_PMI_limit_of_1024\n"},
		{"over-long line", "cmd=put value=" + long + "\ncmd=get_appnum\n", "cmd=error_result rc=-1 msg=parse_PMI-1_message:_line_longer_than_65536_bytes\n"},
		{"garbage line", "hello\n", "cmd=error_result rc=-1 msg=parse_PMI-1_message:_line_starts_with_\"hello\",_not_cmd=<name>\n"},
		{"unknown v1", "cmd=frobnicate\n", "cmd=frobnicate_result rc=-1 msg=unknown_command_frobnicate\n"},
		{"barrier group", "cmd=barrier_in group=NODE:1\n", "cmd=barrier_out rc=-1 msg=barrier_groups_not_supported\n"},
		{"spawn", "mcmd=spawn\nnprocs=1\nexecname=/bin/true\ntotspawns=1\nspawnssofar=1\nendcmd\n", "cmd=spawn_result rc=-1 msg=spawn_not_supported\n"},
		{"publish lookup", "cmd=publish_name service=s port=p\ncmd=lookup_name service=s\n", "cmd=publish_result rc=0 info=ok\ncmd=lookup_result rc=0 info=ok port=p\n"},
		{"lookup missing", "cmd=lookup_name service=s\n", "cmd=lookup_result rc=1 msg=service_not_found\n"},
		{"v2 left padded, thrid", v2l("cmd=job-getid;thrid=0x10;"), v2("cmd=job-getid-response;thrid=0x10;rc=0;jobid=kvs_t;")},
		{"v2 right padded", v2("cmd=kvs-fence;"), v2("cmd=kvs-fence-response;rc=0;")},
		{"v2 missing key", v2("cmd=kvs-get;key=k;"), v2("cmd=kvs-get-response;rc=0;found=FALSE;")},
		{"v2 jobattr", v2("cmd=info-getjobattr;key=PMI_process_mapping;"), v2("cmd=info-getjobattr-response;rc=0;found=TRUE;value=(vector,(0,1,1));")},
		{"v2 universe", v2("cmd=info-getjobattr;key=universeSize;"), v2("cmd=info-getjobattr-response;rc=0;found=TRUE;value=1;")},
		{"v2 fullinit", v2l("cmd=fullinit;pmirank=0;threaded=FALSE;"), v2("cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=0;size=1;appnum=0;debugged=FALSE;pmiverbose=FALSE;")},
		{"v2 fullinit wrong rank", v2("cmd=fullinit;pmirank=5;"), v2("cmd=fullinit-response;rc=-1;errmsg=fullinit for rank \"5\" on the connection of rank 0;")},
		{"v2 unknown", v2("cmd=frob;"), v2("cmd=frob-response;rc=-1;errmsg=command frob is not supported;")},
		{"v2 bad payload then good", v2("hello") + v2("cmd=kvs-fence;"), v2("cmd=error-response;rc=-1;errmsg=parse PMI-2 message: payload starts with \"hello\", not cmd=<name>;") + v2("cmd=kvs-fence-response;rc=0;")},
		{"v2 long value", v2("cmd=kvs-put;key=k;value=" + strings.Repeat("v", 1025) + ";"), v2("cmd=kvs-put-response;rc=-1;errmsg=check value: 1025 bytes exceeds the PMI limit of 1024;")},
		{"v2 escaped value", v2("cmd=kvs-put;key=k;value=a;;b;") + v2("cmd=kvs-fence;") + v2("cmd=kvs-get;key=k;"),
			v2("cmd=kvs-put-response;rc=0;") + v2("cmd=kvs-fence-response;rc=0;") + v2("cmd=kvs-get-response;rc=0;found=TRUE;value=a;;b;")},
		{"v2 nodeattr", v2("cmd=info-putnodeattr;key=n;value=1;") + v2("cmd=info-getnodeattr;key=n;wait=TRUE;"),
			v2("cmd=info-putnodeattr-response;rc=0;") + v2("cmd=info-getnodeattr-response;rc=0;found=TRUE;value=1;")},
		{"v1 put, v2 fence, v2 get", "cmd=put kvsname=kvs_t key=a value=b\n" + v2("cmd=kvs-fence;") + v2("cmd=kvs-get;key=a;"),
			"cmd=put_result rc=0\n" + v2("cmd=kvs-fence-response;rc=0;") + v2("cmd=kvs-get-response;rc=0;found=TRUE;value=b;")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _ := pmitest.ServeOne(ctx, t, rawJob)
			go c.Write([]byte(tt.req))
			got := readReply(t, c, len(tt.want))
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("reply\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

// TestServeFatal checks that input that loses the framing gets an error
// reply and then the connection is closed, without a hang.
func TestServeFatal(t *testing.T) {
	tests := []struct{ name, req, want string }{
		{"bad v2 header", "12a456cmd=x;", "cmd=error-response;rc=-1;errmsg=parse PMI-2 message: length field \"12a456\" is not a padded decimal number;"},
		{"huge v2 length", "999999", "cmd=error-response;rc=-1;errmsg=parse PMI-2 message: length 999999 exceeds the limit of 65536;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, done := pmitest.ServeOne(ctx, t, rawJob)
			c.Write([]byte(tt.req))
			got, _ := io.ReadAll(c)
			if !strings.HasSuffix(string(got), tt.want) {
				t.Fatalf("reply %q, want ...%q", got, tt.want)
			}
			if err := <-done; err == nil {
				t.Fatal("Serve returned nil after a fatal framing error")
			}
		})
	}
}

// TestServeEnd covers how a session ends.
func TestServeEnd(t *testing.T) {
	tests := []struct {
		name  string
		req   string
		check func(error) bool
	}{
		{"eof before any request", "", func(err error) bool { return err == nil }},
		{"finalize then eof", "cmd=finalize\n", func(err error) bool { return err == nil }},
		{"eof after init", "cmd=init pmi_version=1 pmi_subversion=1\n", func(err error) bool { return errors.Is(err, server.ErrEarlyClose) }},
		{"abort", "cmd=abort exitcode=9\n", func(err error) bool {
			var ae *pmi.AbortError
			return errors.As(err, &ae) && ae.Code == 9
		}},
		{"v2 abort", v2l("cmd=abort;isworld=TRUE;msg=bye now;"), func(err error) bool {
			var ae *pmi.AbortError
			return errors.As(err, &ae) && ae.Code == 1 && ae.Msg == "bye now"
		}},
		{"truncated", "cmd=get_maxes", func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, done := pmitest.ServeOne(ctx, t, rawJob)
			c.Write([]byte(tt.req))
			time.Sleep(20 * time.Millisecond) // let replies go out before EOF
			c.(*net.UnixConn).CloseWrite()
			io.Copy(io.Discard, c)
			if err := <-done; !tt.check(err) {
				t.Fatalf("Serve = %v", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, done := pmitest.ServeOne(ctx, t, rawJob)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve after cancel = %v", err)
	}
}

// TestServeUnencodable checks the reply when a stored value cannot be
// sent in the framing of the request (spaces over PMI-1).
func TestServeUnencodable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _ := pmitest.ServeOne(ctx, t, rawJob)
	go c.Write([]byte(v2("cmd=kvs-put;key=k;value=a b;") + v2("cmd=kvs-fence;") + "cmd=get kvsname=kvs_t key=k\n"))
	want := v2("cmd=kvs-put-response;rc=0;") + v2("cmd=kvs-fence-response;rc=0;") + "cmd=get_result rc=-1 msg="
	if got := readReply(t, c, len(want)); !strings.HasPrefix(got, want) {
		t.Fatalf("reply %q, want %q...", got, want)
	}
}
