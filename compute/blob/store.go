package blob

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"github.com/fog-compute/fog/internal/durable"
	"github.com/fog-compute/fog/internal/notify"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/clock"
)

// tmpPrefix starts the names of files being written; Open removes any left
// by a crash. Module files are named by 64 lowercase hex digits, so the two
// never collide.
const tmpPrefix = ".tmp-"

// Store is a content-addressed cache of modules, on disk or in memory,
// bounded by Config.MaxBytes with least-recently-used eviction. It is safe
// for concurrent use.
type Store struct {
	dir       string // "" keeps modules in memory
	maxBytes  int64
	maxModule int64
	clock     clock.Clock

	mu       sync.Mutex
	entries  map[wasm.ModuleID]*entry
	lru      *list.List // of *entry, most recently used at the front
	size     int64      // bytes of the entries
	reserved int64      // bytes of the writes in progress
	writes   map[wasm.ModuleID]*write
	pins     map[wasm.ModuleID]int
	onAdd    func(wasm.ModuleID) // set once by New, before any use
	released notify.Signal       // a pin, read or write of a module ended
}

// entry is one stored module.
type entry struct {
	id      wasm.ModuleID
	size    int64
	data    []byte // in memory mode; never modified once stored
	readers int    // Gets and served streams reading it now
	corrupt bool   // a reader found the file damaged: drop it when unread
	elem    *list.Element
}

// write is a Put in progress; concurrent Puts of the same module wait for
// it.
type write struct {
	done chan struct{}
}

// OpenStore opens the module cache cfg describes. On disk it creates
// cfg.Dir if needed, removes files a crashed write left behind, and indexes
// the modules found there, taking their modification times as their last
// use and evicting the oldest if they exceed cfg.MaxBytes. Module files are
// not hashed here; Get verifies a module each time it reads it.
func OpenStore(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		dir:       cfg.Dir,
		maxBytes:  cfg.MaxBytes,
		maxModule: cfg.MaxModuleBytes,
		clock:     cfg.Clock,
		entries:   make(map[wasm.ModuleID]*entry),
		lru:       list.New(),
		writes:    make(map[wasm.ModuleID]*write),
		pins:      make(map[wasm.ModuleID]int),
	}
	if s.dir == "" {
		return s, nil
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// load rebuilds the index from the directory.
func (s *Store) load() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("blob: open %s: %w", s.dir, err)
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("blob: open %s: %w", s.dir, err)
	}
	type found struct {
		id    wasm.ModuleID
		size  int64
		mtime time.Time
	}
	var mods []found
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("blob: remove leftover %s: %w", name, err)
			}
			continue
		}
		id, err := wasm.ParseModuleID(name)
		if err != nil || id.String() != name || !de.Type().IsRegular() {
			continue // not ours
		}
		info, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("blob: open %s: %w", s.dir, err)
		}
		if info.Size() > s.maxModule {
			// The cap was lowered since it was stored.
			_ = os.Remove(filepath.Join(s.dir, name))
			continue
		}
		mods = append(mods, found{id, info.Size(), info.ModTime()})
	}
	// Most recently used first; equal times in ID order, so the order does
	// not depend on the directory listing.
	slices.SortFunc(mods, func(a, b found) int {
		if c := b.mtime.Compare(a.mtime); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	for _, m := range mods {
		e := &entry{id: m.id, size: m.size}
		e.elem = s.lru.PushBack(e)
		s.entries[m.id] = e
		s.size += m.size
	}
	for s.size > s.maxBytes {
		s.removeLocked(s.lru.Back().Value.(*entry))
	}
	return nil
}

func (s *Store) path(id wasm.ModuleID) string { return filepath.Join(s.dir, id.String()) }

// checkLen refuses modules above the module cap.
func (s *Store) checkLen(n int) error {
	if int64(n) > s.maxModule {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, s.maxModule)
	}
	return nil
}

// Put stores data and returns its ID, the SHA-256 of data. Storing a
// module that is already stored only marks it used. Put may evict least
// recently used modules to make room; it fails with ErrTooLarge above
// Config.MaxModuleBytes and ErrFull if the modules in use leave no room.
// On disk the module is written to a temporary file, synced and renamed,
// so a module file is always complete.
func (s *Store) Put(ctx context.Context, data []byte) (wasm.ModuleID, error) {
	if err := s.checkLen(len(data)); err != nil {
		return wasm.ModuleID{}, err
	}
	id := wasm.IDOf(data)
	return id, s.put(ctx, id, data)
}

