package modex

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// The limits the codec is used with: PMI-2's value limit, and PMI-1's
// line limit with hydra's and Slurm's longest kvsnames.
var rooms = []int{
	wire.MaxValue,
	Room(true, "kvs_12345_0_1234567890_node001", Key(99, 999, 99), wire.MaxValue, wire.MaxV1Request),
	Room(true, strings.Repeat("k", wire.MaxKVSName), Key(1<<20, 1<<16, 1<<10), wire.MaxValue, wire.MaxV1Request),
	MinRoom,
}

// checkParts checks that every part is a value both protocols can carry
// within room.
func checkParts(t testing.TB, parts []string, room int) {
	t.Helper()
	for i, p := range parts {
		if p == "" || len(p) > room {
			t.Fatalf("part %d: %d bytes, want 1..%d", i, len(p), room)
		}
		for _, proto := range []wire.Proto{wire.V1, wire.V2} {
			if err := wire.CheckValue(p, proto); err != nil {
				t.Fatalf("part %d over %v: %v", i, proto, err)
			}
		}
		if strings.ContainsAny(p, ";=") {
			t.Fatalf("part %d holds a PMI separator: %q", i, p)
		}
	}
}

func roundTrip(t testing.TB, blob []byte, room int) []string {
	t.Helper()
	parts, err := Split(blob, room)
	if err != nil {
		t.Fatalf("Split(%d bytes, %d): %v", len(blob), room, err)
	}
	checkParts(t, parts, room)
	if n, err := Count(parts[0]); err != nil || n != len(parts) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(parts))
	}
	got, err := Join(parts)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("Join(Split(%d bytes, %d)) = %d bytes, %v", len(blob), room, len(got), err)
	}
	return parts
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, room := range rooms {
		for _, size := range []int{0, 1, 2, 3, room / 2, room - 20, room, room + 1, 3 * room, 10000, 100000} {
			t.Run(fmt.Sprintf("room%d/size%d", room, size), func(t *testing.T) {
				blob := make([]byte, size)
				r.Read(blob)
				parts := roundTrip(t, blob, room)
				// As few parts as the room allows: all but the last are full.
				for i, p := range parts[:len(parts)-1] {
					if len(p) != room {
						t.Fatalf("part %d of %d has %d bytes, room %d", i, len(parts), len(p), room)
					}
				}
			})
		}
	}
}

// TestRoom: a PMI-1 put of a part is one request line of at most 1024
// bytes, as the client sends it.
func TestRoom(t *testing.T) {
	kvs, key := strings.Repeat("k", 200), Key(7, 3, 12)
	room := Room(true, kvs, key, wire.MaxValue, wire.MaxV1Request)
	line, err := wire.AppendV1(nil, wire.NewMsg("put", "kvsname", kvs, "key", key, "value", strings.Repeat("v", room)))
	if err != nil {
		t.Fatal(err)
	}
	if len(line) != wire.MaxV1Request {
		t.Fatalf("a full put line is %d bytes, want %d", len(line), wire.MaxV1Request)
	}
	if got := Room(false, kvs, key, wire.MaxValue, wire.MaxV1Request); got != wire.MaxValue {
		t.Fatalf("PMI-2 room = %d", got)
	}
	if got := Room(true, "k", "k", 200, wire.MaxV1Request); got != 200 {
		t.Fatalf("room under a server's smaller vallen_max = %d", got)
	}
}

func TestSplitErrors(t *testing.T) {
	if _, err := Split([]byte("x"), MinRoom-1); err == nil {
		t.Fatal("Split accepted a room below MinRoom")
	}
}

func TestJoinErrors(t *testing.T) {
	a, _ := Split(bytes.Repeat([]byte("a"), 3000), 200)
	b, _ := Split(bytes.Repeat([]byte("b"), 3000), 200)
	mixed := append([]string{a[0]}, b[1:]...)
	for name, parts := range map[string][]string{
		"none":      nil,
		"no header": {"abc"},
		"missing":   a[:len(a)-1],
		"extra":     append(append([]string{}, a...), "x"),
		"mixed":     mixed,
		"truncated": append(append([]string{}, a[:len(a)-1]...), a[len(a)-1][:1]),
		"bad count": {"x.1.0."},
		"huge":      {"1.999999999999.0."},
	} {
		if _, err := Join(parts); err == nil {
			t.Errorf("%s: Join succeeded", name)
		}
	}
}

func TestKey(t *testing.T) {
	if k := Key(1<<30, 1<<20, 1<<20); wire.CheckKey(k) != nil {
		t.Fatalf("key %q: %v", k, wire.CheckKey(k))
	}
	if Key(1, 2, 3) == Key(12, 3, 0) || Key(1, 23, 4) == Key(12, 3, 4) {
		t.Fatal("keys collide")
	}
}

func FuzzSplitJoin(f *testing.F) {
	f.Add([]byte(""), uint16(0))
	f.Add([]byte("hello"), uint16(1))
	f.Add(bytes.Repeat([]byte{0, 0xff, ';', '=', ' ', '\n'}, 40), uint16(2))
	f.Add(bytes.Repeat([]byte{7}, 200), uint16(1<<15+5))
	f.Fuzz(func(t *testing.T, blob []byte, which uint16) {
		room := rooms[int(which)%len(rooms)]
		if which >= 1<<15 { // any other room too
			room = MinRoom + int(which)%(wire.MaxValue-MinRoom+1)
		}
		roundTrip(t, blob, room)
	})
}

// FuzzJoin: Join of anything errs or returns a blob that splits back to
// the same parts; it never panics.
func FuzzJoin(f *testing.F) {
	good, _ := Split([]byte("some modex data"), MinRoom)
	f.Add(strings.Join(good, "\n"))
	f.Add("2.3.0.AAA\nA")
	f.Add("1.0.0.")
	f.Fuzz(func(t *testing.T, s string) {
		parts := strings.Split(s, "\n")
		blob, err := Join(parts)
		if err != nil {
			return
		}
		room := max(MinRoom, len(parts[0]))
		for _, p := range parts {
			room = max(room, len(p))
		}
		again, err := Split(blob, room)
		if err != nil {
			t.Fatalf("Split of a joined blob: %v", err)
		}
		if got, err := Join(again); err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("re-join: %v", err)
		}
	})
}
