package client

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// PMI1 is a PMI-1 client. Its methods are safe for concurrent use; calls
// are serialised on the connection.
type PMI1 struct {
	*conn
	info  pmi.Info
	maxes wire.Maxes
}

// NewPMI1 connects and initialises: initack (PMI_PORT mode), init 1.1,
// get_maxes, get_my_kvsname and get_appnum.
func NewPMI1(ctx context.Context, cfg Config) (*PMI1, error) {
	c, err := cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	p := &PMI1{conn: newConn(c), info: pmi.Info{Rank: cfg.Rank, Size: cfg.Size, Spawned: cfg.Spawned}}
	if err := p.init(ctx, cfg); err != nil {
		p.Close()
		return nil, fmt.Errorf("initialise PMI-1: %w", err)
	}
	return p, nil
}

func (p *PMI1) init(ctx context.Context, cfg Config) error {
	if cfg.Conn == nil {
		if err := initack(ctx, p.conn, cfg.ID, &p.info); err != nil {
			return err
		}
	}
	if p.info.Rank < 0 || p.info.Size <= 0 {
		return fmt.Errorf("rank %d / size %d unknown: PMI_RANK and PMI_SIZE must be set with PMI_FD", p.info.Rank, p.info.Size)
	}
	if err := initVersion(ctx, p.conn, "1", "1"); err != nil {
		return err
	}
	m, err := p.call(ctx, wire.NewMsg("get_maxes"), "maxes")
	if err != nil {
		return err
	}
	p.maxes = wire.DefaultMaxes
	for _, f := range []struct {
		key string
		dst *int
	}{{"kvsname_max", &p.maxes.KVSName}, {"keylen_max", &p.maxes.Key}, {"vallen_max", &p.maxes.Value}} {
		if n, ok, err := m.Int(f.key); err != nil {
			return err
		} else if ok && n > 0 {
			*f.dst = n
		}
	}
	if m, err = p.call(ctx, wire.NewMsg("get_my_kvsname"), "my_kvsname"); err != nil {
		return err
	}
	p.info.KVSName, _ = m.Get("kvsname")
	if err := wire.CheckKVSName(p.info.KVSName); err != nil {
		return err
	}
	if m, err = p.call(ctx, wire.NewMsg("get_appnum"), "appnum"); err != nil {
		return err
	}
	p.info.AppNum, _, err = m.Int("appnum")
	return err
}

// initack performs the PMI_PORT handshake and learns rank and size.
func initack(ctx context.Context, cn *conn, id int, info *pmi.Info) error {
	ms, err := cn.exchange(ctx, wire.V1, wire.NewMsg("initack", "pmiid", strconv.Itoa(id)), "initack", "set", "set", "set")
	if err != nil {
		return err
	}
	if err := rcErr("initack", ms[0]); err != nil {
		return err
	}
	for _, m := range ms[1:] {
		for _, f := range []struct {
			key string
			dst *int
		}{{"size", &info.Size}, {"rank", &info.Rank}} {
			if n, ok, err := m.Int(f.key); err != nil {
				return err
			} else if ok {
				*f.dst = n
			}
		}
		if d, ok, _ := m.Int("debug"); ok {
			info.Debug = d != 0
		}
	}
	return nil
}

// initVersion sends the PMI-1 framed init and checks the version answer.
func initVersion(ctx context.Context, cn *conn, ver, sub string) error {
	m, err := cn.roundTrip(ctx, wire.V1, wire.NewMsg("init", "pmi_version", ver, "pmi_subversion", sub), "response_to_init")
	if err != nil {
		return err
	}
	if err := rcErr("init", m); err != nil {
		return err
	}
	if v, ok := m.Get("pmi_version"); ok && v != ver {
		return fmt.Errorf("server answered init with pmi_version=%s, want %s", v, ver)
	}
	return nil
}

// call is a round trip that fails on a non-zero rc.
func (p *PMI1) call(ctx context.Context, req wire.Msg, want string) (wire.Msg, error) {
	m, err := p.roundTrip(ctx, wire.V1, req, want)
	if err == nil {
		err = rcErr(req.Cmd, m)
	}
	return m, err
}

// Info returns rank, size, appnum and kvsname.
func (p *PMI1) Info() pmi.Info { return p.info }

// Maxes returns the limits the server reported.
func (p *PMI1) Maxes() wire.Maxes { return p.maxes }

