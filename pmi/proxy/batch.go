package proxy

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/server"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// batcher exchanges a rank's puts with the other proxies in blobs, so that
// a fence followed by a get of every rank's key costs about sqrt(N)
// upstream gets per rank instead of N (see Options.Batch).
//
// At fence e, every proxy writes its puts as one blob ("mpw.e.r.c" chunk
// keys), fences, then the leader of each group of G = ceil(sqrt(N)) ranks
// reads its members' blobs and writes them back as one group blob
// ("mpw.e.gG.c"); a second fence publishes those. The first get after
// the fence reads the N/G group blobs into a local cache.
type batcher struct {
	up      Upstream
	rank    int
	size    int
	group   int // ranks per group
	chunk   int // bytes of blob per upstream value
	epoch   int // fences completed
	pending []string
	cache   *Cache
}

// Cache holds what the fences of one job published, for the batching
// proxies that share it (Options.Cache): the proxies of one node read each
// fence's group blobs from the host once, not once per rank.
type Cache struct {
	reading sync.Mutex // one proxy reads the host at a time
	mu      sync.Mutex
	epochs  []map[string]string // epochs[e-1]: what fence e published
}

// NewCache returns an empty Cache for the proxies of one job.
func NewCache() *Cache { return &Cache{} }

// load makes sure the first upto epochs are in, reading missing ones
// with read.
func (c *Cache) load(upto int, read func(e int) (map[string]string, error)) error {
	if c.have() >= upto {
		return nil
	}
	c.reading.Lock()
	defer c.reading.Unlock()
	for e := c.have() + 1; e <= upto; e++ {
		m, err := read(e)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.epochs = append(c.epochs, m)
		c.mu.Unlock()
	}
	return nil
}

func (c *Cache) have() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.epochs)
}

// lookup finds key as of epoch upto: a proxy behind the others must not
// see what a later fence published.
func (c *Cache) lookup(key string, upto int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := min(upto, len(c.epochs)); e >= 1; e-- {
		if v, ok := c.epochs[e-1][key]; ok {
			return v, true
		}
	}
	return "", false
}

func newBatcher(up Upstream, info pmi.Info, cache *Cache) *batcher {
	chunk := wire.MaxValue
	if l, ok := up.(server.Limiter); ok {
		chunk = l.Maxes().Value
	}
	// A PMI-1 put line must fit 1024 bytes: leave room for the rest.
	chunk = max(64, min(chunk, wire.MaxV1Request-64-len(info.KVSName)))
	if cache == nil {
		cache = NewCache()
	}
	return &batcher{up: up, rank: info.Rank, size: info.Size, chunk: chunk,
		group: int(math.Ceil(math.Sqrt(float64(info.Size)))), cache: cache}
}

func (b *batcher) put(key, value string) {
	b.pending = append(b.pending, escape(key)+"="+escape(value))
}

// fence runs the two-stage exchange described on batcher.
func (b *batcher) fence(ctx context.Context) error {
	e := b.epoch + 1
	mine := strings.Join(b.pending, ",")
	if err := b.putBlob(ctx, fmt.Sprintf("mpw.%d.%d", e, b.rank), mine); err != nil {
		return err
	}
	if err := b.sync(ctx); err != nil {
		return err
	}
	if b.rank%b.group == 0 {
		parts := []string{mine}
		for m := b.rank + 1; m < min(b.rank+b.group, b.size); m++ {
			blob, err := b.getBlob(ctx, m, fmt.Sprintf("mpw.%d.%d", e, m))
			if err != nil {
				return err
			}
			parts = append(parts, blob)
		}
		if err := b.putBlob(ctx, fmt.Sprintf("mpw.%d.g%d", e, b.rank/b.group), joinNonEmpty(parts)); err != nil {
			return err
		}
	}
	if err := b.sync(ctx); err != nil {
		return err
	}
	b.epoch, b.pending = e, nil
	return nil
}

func (b *batcher) sync(ctx context.Context) error {
	if err := b.up.Commit(ctx); err != nil {
		return err
	}
	return b.up.Fence(ctx)
}

