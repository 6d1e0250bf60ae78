package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// PMI2 is a PMI-2 client. Its methods are safe for concurrent use; calls
// are serialised on the connection.
type PMI2 struct {
	*conn
	info pmi.Info
}

// NewPMI2 connects and initialises: initack (PMI_PORT mode), the PMI-1
// framed init 2.0, fullinit and job-getid.
func NewPMI2(ctx context.Context, cfg Config) (*PMI2, error) {
	c, err := cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	p := &PMI2{conn: newConn(c), info: pmi.Info{Rank: cfg.Rank, Size: cfg.Size, Spawned: cfg.Spawned}}
	if err := p.init(ctx, cfg); err != nil {
		p.Close()
		return nil, fmt.Errorf("initialise PMI-2: %w", err)
	}
	return p, nil
}

func (p *PMI2) init(ctx context.Context, cfg Config) error {
	id := cfg.Rank
	if cfg.Conn == nil {
		if err := initack(ctx, p.conn, cfg.ID, &p.info); err != nil {
			return err
		}
		id = cfg.ID
	}
	if err := initVersion(ctx, p.conn, "2", "0"); err != nil {
		return err
	}
	// Slurm insists on pmijobid, pmirank and threaded.
	req := wire.NewMsg("fullinit")
	if cfg.JobID != "" {
		req.Add("pmijobid", cfg.JobID)
	}
	req.Add("pmirank", strconv.Itoa(id))
	req.Add("threaded", "FALSE")
	m, err := p.call(ctx, req)
	if err != nil {
		return err
	}
	if err := p.readFullinit(m); err != nil {
		return err
	}
	if m, err = p.call(ctx, wire.NewMsg("job-getid")); err != nil {
		return err
	}
	p.info.KVSName, _ = m.Get("jobid")
	return wire.CheckKVSName(p.info.KVSName)
}

// readFullinit accepts hydra 4.0, hydra >= 4.1 and Slurm replies: rank and
// size are required, appnum defaults to 0, booleans may be TRUE or 1.
func (p *PMI2) readFullinit(m wire.Msg) error {
	for _, f := range []struct {
		key  string
		dst  *int
		need bool
	}{{"rank", &p.info.Rank, true}, {"size", &p.info.Size, true}, {"appnum", &p.info.AppNum, false}} {
		n, ok, err := m.Int(f.key)
		if err != nil {
			return err
		}
		if !ok && f.need {
			return fmt.Errorf("fullinit-response lacks %s", f.key)
		}
		if ok {
			*f.dst = n
		}
	}
	if _, ok := m.Get("spawner-jobid"); ok {
		p.info.Spawned = true
	}
	p.info.Debug = m.Bool("pmiverbose")
	return nil
}

// call is a PMI-2 round trip to cmd-response that fails on a non-zero rc.
func (p *PMI2) call(ctx context.Context, req wire.Msg) (wire.Msg, error) {
	m, err := p.roundTrip(ctx, wire.V2, req, req.Cmd+"-response")
	if err == nil {
		err = rcErr(req.Cmd, m)
	}
	return m, err
}

// found reads found=/value= of a get-style response. A value without
// found= counts as found.
func found(m wire.Msg) (string, bool) {
	v, hasVal := m.Get("value")
	if _, ok := m.Get("found"); ok {
		return v, m.Bool("found") && hasVal
	}
	return v, hasVal
}

// Info returns rank, size, appnum and jobid.
func (p *PMI2) Info() pmi.Info { return p.info }

// Put stores key=value in the job's KVS.
func (p *PMI2) Put(ctx context.Context, key, value string) error {
	if err := checkPut(key, value); err != nil {
		return fmt.Errorf("PMI-2 kvs-put: %w", err)
	}
	_, err := p.call(ctx, wire.NewMsg("kvs-put", "key", key, "value", value))
	return err
}

// checkPut refuses what PMI-2 servers cannot store. That includes ';':
// hydra and slurmstepd split values on it and ignore the ";;" escape that
// old MPICH and Slurm's own libpmi2 write, so the value would be cut short.
func checkPut(key, value string) error {
	if err := wire.CheckKey(key); err != nil {
		return err
	}
	if strings.Contains(value, ";") {
		return fmt.Errorf("value of %s holds ';', which hydra and Slurm PMI-2 servers cannot store; use a PMI-1 upstream", key)
	}
	return wire.CheckValue(value, wire.V2)
}