// PutVerified stores data as module id, refusing (ErrHashMismatch) data
// whose SHA-256 is not id. Otherwise it is Put.
func (s *Store) PutVerified(ctx context.Context, id wasm.ModuleID, data []byte) error {
	if err := s.checkLen(len(data)); err != nil {
		return err
	}
	if got := wasm.IDOf(data); got != id {
		return fmt.Errorf("blob: put %s: %w (the bytes hash to %s)", id, ErrHashMismatch, got)
	}
	return s.put(ctx, id, data)
}

func (s *Store) put(ctx context.Context, id wasm.ModuleID, data []byte) error {
	n := int64(len(data))
	var w *write
	for w == nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("blob: put %s: %w", id, err)
		}
		s.mu.Lock()
		if e, ok := s.entries[id]; ok {
			s.useLocked(e)
			s.mu.Unlock()
			return nil
		}
		if other, ok := s.writes[id]; ok {
			s.mu.Unlock()
			select {
			case <-other.done: // stored, or failed: look again
			case <-ctx.Done():
				return fmt.Errorf("blob: put %s: %w", id, ctx.Err())
			}
			continue
		}
		if err := s.makeRoomLocked(n); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("blob: put %s: %w", id, err)
		}
		w = &write{done: make(chan struct{})}
		s.writes[id] = w
		s.reserved += n
		s.mu.Unlock()
	}

	var err error
	var kept []byte
	if s.dir == "" {
		kept = bytes.Clone(data)
	} else {
		err = durable.WriteFile(s.dir, id.String(), tmpPrefix+id.String()+"-*", data, 0o600)
	}

	s.mu.Lock()
	defer s.released.Notify()
	delete(s.writes, id)
	s.reserved -= n
	if err == nil {
		e := &entry{id: id, size: n, data: kept}
		e.elem = s.lru.PushFront(e)
		s.entries[id] = e
		s.size += n
	}
	close(w.done)
	onAdd := s.onAdd
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", id, err)
	}
	if onAdd != nil {
		onAdd(id)
	}
	return nil
}

// makeRoomLocked evicts least recently used modules that are not in use
// until n more bytes fit, or evicts nothing and fails with ErrFull.
func (s *Store) makeRoomLocked(n int64) error {
	need := s.size + s.reserved + n - s.maxBytes
	if need <= 0 {
		return nil
	}
	var victims []*entry
	freed := int64(0)
	for el := s.lru.Back(); el != nil && freed < need; el = el.Prev() {
		e := el.Value.(*entry)
		if e.readers > 0 || s.pins[e.id] > 0 {
			continue
		}
		victims = append(victims, e)
		freed += e.size
	}
	if freed < need {
		return fmt.Errorf("%w: %d bytes needed, %d of %d in use or being written", ErrFull, n, s.size+s.reserved-freed, s.maxBytes)
	}
	for _, e := range victims {
		s.removeLocked(e)
	}
	return nil
}

// removeLocked drops e from the index and its file from the disk. It is
// called with s.mu held, so a Put of the same module that follows cannot
// have its new file removed by it.
func (s *Store) removeLocked(e *entry) {
	delete(s.entries, e.id)
	s.lru.Remove(e.elem)
	s.size -= e.size
	if s.dir != "" {
		_ = os.Remove(s.path(e.id))
	}
}

// useLocked marks e as just used: first in line to be kept, and on disk
// its file's modification time, which is its recency when the store is
// opened again.
func (s *Store) useLocked(e *entry) {
	s.lru.MoveToFront(e.elem)
	if s.dir != "" {
		now := s.clock.Now()
		_ = os.Chtimes(s.path(e.id), now, now)
	}
}

// Get returns module id, verified against its hash, and marks it used.
// It fails with ErrNotFound if the store does not hold it; a module file
// found damaged (ErrHashMismatch) is dropped from the store. The caller owns
// the returned slice.
func (s *Store) Get(id wasm.ModuleID) ([]byte, error) {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("blob: get %s: %w", id, ErrNotFound)
	}
	if s.dir == "" {
		s.useLocked(e)
		data := bytes.Clone(e.data)
		s.mu.Unlock()
		return data, nil
	}
	e.readers++
	s.mu.Unlock()

	data, err := os.ReadFile(s.path(id))
	damaged := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("blob: get %s: file vanished: %w", id, ErrNotFound)
		damaged = true
	case err != nil:
		err = fmt.Errorf("blob: get %s: %w", id, err)
	case int64(len(data)) != e.size || wasm.IDOf(data) != id:
		err = fmt.Errorf("blob: get %s: file damaged, dropped: %w", id, ErrHashMismatch)
		damaged = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if damaged {
		e.corrupt = true
	}
	s.releaseLocked(e)
	if err != nil {
		return nil, err
	}
	if s.entries[id] == e {
		s.useLocked(e)
	}
	return data, nil
}

