package gossip

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// Capacity is what a node offers right now.
type Capacity struct {
	// Cores is the number of CPU cores offered to tasks.
	Cores uint32 `json:"cores"`
	// Memory and Disk are free memory and disk offered, in bytes.
	Memory uint64 `json:"memory"`
	Disk   uint64 `json:"disk"`
	// Queue and Running count waiting and running tasks.
	Queue   uint32 `json:"queue"`
	Running uint32 `json:"running"`
	// Price is in micro-credits per CPU-second.
	Price uint64 `json:"price"`
	// Runtimes are the runtimes offered (RuntimeWasm).
	Runtimes []string `json:"runtimes"`
}

// CapacitySource tells the advertiser what the node offers. The compute
// subsystem will supply live numbers; StaticCapacity serves a fixed offer
// from configuration until then.
type CapacitySource interface {
	// Capacity returns the current offer. An error skips this round; the
	// advertiser tries again at the next poll.
	Capacity(ctx context.Context) (Capacity, error)
}

// StaticCapacity is a CapacitySource that always offers the same.
type StaticCapacity Capacity

// Capacity returns s.
func (s StaticCapacity) Capacity(context.Context) (Capacity, error) { return Capacity(s), nil }

// Advertiser publishes this node's capacity advert on the capacity topic
// every AdvertConfig.Interval, and sooner (but not within MinGap of the
// previous advert) when the offer changes beyond ChangeThreshold. It is a
// node service: Run blocks until its context ends, and may be run again
// after it returns. Its methods are safe for concurrent use.
type Advertiser struct {
	g   *Gossip
	src CapacitySource
	cfg AdvertConfig

	mu      sync.Mutex // serialises publishes; guards the fields below
	seq     uint64
	last    Capacity
	lastAt  time.Time // when the last advert was published
	has     bool      // an advert was published
	lastErr error     // outcome of the last attempt
}

// NewAdvertiser returns an advertiser for g's node offering what src says.
func NewAdvertiser(g *Gossip, src CapacitySource) *Advertiser {
	return &Advertiser{g: g, src: src, cfg: g.cfg.Advert}
}

// Name names the service.
func (a *Advertiser) Name() string { return "advertiser" }

// Run publishes an advert at once, calls ready, and keeps advertising until
// ctx ends; then it returns nil. A failed publish is retried at the next
// poll and reported by Health, it does not end Run.
func (a *Advertiser) Run(ctx context.Context, ready func()) error {
	if a.g.ctx.Err() != nil {
		return ErrClosed
	}
	_, _ = a.Publish(ctx)
	ready()
	poll := a.g.clk.NewTicker(a.cfg.Poll)
	defer poll.Stop()
	// The second advert comes after a random part of the interval, so that
	// nodes started together (a restarted network, the simulator) do not
	// advertise in step: 200 nodes publishing within the same second made
	// every node verify 200 adverts at once, and spread took seconds. It
	// is drawn from [MinGap, Interval], so it never repeats the first
	// advert right away.
	gap := int64(a.cfg.MinGap)
	next := a.g.clk.NewTimer(time.Duration(gap + rand.Int64N(int64(a.cfg.Interval)-gap+1)))
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.g.ctx.Done():
			return ErrClosed
		case <-next.C():
			// Counted from now, not from the last advert: after a failed
			// attempt that would be at once, again and again. The poll
			// retries failures sooner.
			_, _ = a.Publish(ctx)
			next.Reset(a.jittered())
		case <-poll.C():
			c, err := a.src.Capacity(ctx)
			if err != nil {
				a.setErr(fmt.Errorf("gossip: capacity source: %w", err))
				continue
			}
			if a.due(c) {
				// Publish after MinGap since the last advert.
				if d := a.until(a.cfg.MinGap); d > 0 {
					next.Reset(d)
					continue
				}
				_, _ = a.publish(ctx, c)
				next.Reset(a.jittered())
			}
		}
	}
}

// jittered returns the interval ±10 %, drawn anew for every advert, so
// that nodes keep out of step.
func (a *Advertiser) jittered() time.Duration {
	lo, hi := a.cfg.shortestPeriod(), a.cfg.longestPeriod()
	return lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
}