// get answers from the cache, reading the group blobs of new epochs
// first; a key that no proxy put is asked upstream.
func (b *batcher) get(ctx context.Context, src int, key string) (string, bool, error) {
	if err := b.cache.load(b.epoch, func(e int) (map[string]string, error) { return b.readEpoch(ctx, e) }); err != nil {
		return "", false, err
	}
	if v, ok := b.cache.lookup(key, b.epoch); ok {
		return v, true, nil
	}
	return b.up.Get(ctx, src, key)
}

// readEpoch reads the group blobs that fence e published.
func (b *batcher) readEpoch(ctx context.Context, e int) (map[string]string, error) {
	m := map[string]string{}
	for g := 0; g*b.group < b.size; g++ {
		name := fmt.Sprintf("mpw.%d.g%d", e, g)
		blob, err := b.getBlob(ctx, g*b.group, name)
		if err != nil {
			return nil, err
		}
		if err := decodeInto(m, blob); err != nil {
			return nil, fmt.Errorf("read batch %s: %w", name, err)
		}
	}
	return m, nil
}

// putBlob writes blob as chunks name.0, name.1, ...; name.0 starts with
// "<length of blob>:".
func (b *batcher) putBlob(ctx context.Context, name, blob string) error {
	data := strconv.Itoa(len(blob)) + ":" + blob
	for i := 0; i == 0 || len(data) > 0; i++ {
		piece := data[:min(len(data), b.chunk)]
		data = data[len(piece):]
		if err := b.up.Put(ctx, name+"."+strconv.Itoa(i), piece); err != nil {
			return fmt.Errorf("put batch %s: %w", name, err)
		}
	}
	return nil
}

// getBlob reads a blob written by putBlob on rank src.
func (b *batcher) getBlob(ctx context.Context, src int, name string) (string, error) {
	first, err := b.mustGet(ctx, src, name+".0")
	if err != nil {
		return "", err
	}
	length, rest, ok := strings.Cut(first, ":")
	n, err := strconv.Atoi(length)
	if !ok || err != nil || n < len(rest) || n > 1<<26 {
		return "", fmt.Errorf("read batch %s: bad header %.16q", name, first)
	}
	var sb strings.Builder
	sb.WriteString(rest)
	for i := 1; sb.Len() < n; i++ {
		piece, err := b.mustGet(ctx, src, name+"."+strconv.Itoa(i))
		if err != nil {
			return "", err
		}
		if piece == "" || sb.Len()+len(piece) > n {
			return "", fmt.Errorf("read batch %s: chunk %d does not fit the length %d", name, i, n)
		}
		sb.WriteString(piece)
	}
	return sb.String(), nil
}

func (b *batcher) mustGet(ctx context.Context, src int, key string) (string, error) {
	v, found, err := b.up.Get(ctx, src, key)
	if err == nil && !found {
		err = fmt.Errorf("missing: is every rank behind an mpiwrap proxy with batching on?")
	}
	if err != nil {
		return "", fmt.Errorf("read batch key %s: %w", key, err)
	}
	return v, nil
}

func joinNonEmpty(parts []string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// escape makes s safe inside a blob carried by either protocol: no space,
// ';', ',', '=', '%' or non-printable bytes.
func escape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || strings.IndexByte(";,=%", c) >= 0 {
			fmt.Fprintf(&sb, "%%%02X", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape in %.20q", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %.20q", s)
		}
		sb.WriteByte(byte(n))
		i += 2
	}
	return sb.String(), nil
}

// decodeInto adds the key=value entries of blob to cache.
func decodeInto(cache map[string]string, blob string) error {
	for _, ent := range strings.Split(blob, ",") {
		if ent == "" {
			continue
		}
		k, v, ok := strings.Cut(ent, "=")
		if !ok {
			return fmt.Errorf("entry %.20q has no '='", ent)
		}
		key, err1 := unescape(k)
		val, err2 := unescape(v)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("entry %.20q: bad escape", ent)
		}
		cache[key] = val
	}
	return nil
}