// Commit does nothing: PMI-2 puts need no commit on the wire.
func (p *PMI2) Commit(context.Context) error { return nil }

// Fence is kvs-fence: all ranks' puts are visible after it.
func (p *PMI2) Fence(ctx context.Context) error {
	_, err := p.call(ctx, wire.NewMsg("kvs-fence"))
	return err
}

// Get looks key up; src is sent as srcid (-1 when unknown).
func (p *PMI2) Get(ctx context.Context, src int, key string) (string, bool, error) {
	if err := wire.CheckKey(key); err != nil {
		return "", false, fmt.Errorf("PMI-2 kvs-get: %w", err)
	}
	if src < 0 {
		src = -1
	}
	m, err := p.call(ctx, wire.NewMsg("kvs-get", "jobid", p.info.KVSName, "srcid", strconv.Itoa(src), "key", key))
	if err != nil {
		return "", false, err
	}
	v, ok := found(m)
	return v, ok, nil
}

// JobAttr is info-getjobattr.
func (p *PMI2) JobAttr(ctx context.Context, key string) (string, bool, error) {
	m, err := p.call(ctx, wire.NewMsg("info-getjobattr", "key", key))
	if err != nil {
		return "", false, err
	}
	v, ok := found(m)
	return v, ok, nil
}

// PutNodeAttr is info-putnodeattr: visible to the ranks on this node.
func (p *PMI2) PutNodeAttr(ctx context.Context, key, value string) error {
	if err := checkPut(key, value); err != nil {
		return fmt.Errorf("PMI-2 info-putnodeattr: %w", err)
	}
	_, err := p.call(ctx, wire.NewMsg("info-putnodeattr", "key", key, "value", value))
	return err
}

// GetNodeAttr is info-getnodeattr; with wait the server holds the reply
// until the key is put.
func (p *PMI2) GetNodeAttr(ctx context.Context, key string, wait bool) (string, bool, error) {
	w := "FALSE"
	if wait {
		w = "TRUE"
	}
	m, err := p.call(ctx, wire.NewMsg("info-getnodeattr", "key", key, "wait", w))
	if err != nil {
		return "", false, err
	}
	v, ok := found(m)
	return v, ok, nil
}

// Abort asks the launcher to end the job. The request carries both the
// old (isworld, msg) and the new (exitcode, message) fields.
func (p *PMI2) Abort(_ context.Context, code int, msg string) error {
	msg = strings.NewReplacer(";", ",", "\n", " ").Replace(msg)
	return p.send(wire.V2, wire.NewMsg("abort", "isworld", "TRUE", "exitcode", strconv.Itoa(code), "msg", msg, "message", msg))
}

// Finalize says goodbye; Close the client afterwards.
func (p *PMI2) Finalize(ctx context.Context) error {
	_, err := p.call(ctx, wire.NewMsg("finalize"))
	return err
}

// Publish is name-publish.
func (p *PMI2) Publish(ctx context.Context, service, port string) error {
	_, err := p.call(ctx, wire.NewMsg("name-publish", "name", service, "port", port, "infokeycount", "0"))
	return err
}

// Unpublish is name-unpublish.
func (p *PMI2) Unpublish(ctx context.Context, service string) error {
	_, err := p.call(ctx, wire.NewMsg("name-unpublish", "name", service, "infokeycount", "0"))
	return err
}

// Lookup is name-lookup; the port may come as port= (hydra) or value=
// (Slurm).
func (p *PMI2) Lookup(ctx context.Context, service string) (string, bool, error) {
	m, err := p.call(ctx, wire.NewMsg("name-lookup", "name", service, "infokeycount", "0"))
	if err != nil {
		return "", false, err
	}
	if _, ok := m.Get("found"); ok && !m.Bool("found") {
		return "", false, nil
	}
	if port, ok := m.Get("port"); ok {
		return port, true, nil
	}
	v, ok := m.Get("value")
	return v, ok, nil
}