// until returns how long from now until gap after the last advert.
func (a *Advertiser) until(gap time.Duration) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.has {
		return 0
	}
	return max(0, a.lastAt.Add(gap).Sub(a.g.now()))
}

// due reports whether c differs enough from the last advert (or the last
// attempt failed) to publish before the interval.
func (a *Advertiser) due(c Capacity) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.has || a.lastErr != nil || Changed(a.last, c, a.cfg.ChangeThreshold)
}

// Changed reports whether an offer moved from old to c enough to advertise
// again: any change of cores, price or runtimes; free memory or disk
// changing by more than threshold of the old value; or the load changing
// by more than threshold tasks per core.
func Changed(old, c Capacity, threshold float64) bool {
	if old.Cores != c.Cores || old.Price != c.Price || !slices.Equal(normRuntimes(old.Runtimes), normRuntimes(c.Runtimes)) {
		return true
	}
	rel := func(a, b uint64) float64 {
		return math.Abs(float64(b)-float64(a)) / math.Max(float64(a), 1)
	}
	if rel(old.Memory, c.Memory) > threshold || rel(old.Disk, c.Disk) > threshold {
		return true
	}
	cores := math.Max(float64(c.Cores), 1)
	load := func(x Capacity) float64 { return (float64(x.Queue) + float64(x.Running)) / cores }
	return math.Abs(load(c)-load(old)) > threshold
}

func normRuntimes(rs []string) []string {
	out := slices.Clone(rs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Publish reads the capacity source and publishes an advert now,
// regardless of MinGap (the topic's rate limit still applies). It returns
// the advert published.
func (a *Advertiser) Publish(ctx context.Context) (Advert, error) {
	c, err := a.src.Capacity(ctx)
	if err != nil {
		err = fmt.Errorf("gossip: capacity source: %w", err)
		a.setErr(err)
		return Advert{}, err
	}
	return a.publish(ctx, c)
}

func (a *Advertiser) publish(ctx context.Context, c Capacity) (Advert, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.g.now()
	issued := time.UnixMilli(now.UnixMilli())
	seq := max(a.seq+1, uint64(max(issued.UnixMilli(), 0)))
	ad := Advert{
		Peer:     a.g.h.ID(),
		Addrs:    advertAddrs(a.g.h.Addrs()),
		Cores:    c.Cores,
		Memory:   c.Memory,
		Disk:     c.Disk,
		Queue:    c.Queue,
		Running:  c.Running,
		Price:    c.Price,
		Runtimes: normRuntimes(c.Runtimes),
		Version:  a.g.opts.Version,
		Seq:      seq,
		Issued:   issued,
		Expires:  issued.Add(a.cfg.TTL),
	}
	err := a.g.cap.Publish(ctx, ad)
	a.lastErr = err
	if err != nil {
		var re *RuleError
		if errors.As(err, &re) && re.Rule == RuleSeq {
			// Our own last seq is ahead (clock stepped back): move past it.
			a.seq = seq
		}
		return Advert{}, err
	}
	a.seq, a.last, a.lastAt, a.has = seq, c, now, true
	return ad, nil
}

// advertAddrs keeps the addresses that fit an advert, at most MaxAddrs.
func advertAddrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, min(len(addrs), MaxAddrs))
	for _, x := range addrs {
		if n := len(x.Bytes()); n > 0 && n <= MaxAddrLen {
			out = append(out, x)
			if len(out) == MaxAddrs {
				break
			}
		}
	}
	return out
}

func (a *Advertiser) setErr(err error) {
	a.mu.Lock()
	a.lastErr = err
	a.mu.Unlock()
}

// Health returns the error of the last publish attempt, or an error if no
// advert went out for two intervals.
func (a *Advertiser) Health(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastErr != nil {
		return a.lastErr
	}
	if a.has && a.g.now().Sub(a.lastAt) > 2*a.cfg.Interval {
		return fmt.Errorf("gossip: no advert published since %s", a.lastAt.Format(time.RFC3339))
	}
	return nil
}

// Last returns the last advert's capacity and when it was published.
func (a *Advertiser) Last() (Capacity, time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.lastAt, a.has
}
