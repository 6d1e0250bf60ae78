package wire

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseV1(t *testing.T) {
	tests := []struct {
		name, in string
		want     Msg
		wantErr  bool
	}{
		{"init", "cmd=init pmi_version=1 pmi_subversion=1", NewMsg("init", "pmi_version", "1", "pmi_subversion", "1"), false},
		{"rc first value last", "cmd=get_result rc=0 value=abc", NewMsg("get_result", "rc", "0", "value", "abc"), false},
		{"hydra 4.1 found after value", "cmd=get_result rc=0 value=abc found=TRUE", NewMsg("get_result", "rc", "0", "value", "abc", "found", "TRUE"), false},
		{"hydra missing key", "cmd=get_result rc=-1 msg=key_x_not_found value=unknown", NewMsg("get_result", "rc", "-1", "msg", "key_x_not_found", "value", "unknown"), false},
		{"no rc", "cmd=appnum appnum=0", NewMsg("appnum", "appnum", "0"), false},
		{"extra spaces and tabs", "cmd=put \t kvsname=k  key=a value=b  ", NewMsg("put", "kvsname", "k", "key", "a", "value", "b"), false},
		{"crlf", "cmd=barrier_out\r", NewMsg("barrier_out"), false},
		{"value with =", "cmd=put key=a value=x=y", NewMsg("put", "key", "a", "value", "x=y"), false},
		{"bare token", "cmd=initack flag", NewMsg("initack", "flag", ""), false},
		{"empty value", "cmd=put key=a value=", NewMsg("put", "key", "a", "value", ""), false},
		{"no cmd", "key=a value=b", Msg{}, true},
		{"empty cmd", "cmd= key=a", Msg{}, true},
		{"empty", "   ", Msg{}, true},
		{"empty key", "cmd=put =b", Msg{}, true},
		{"long key", "cmd=put " + strings.Repeat("k", 65) + "=1", Msg{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseV1([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseV1(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseV1(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendV1(t *testing.T) {
	tests := []struct {
		name    string
		in      Msg
		want    string
		wantErr bool
	}{
		{"value moved last", NewMsg("get_result", "value", "v", "rc", "0"), "cmd=get_result rc=0 value=v\n", false},
		{"no pairs", NewMsg("barrier_in"), "cmd=barrier_in\n", false},
		{"space in value", NewMsg("put", "value", "a b"), "", true},
		{"newline in key", NewMsg("put", "a\nb", "1"), "", true},
		{"= in key", NewMsg("put", "a=b", "1"), "", true},
		{"empty cmd", NewMsg(""), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendV1(nil, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("AppendV1 error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Fatalf("AppendV1 = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseV2(t *testing.T) {
	tests := []struct {
		name, in string
		want     Msg
		wantErr  bool
	}{
		{"fullinit", "cmd=fullinit;pmirank=0;threaded=FALSE;", NewMsg("fullinit", "pmirank", "0", "threaded", "FALSE"), false},
		{"thrid echoed", "cmd=kvs-put-response;thrid=0x7f;rc=0;", NewMsg("kvs-put-response", "thrid", "0x7f", "rc", "0"), false},
		{"unterminated last pair", "cmd=kvs-get-response;found=TRUE;value=v", NewMsg("kvs-get-response", "found", "TRUE", "value", "v"), false},
		{"escaped semicolon", "cmd=kvs-put;key=k;value=a;;b;", NewMsg("kvs-put", "key", "k", "value", "a;b"), false},
		{"escaped at end", "cmd=kvs-put;value=a;;;key=k;", NewMsg("kvs-put", "value", "a;", "key", "k"), false},
		{"empty value", "cmd=abort;msg=;isworld=TRUE;", NewMsg("abort", "msg", "", "isworld", "TRUE"), false},
		{"bare token", "cmd=x;flag;", NewMsg("x", "flag", ""), false},
		{"no cmd", "key=a;", Msg{}, true},
		{"empty", "", Msg{}, true},
		{"empty key", "cmd=x;=v;", Msg{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseV2([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseV2(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseV2(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendV2(t *testing.T) {
	m := NewMsg("kvs-put", "key", "k", "value", "a;b")
	tests := []struct {
		name string
		left bool
		want string
	}{
		{"right justified like hydra", false, "    29cmd=kvs-put;key=k;value=a;;b;"},
		{"left justified like slurm", true, "29    cmd=kvs-put;key=k;value=a;;b;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendV2([]byte("x"), m, tt.left)
			if err != nil || string(got) != "x"+tt.want {
				t.Fatalf("AppendV2 = %q, %v; want %q", got, err, "x"+tt.want)
			}
		})
	}
	if _, err := AppendV2(nil, NewMsg("a;b"), false); err == nil {
		t.Fatal("AppendV2 accepted ';' in cmd")
	}
	if _, err := AppendV2(nil, NewMsg("x", "v", strings.Repeat("a", MaxFrame)), false); err == nil {
		t.Fatal("AppendV2 accepted an oversized message")
	}
}

// collect reads frames until EOF, recording errors in place of frames.
func collect(in string) (frames []Frame, errs []error) {
	r := NewReader(strings.NewReader(in))
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			return frames, errs
		}
		frames, errs = append(frames, f), append(errs, err)
		if IsFatal(err) {
			return frames, errs
		}
	}
}

func TestReaderMixed(t *testing.T) {
	in := "cmd=init pmi_version=2 pmi_subversion=0\n" +
		"38    cmd=fullinit;pmirank=0;threaded=FALSE;" +
		"    14cmd=kvs-fence;" +
		"\ncmd=barrier_in\n" +
		"mcmd=spawn\nnprocs=2\nexecname=/bin/a b\ntotspawns=2\nspawnssofar=1\nendcmd\n" +
		"mcmd=spawn\nnprocs=1\nexecname=/bin/c\ntotspawns=2\nspawnssofar=2\nendcmd\n" +
		"cmd=finalize\n"
	frames, errs := collect(in)
	want := []struct {
		p   Proto
		cmd string
	}{{V1, "init"}, {V2, "fullinit"}, {V2, "kvs-fence"}, {V1, "barrier_in"}, {V1, "spawn"}, {V1, "finalize"}}
	if len(frames) != len(want) {
		t.Fatalf("got %d frames (%v), want %d", len(frames), errs, len(want))
	}
	for i, w := range want {
		if errs[i] != nil || frames[i].Proto != w.p || frames[i].Msg.Cmd != w.cmd {
			t.Errorf("frame %d = %v %q (%v), want %v %q", i, frames[i].Proto, frames[i].Msg.Cmd, errs[i], w.p, w.cmd)
		}
	}
	sp := frames[4].Spawn
	if len(sp) != 2 || sp[0].Pairs[1] != (Pair{"execname", "/bin/a b"}) {
		t.Fatalf("spawn block = %+v", sp)
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantFatal bool
		thenCmd   string // a good message after the bad one, when not fatal
	}{
		{"garbage line", "hello world\ncmd=barrier_in\n", false, "barrier_in"},
		{"over-long line", "cmd=put value=" + strings.Repeat("x", MaxFrame+10) + "\ncmd=barrier_in\n", true, ""},
		{"bad v2 payload", "     5abcde    14cmd=kvs-fence;", false, "kvs-fence"},
		{"bad v2 header", "12a456cmd=x;", true, ""},
		{"huge v2 length", "999999cmd=x;", true, ""},
		{"bad spawn line", "mcmd=spawn\nnoequals\nendcmd\ncmd=barrier_in\n", false, "barrier_in"},
		{"truncated v2", "    40cmd=x;", true, ""},
		{"truncated line", "cmd=barrier_in", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, errs := collect(tt.in)
			if len(errs) == 0 || errs[0] == nil {
				t.Fatalf("no error for %q", tt.in[:min(len(tt.in), 40)])
			}
			if IsFatal(errs[0]) != tt.wantFatal {
				t.Fatalf("fatal = %v (%v), want %v", IsFatal(errs[0]), errs[0], tt.wantFatal)
			}
			if tt.thenCmd != "" && (len(frames) < 2 || frames[1].Msg.Cmd != tt.thenCmd) {
				t.Fatalf("stream did not resync: frames %+v errs %v", frames, errs)
			}
		})
	}
}

// TestReaderUnterminatedLine: a line that outgrows MaxFrame is an error at
// once, not when (if ever) its newline comes.
func TestReaderUnterminatedLine(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(strings.Repeat("a", MaxFrame+10)))
	done := make(chan error, 1)
	go func() { _, err := NewReader(pr).Next(); done <- err }()
	select {
	case err := <-done:
		if !IsFatal(err) {
			t.Fatalf("err = %v, want a fatal format error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader waited for the newline of an over-long line")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"key ok", CheckKey("-allgather-1-0"), true},
		{"key long", CheckKey(strings.Repeat("k", MaxKey+1)), false},
		{"key space", CheckKey("a b"), false},
		{"key semicolon", CheckKey("a;b"), false},
		{"kvsname ok", CheckKVSName("kvs_4242_0"), true},
		{"kvsname long", CheckKVSName(strings.Repeat("k", MaxKVSName+1)), false},
		{"value max", CheckValue(strings.Repeat("v", MaxValue), V1), true},
		{"value long", CheckValue(strings.Repeat("v", MaxValue+1), V2), false},
		{"value space v1", CheckValue("a b", V1), false},
		{"value space v2", CheckValue("a b", V2), true},
		{"value newline v2", CheckValue("a\nb", V2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", tt.err, tt.ok)
			}
		})
	}
}