// releaseLocked ends one read of e, dropping e if it was found damaged and
// nobody else reads it.
func (s *Store) releaseLocked(e *entry) {
	defer s.released.Notify()
	e.readers--
	if e.corrupt && e.readers == 0 && s.entries[e.id] == e {
		s.removeLocked(e)
	}
}

// openModule opens module id for reading without verifying it (the
// blob protocol's client verifies what it receives); the module stays in
// the store until the reader is closed. Serving does not count as use.
func (s *Store) openModule(id wasm.ModuleID) (*moduleReader, error) {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		s.mu.Unlock()
		return nil, ErrNotFound
	}
	e.readers++
	s.mu.Unlock()
	r := &moduleReader{s: s, e: e}
	if s.dir == "" {
		r.r = bytes.NewReader(e.data)
		return r, nil
	}
	f, err := os.Open(s.path(id))
	if err != nil {
		r.close(errors.Is(err, fs.ErrNotExist))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	r.r, r.f = f, f
	return r, nil
}

// moduleReader reads a stored module; close releases it.
type moduleReader struct {
	s *Store
	e *entry
	r io.Reader
	f *os.File
}

func (r *moduleReader) size() int64 { return r.e.size }

// close ends the read; damaged drops the module from the store.
func (r *moduleReader) close(damaged bool) {
	if r.f != nil {
		r.f.Close()
	}
	r.s.mu.Lock()
	if damaged {
		r.e.corrupt = true
	}
	r.s.releaseLocked(r.e)
	r.s.mu.Unlock()
}

// Has reports whether the store holds module id. It does not mark it used.
func (s *Store) Has(id wasm.ModuleID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.entries[id]
	return ok
}

// Delete removes module id. It fails with ErrNotFound if the store does not
// hold it and with ErrPinned if it is pinned or being read or written.
func (s *Store) Delete(id wasm.ModuleID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.writes[id]; ok || s.pins[id] > 0 {
		return fmt.Errorf("blob: delete %s: %w", id, ErrPinned)
	}
	e, ok := s.entries[id]
	if !ok {
		return fmt.Errorf("blob: delete %s: %w", id, ErrNotFound)
	}
	if e.readers > 0 {
		return fmt.Errorf("blob: delete %s: %w", id, ErrPinned)
	}
	s.removeLocked(e)
	return nil
}

// Pin keeps module id from being evicted until unpin is called, for
// example while a task that runs it is queued or running. A module may be
// pinned before it is stored (so it is kept from the moment it arrives) and
// pinned several times; it is evictable again once every pin is undone.
// unpin is idempotent. Pinning marks a stored module used.
func (s *Store) Pin(id wasm.ModuleID) (unpin func()) {
	s.mu.Lock()
	s.pins[id]++
	if e, ok := s.entries[id]; ok {
		s.useLocked(e)
	}
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.pins[id]--; s.pins[id] <= 0 {
				delete(s.pins, id)
			}
			s.mu.Unlock()
			s.released.Notify()
		})
	}
}

// Released returns a channel closed at the next end of a pin, a read or a
// write of a module (each of which makes Delete fail with ErrPinned), so
// that a caller can wait for a module to become deletable without polling.
func (s *Store) Released() <-chan struct{} { return s.released.Wait() }

// Size returns the total size of the stored modules in bytes.
func (s *Store) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Len returns the number of stored modules.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// List returns the IDs of the stored modules, most recently used first.
func (s *Store) List() []wasm.ModuleID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]wasm.ModuleID, 0, len(s.entries))
	for el := s.lru.Front(); el != nil; el = el.Next() {
		ids = append(ids, el.Value.(*entry).id)
	}
	return ids
}

// setOnAdd installs the callback told of every module stored from then on.
func (s *Store) setOnAdd(f func(wasm.ModuleID)) {
	s.mu.Lock()
	s.onAdd = f
	s.mu.Unlock()
}