// Put stores key=value in the job's KVS.
func (p *PMI1) Put(ctx context.Context, key, value string) error {
	if err := p.checkPut(key, value); err != nil {
		return err
	}
	_, err := p.call(ctx, wire.NewMsg("put", "kvsname", p.info.KVSName, "key", key, "value", value), "put_result")
	return err
}

func (p *PMI1) checkPut(key, value string) error {
	if err := wire.CheckKey(key); err != nil {
		return fmt.Errorf("PMI-1 put: %w", err)
	}
	if len(key) > p.maxes.Key || len(value) > p.maxes.Value {
		return fmt.Errorf("PMI-1 put %s: key or value exceeds the server's limits %d/%d", key, p.maxes.Key, p.maxes.Value)
	}
	if err := wire.CheckValue(value, wire.V1); err != nil {
		return fmt.Errorf("PMI-1 put %s: %w", key, err)
	}
	return nil
}

// Commit does nothing: PMI-1 puts need no commit on the wire.
func (p *PMI1) Commit(context.Context) error { return nil }

// Fence is barrier_in/barrier_out: all ranks' puts are visible after it.
func (p *PMI1) Fence(ctx context.Context) error {
	_, err := p.call(ctx, wire.NewMsg("barrier_in"), "barrier_out")
	return err
}

// Get looks key up. PMI-1 keys are job-wide, so src is not sent. Any
// non-zero rc is "not found", as MPICH treats it.
func (p *PMI1) Get(ctx context.Context, _ int, key string) (string, bool, error) {
	if err := wire.CheckKey(key); err != nil {
		return "", false, fmt.Errorf("PMI-1 get: %w", err)
	}
	m, err := p.roundTrip(ctx, wire.V1, wire.NewMsg("get", "kvsname", p.info.KVSName, "key", key), "get_result")
	if err != nil {
		return "", false, err
	}
	rc, err := m.RC()
	if err != nil {
		return "", false, err
	}
	v, hasVal := m.Get("value")
	_, hasFound := m.Get("found") // hydra 4.1-4.2 add found=TRUE/FALSE
	if rc != 0 || !hasVal || (hasFound && !m.Bool("found")) {
		return "", false, nil
	}
	return v, true, nil
}

// JobAttr answers universeSize with get_universe_size and anything else
// (PMI_process_mapping, ...) with a get, as hydra and Slurm serve them.
func (p *PMI1) JobAttr(ctx context.Context, key string) (string, bool, error) {
	if key != pmi.AttrUniverseSize {
		return p.Get(ctx, pmi.AnyRank, key)
	}
	m, err := p.call(ctx, wire.NewMsg("get_universe_size"), "universe_size")
	if err != nil {
		return "", false, err
	}
	v, ok := m.Get("size")
	return v, ok, nil
}

// Abort asks the launcher to end the job with code. There is no reply.
// The message is not sent: PMI-1.1 servers only know exitcode.
func (p *PMI1) Abort(_ context.Context, code int, _ string) error {
	return p.send(wire.V1, wire.NewMsg("abort", "exitcode", strconv.Itoa(code)))
}

// Finalize says goodbye; Close the client afterwards.
func (p *PMI1) Finalize(ctx context.Context) error {
	_, err := p.call(ctx, wire.NewMsg("finalize"), "finalize_ack")
	return err
}

// Publish registers service at port with the launcher's name service.
func (p *PMI1) Publish(ctx context.Context, service, port string) error {
	_, err := p.call(ctx, wire.NewMsg("publish_name", "service", service, "port", port), "publish_result")
	return err
}

// Unpublish removes a published service.
func (p *PMI1) Unpublish(ctx context.Context, service string) error {
	_, err := p.call(ctx, wire.NewMsg("unpublish_name", "service", service), "unpublish_result")
	return err
}

// Lookup finds a published service's port.
func (p *PMI1) Lookup(ctx context.Context, service string) (string, bool, error) {
	m, err := p.roundTrip(ctx, wire.V1, wire.NewMsg("lookup_name", "service", service), "lookup_result")
	if err != nil {
		return "", false, err
	}
	rc, err := m.RC()
	port, ok := m.Get("port")
	info, _ := m.Get("info") // Slurm: info=ok or info=fail
	if err != nil || rc != 0 || !ok || info == "fail" {
		return "", false, err
	}
	return port, true, nil
}
