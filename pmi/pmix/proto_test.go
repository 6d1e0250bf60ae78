package pmix

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    frame
	}{
		{"no fields", frame{op: opCommit, id: 1}},
		{"empty field", frame{op: opOK, id: 2, fields: []string{""}}},
		{"put", frame{op: opPut, id: 0xfffffffe, fields: []string{"key", "a value; with = and \n"}}},
		{"binary", frame{op: opGet, id: 3, fields: []string{"-1", "\x00\xff"}}},
		{"long", frame{op: opOK, id: 4, fields: []string{strings.Repeat("x", 300), "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, err := appendFrame([]byte("prefix"), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			r := bytes.NewReader(buf[len("prefix"):])
			got, err := readFrame(r)
			if err != nil {
				t.Fatal(err)
			}
			if got.op != tt.f.op || got.id != tt.f.id || !slices.Equal(got.fields, tt.f.fields) {
				t.Fatalf("got %+v, want %+v", got, tt.f)
			}
			if _, err := readFrame(r); !errors.Is(err, io.EOF) {
				t.Fatalf("after the frame: %v, want EOF", err)
			}
		})
	}
}

func TestFrameErrors(t *testing.T) {
	good, _ := appendFrame(nil, frame{op: opPut, id: 1, fields: []string{"k", "v"}})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"truncated header", good[:2], "unexpected EOF"},
		{"truncated body", good[:len(good)-1], "unexpected EOF"},
		{"too short", []byte{0, 0, 0, 4, 1, 0, 0, 0}, "out of range"},
		{"too long", []byte{0x7f, 0, 0, 0}, "out of range"},
		{"op zero", []byte{0, 0, 0, 5, 0, 0, 0, 0, 0}, "unknown op 0"},
		{"op past the end", []byte{0, 0, 0, 5, byte(opMax), 0, 0, 0, 0}, "unknown op"},
		{"field overrun", []byte{0, 0, 0, 7, byte(opOK), 0, 0, 0, 1, 5, 'a'}, "overruns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("readFrame = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := appendFrame(nil, frame{op: opOK, fields: []string{strings.Repeat("x", maxFrame)}}); err == nil {
		t.Error("appendFrame accepted a frame over maxFrame")
	}
}

func TestFrameCheck(t *testing.T) {
	tests := []struct {
		f  frame
		ok bool
	}{
		{frame{op: opPut, fields: []string{"k", "v"}}, true},
		{frame{op: opPut, fields: []string{"k"}}, false},
		{frame{op: opCommit, fields: []string{"x"}}, false},
		{frame{op: opOK}, true},
		{frame{op: opOK, fields: []string{"a", "b", "c"}}, true},
		{frame{op: opHello, fields: []string{"0", "1", "0", "ns"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.f.op.String(), func(t *testing.T) {
			if err := tt.f.check(); (err == nil) != tt.ok {
				t.Fatalf("check(%+v) = %v, want ok=%v", tt.f, err, tt.ok)
			}
		})
	}
}

// FuzzReadFrame: any input decodes or fails cleanly, and what decodes
// encodes back to the same bytes.
func FuzzReadFrame(f *testing.F) {
	for _, fr := range []frame{{op: opPut, id: 1, fields: []string{"k", "v"}}, {op: opHello, fields: []string{"0", "4", "0", "ns", "v"}}, {op: opCommit}} {
		buf, _ := appendFrame(nil, fr)
		f.Add(buf)
	}
	f.Add([]byte{0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, err := readFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		out, err := appendFrame(nil, fr)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", fr, err)
		}
		again, err := readFrame(bytes.NewReader(out))
		if err != nil || again.op != fr.op || again.id != fr.id || !slices.Equal(again.fields, fr.fields) {
			t.Fatalf("round trip of %+v gave %+v, %v", fr, again, err)
		}
	})
}
