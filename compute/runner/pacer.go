package runner

import (
	"math"
	"sync"
	"time"
)

// pacer bounds how many jobs the runner holds (being claimed, claimed and
// waiting for a slot, or executing): Concurrency plus a prefetch that
// adapts to what the jobs cost. While one claim is being synced the slots
// go through concurrency × sync/exec tasks; the pacer lets about twice as
// many be claimed ahead, so that slots do not starve, and no more: for
// tasks longer than a sync that is one per slot, which keeps a job claimed
// ahead from delaying a higher-priority job enqueued after it, and keeps
// few claimed jobs exposed to a crash.
type pacer struct {
	concurrency, maxPrefetch int

	mu      sync.Mutex
	cond    sync.Cond
	held    int
	limit   int
	stopped bool
	exec    ewma // execution time of a task
	sync    ewma // time to persist an outcome: a commit
}

func newPacer(concurrency, maxPrefetch int) *pacer {
	p := &pacer{concurrency: concurrency, maxPrefetch: maxPrefetch}
	p.cond.L = &p.mu
	p.limit = concurrency + min(concurrency, maxPrefetch)
	return p
}

// acquire waits until the runner may hold one more job; false once stopped.
func (p *pacer) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.held >= p.limit && !p.stopped {
		p.cond.Wait()
	}
	if p.stopped {
		return false
	}
	p.held++
	return true
}

func (p *pacer) release() {
	p.mu.Lock()
	p.held--
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pacer) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cond.Broadcast()
}

// observe records a task's execution time or a commit's duration and
// adapts the limit.
func (p *pacer) observe(exec, commit time.Duration) {
	p.mu.Lock()
	if exec > 0 {
		p.exec.add(float64(exec))
	}
	if commit > 0 {
		p.sync.add(float64(commit))
	}
	old := p.limit
	if p.exec.n > 0 && p.sync.n > 0 {
		ahead := 2 * float64(p.concurrency) * p.sync.v / max(p.exec.v, 1)
		prefetch := int(min(math.Ceil(ahead), float64(p.maxPrefetch)))
		p.limit = p.concurrency + max(prefetch, min(1, p.maxPrefetch))
	}
	grew := p.limit > old
	p.mu.Unlock()
	if grew {
		p.cond.Broadcast()
	}
}

// ewma is an exponentially weighted moving average.
type ewma struct {
	v float64
	n int
}

func (e *ewma) add(x float64) {
	const alpha = 0.1
	if e.n == 0 {
		e.v = x
	} else {
		e.v += alpha * (x - e.v)
	}
	e.n++
}
