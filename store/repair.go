package store

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/y"

	"github.com/fog-compute/fog/internal/clock"
)

// Progress receives the progress of long work: Phase starts a phase of
// total steps, Step reports n more steps done. cmd/fog's progress bar
// implements it.
type Progress interface {
	Phase(name string, total int)
	Step(n int)
}

// RepairOptions tune Repair.
type RepairOptions struct {
	// Backup is where Repair moves the original data directory; empty
	// means "<Path>.damaged-<UTC time>" next to it. It must not exist.
	Backup string
	// DryRun reads and verifies everything and reports what a repair would
	// keep and lose, but writes and moves nothing.
	DryRun bool
	// Progress, if set, receives Repair's phases and steps.
	Progress Progress
}

// FileReport is what Repair found in one file of the data directory.
type FileReport struct {
	// File is the file's name in the data directory.
	File string `json:"file"`
	// Kind is "manifest", "table", "memtable log" or "value log".
	Kind string `json:"kind"`
	// Status is "ok", "damaged", "missing", or "unlisted" for a table the
	// MANIFEST does not list (left by an interrupted compaction; Badger
	// deletes those, and so Repair ignores them).
	Status string `json:"status"`
	// Damage says what is wrong, for a damaged or missing file.
	Damage string `json:"damage,omitempty"`
	// Entries is how many entries (key versions) were read from the file.
	Entries int `json:"entries"`
	// Lost is how many entries the file held that could not be read; -1
	// when that cannot be known (a table without its index, a damaged
	// stretch of a log).
	Lost int `json:"lost"`
	// Note says more, e.g. that a log ends in a write cut short by a crash.
	Note string `json:"note,omitempty"`
}

// RepairReport is what Repair found, kept and lost. Counts are per
// subsystem prefix ("/compute", "/dht", ...; "?" where the damage hid the
// key).
type RepairReport struct {
	// Path is the data directory repaired.
	Path string `json:"path"`
	// Backup is where the original files are now; empty after a DryRun.
	Backup string `json:"backup,omitempty"`
	// DryRun says nothing was written or moved.
	DryRun bool `json:"dry_run"`
	// Files has one report per database file, sorted by name.
	Files []FileReport `json:"files"`
	// Damaged is how many files are damaged or missing.
	Damaged int `json:"damaged"`
	// Kept counts the keys copied into the repaired store (their newest
	// readable version, unless that is a deletion or has expired).
	Kept map[string]int `json:"kept"`
	// Lost counts the entries (key versions) that could not be read.
	Lost map[string]int `json:"lost"`
	// MaybeStale counts kept keys whose newest version may have been in a
	// damaged block: the copy holds an older version.
	MaybeStale map[string]int `json:"maybe_stale,omitempty"`
	// Unknown describes damage whose entries cannot be counted.
	Unknown []string `json:"unknown,omitempty"`
	// Seconds is how long Repair took.
	Seconds float64 `json:"seconds"`
}

// KeptTotal is the number of keys kept.
func (r *RepairReport) KeptTotal() int { return sum(r.Kept) }

// LostTotal is the number of entries known to be lost.
func (r *RepairReport) LostTotal() int { return sum(r.Lost) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Repair rebuilds the on-disk database of cfg from what verifies, for a
// store that Open refuses with ErrCorrupt. The database must be closed: it
// takes the same lock Open takes, and fails with ErrLocked if a DB (a
// running node) holds it.
//
// It reads every table the MANIFEST lists (every table in the directory
// if the MANIFEST is missing or unreadable), block by block, skipping
// blocks whose checksum fails; every memtable log, entry by entry, keeping
// each whole transaction, also those after a damaged stretch; and, for
// values kept in the value log, the value's entry, checking its checksum.
// For each key it takes the newest version it could read, and writes the
// keys that are not deleted or expired into a new database next to Path.
// It then moves the original directory to opts.Backup and the new one to
// Path. It deletes nothing: the originals stay in the backup directory
// until the user removes them. The report says what was kept and what was
// lost. A cancelled ctx stops it before the move, leaving Path as it was.
func Repair(ctx context.Context, cfg Config, opts RepairOptions) (*RepairReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := cfg.Clock.Now()
	if cfg.InMemory {
		return nil, fmt.Errorf("%w: InMemory: there is nothing on disk to repair", ErrConfig)
	}
	dir := filepath.Clean(cfg.Path)
	release, err := lockDir(dir)
	switch {
	case errors.Is(err, errBusy):
		return nil, fmt.Errorf("%w: %s: stop the node before repairing its store", ErrLocked, dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("store: repair: no store at %s: %w", dir, err)
	case errors.Is(err, errors.ErrUnsupported):
		return nil, fmt.Errorf("store: repair needs file locking, which this platform lacks: %w", err)
	case err != nil:
		return nil, err
	}
	defer release()

	now := cfg.Clock.Now
	prog := opts.Progress
	if prog == nil {
		prog = noProgress{}
	}
	backup := opts.Backup
	if backup == "" {
		backup = dir + ".damaged-" + start.UTC().Format("20060102-150405")
	}
	if !opts.DryRun {
		if _, err := os.Lstat(backup); err == nil {
			return nil, fmt.Errorf("store: repair: backup directory %s already exists", backup)
		}
	}

	r := &repairer{dir: dir, now: uint64(now().Unix()), prog: prog,
		rep:   &RepairReport{Path: dir, DryRun: opts.DryRun, Kept: map[string]int{}, Lost: map[string]int{}, MaybeStale: map[string]int{}},
		vlogs: map[uint32]*mappedLog{}, vlogReport: map[uint32]*FileReport{}}
	defer r.close()
	if err := r.read(ctx); err != nil {
		return nil, err
	}

	var w *repairWriter
	tmp := ""
	if !opts.DryRun {
		tmp = fmt.Sprintf("%s.repair-tmp-%d", dir, start.UnixNano())
		wcfg := cfg
		wcfg.Path, wcfg.GCInterval = tmp, 0
		if w, err = newRepairWriter(wcfg); err != nil {
			return nil, err
		}
	}
	err = r.merge(ctx, w)
	if w != nil {
		if cerr := w.close(); err == nil {
			err = cerr
		}
		if err == nil {
			// The new store must pass the checks Open makes.
			err = checkFiles(tmp, slog.New(slog.DiscardHandler))
		}
		if err != nil {
			_ = os.RemoveAll(tmp) // our own half-written copy, never the user's files
			return nil, err
		}
	}
	if !opts.DryRun {
		if err := swapDirs(dir, backup, tmp); err != nil {
			return nil, err
		}
		r.rep.Backup = backup
	}
	r.finish()
	r.rep.Seconds = clock.Since(cfg.Clock, start).Seconds()
	return r.rep, nil
}

// swapDirs moves dir to backup and tmp to dir.
func swapDirs(dir, backup, tmp string) error {
	if err := os.Rename(dir, backup); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("store: repair: move %s aside: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if rerr := os.Rename(backup, dir); rerr != nil {
			return fmt.Errorf("store: repair: the original store is in %s and the repaired one in %s; moving the repaired one to %s failed: %w",
				backup, tmp, dir, err)
		}
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("store: repair: move the repaired store to %s: %w", dir, err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

type noProgress struct{}

func (noProgress) Phase(string, int) {}
func (noProgress) Step(int)          {}

// subsystem returns the subsystem prefix of a key: "/compute" for
// "/compute/queue.job/x".
func subsystem(key []byte) string {
	if len(key) == 0 || key[0] != '/' {
		return "(other)"
	}
	if i := bytes.IndexByte(key[1:], '/'); i >= 0 {
		return string(key[:i+1])
	}
	return string(key)
}

// lostRange is the key range of a damaged block.
type lostRange struct {
	from, to   []byte // user keys; to is nil for a table's last block
	maxVersion uint64 // the newest version in the block's table
}

// mappedLog is a log file mapped for reading.
type mappedLog struct {
	data  []byte
	unmap func()
}

// repairer holds the state of one Repair.
type repairer struct {
	dir  string
	now  uint64 // Unix seconds
	prog Progress
	rep  *RepairReport

	tables     []*tableSource
	memEntries []logEntry // every whole transaction's entries, copied
	lost       []lostRange
	files      []*FileReport
	vlogs      map[uint32]*mappedLog
	vlogReport map[uint32]*FileReport
	estimate   int // entries to merge, for progress
}

func (r *repairer) close() {
	for _, t := range r.tables {
		t.close()
	}
	for _, v := range r.vlogs {
		v.unmap()
	}
}

func (r *repairer) file(rep FileReport) *FileReport {
	r.files = append(r.files, &rep)
	return &rep
}

// read opens every file and reads the memtable logs.
func (r *repairer) read(ctx context.Context) error {
	f, err := listFiles(r.dir)
	if err != nil {
		return err
	}
	r.prog.Phase("checking files", 1+len(f.tables)+len(f.mems)+len(f.vlogs))
	// The MANIFEST says which tables are live.
	type tableRef struct {
		id        uint64
		comp      options.CompressionType
		compKnown bool
	}
	var refs []tableRef
	mrep := FileReport{File: manifestFile, Kind: "manifest", Status: "ok"}
	mf, merr := readManifest(r.dir)
	switch {
	case !f.manifest:
		mrep.Status, mrep.Damage = "missing", "missing: every table in the directory is read"
	case merr != nil:
		mrep.Status, mrep.Damage = "damaged", "unreadable ("+merr.Error()+"): every table in the directory is read"
	}
	r.file(mrep)
	r.prog.Step(1)
	if mrep.Status == "ok" {
		for id, tm := range mf.Tables {
			refs = append(refs, tableRef{id, tm.Compression, true})
			if _, ok := f.tables[id]; !ok {
				name := fmt.Sprintf("%06d%s", id, sstExt)
				r.file(FileReport{File: name, Kind: "table", Status: "missing", Damage: "missing (the MANIFEST lists it)", Lost: -1})
				r.rep.Unknown = append(r.rep.Unknown, name+": missing; the entries it held cannot be counted")
			}
		}
		for _, id := range f.tableIDs() {
			if _, ok := mf.Tables[id]; !ok {
				r.file(FileReport{File: filepath.Base(f.tables[id]), Kind: "table", Status: "unlisted",
					Note: "not in the MANIFEST: left by an interrupted compaction; its entries are elsewhere"})
				r.prog.Step(1)
			}
		}
	} else {
		for _, id := range f.tableIDs() {
			refs = append(refs, tableRef{id: id})
		}
	}
	slices.SortFunc(refs, func(a, b tableRef) int { return cmpU64(a.id, b.id) })
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		path, ok := f.tables[ref.id]
		if !ok {
			continue
		}
		rep := r.file(FileReport{File: filepath.Base(path), Kind: "table", Status: "ok"})
		t, err := openTableSource(path, ref.comp, ref.compKnown)
		if err != nil {
			var d *tableDamage
			if !errors.As(err, &d) {
				return err
			}
			rep.Status, rep.Damage, rep.Lost = "damaged", d.Error(), -1
			r.rep.Unknown = append(r.rep.Unknown, fmt.Sprintf("%s: footer or index unreadable (%s); the entries it held cannot be counted", rep.File, d))
		} else {
			t.rep = rep
			r.tables = append(r.tables, t)
			r.estimate += int(t.t.keyCount)
		}
		r.prog.Step(1)
	}
	for _, path := range f.mems {
		if err := r.readMem(path); err != nil {
			return err
		}
		r.prog.Step(1)
	}
	for _, path := range f.vlogs {
		if err := r.readVlog(path); err != nil {
			return err
		}
		r.prog.Step(1)
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readMem reads a memtable log, keeping copies of its whole transactions.
func (r *repairer) readMem(path string) error {
	rep := r.file(FileReport{File: filepath.Base(path), Kind: "memtable log", Status: "ok"})
	return withMapped(path, func(data []byte) error {
		s, err := scanLog(data, true, func(e logEntry) error {
			e.key, e.value = bytes.Clone(e.key), bytes.Clone(e.value)
			r.memEntries = append(r.memEntries, e)
			rep.Entries++
			return nil
		})
		if err != nil {
			return err
		}
		r.estimate += rep.Entries
		if s.torn > 0 {
			rep.Note = fmt.Sprintf("ends in a write cut short by a crash (%d entries, never acknowledged), dropped", s.torn)
		}
		if len(s.damage) == 0 {
			return nil
		}
		rep.Status, rep.Lost = "damaged", -1
		if s.partial > 0 {
			rep.Note = fmt.Sprintf("kept %d entries of transactions the damage cut in two", s.partial)
		}
		var what []string
		for _, d := range s.damage {
			what = append(what, fmt.Sprintf("%s at offset %d (%d bytes unreadable)", d.what, d.offset, d.end-d.offset))
			r.rep.Unknown = append(r.rep.Unknown, fmt.Sprintf(
				"%s: bytes %d-%d unreadable; the entries written there cannot be counted, and the keys they wrote may be kept at an older version",
				rep.File, d.offset, d.end))
		}
		rep.Damage = strings.Join(what, "; ")
		return nil
	})
}

// readVlog checks a value log and keeps it mapped for reading values.
func (r *repairer) readVlog(path string) error {
	var fid uint32
	if _, err := fmt.Sscanf(filepath.Base(path), "%d"+vlogExt, &fid); err != nil {
		return nil // not Badger's
	}
	rep := r.file(FileReport{File: filepath.Base(path), Kind: "value log", Status: "ok"})
	data, unmap, err := mapFile(path)
	if err != nil {
		return err
	}
	m := &mappedLog{data: data, unmap: unmap}
	r.vlogs[fid] = m
	r.vlogReport[fid] = rep
	s, err := scanLog(m.data, false, func(logEntry) error { rep.Entries++; return nil })
	if err != nil {
		return err
	}
	if len(s.damage) > 0 {
		d := s.damage[0]
		rep.Status, rep.Damage = "damaged", fmt.Sprintf("%s at offset %d", d.what, d.offset)
		rep.Note = "values after the damage are read one by one, each checked against its checksum"
	}
	return nil
}

// readValue reads the value a value pointer points to, checking its
// entry's checksum and key.
func (r *repairer) readValue(key, vptr []byte) ([]byte, bool) {
	if len(vptr) < 12 {
		return nil, false
	}
	fid := binary.NativeEndian.Uint32(vptr[0:])
	length := binary.NativeEndian.Uint32(vptr[4:])
	off := binary.NativeEndian.Uint32(vptr[8:])
	v, ok := r.vlogs[fid]
	if !ok {
		return nil, false
	}
	rep := r.vlogReport[fid]
	e, err := readLogEntry(v.data, int(off))
	if err != nil || e.size != int(length) || !bytes.Equal(e.key, key) {
		rep.Lost++
		if rep.Status == "ok" {
			rep.Status, rep.Damage = "damaged", fmt.Sprintf("value at offset %d unreadable", off)
		}
		return nil, false
	}
	return e.value, true
}

// merge goes through every source's entries in key order, newest version
// first, and writes each key's newest version to w (nil for a dry run).
func (r *repairer) merge(ctx context.Context, w *repairWriter) error {
	phase := "copying keys"
	if w == nil {
		phase = "reading keys"
	}
	r.prog.Phase(phase, r.estimate)
	slices.SortStableFunc(r.memEntries, func(a, b logEntry) int { return y.CompareKeys(a.key, b.key) })
	h := &mergeHeap{}
	if len(r.memEntries) > 0 {
		h.srcs = append(h.srcs, &memSource{entries: r.memEntries})
	}
	for _, t := range r.tables {
		t.onLost = func(lr lostRange) { r.lost = append(r.lost, lr) }
		if err := t.next(); err != nil {
			return err
		}
		if t.valid() {
			h.srcs = append(h.srcs, t)
		}
	}
	heap.Init(h)
	var last []byte
	steps := 0
	for h.Len() > 0 {
		if steps++; steps%4096 == 0 {
			r.prog.Step(4096)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		src := h.srcs[0]
		key, vs := src.entry()
		uk := y.ParseKey(key)
		if last == nil || !bytes.Equal(uk, last) {
			last = append(last[:0], uk...)
			if err := r.keep(key, vs, w); err != nil {
				return err
			}
		}
		if err := src.next(); err != nil {
			return err
		}
		if src.valid() {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	r.prog.Step(steps % 4096)
	if w != nil {
		return w.flush()
	}
	return nil
}

// keep handles the newest version of a key.
func (r *repairer) keep(key []byte, vs y.ValueStruct, w *repairWriter) error {
	uk := y.ParseKey(key)
	if bytes.HasPrefix(uk, badgerPrefix) {
		return nil
	}
	if vs.Meta&bitDelete != 0 || (vs.ExpiresAt != 0 && vs.ExpiresAt <= r.now) {
		return nil
	}
	sub := subsystem(uk)
	value := vs.Value
	if vs.Meta&bitValuePointer != 0 {
		v, ok := r.readValue(key, vs.Value)
		if !ok {
			r.rep.Lost[sub]++
			return nil
		}
		value = v
	}
	version := y.ParseTs(key)
	for _, lr := range r.lost {
		if version < lr.maxVersion && bytes.Compare(uk, lr.from) >= 0 &&
			((lr.to != nil && bytes.Compare(uk, lr.to) < 0) || (lr.to == nil && subsystem(lr.from) == sub)) {
			r.rep.MaybeStale[sub]++
			break
		}
	}
	r.rep.Kept[sub]++
	if w == nil {
		return nil
	}
	return w.put(uk, value, vs.UserMeta, vs.ExpiresAt)
}

// finish adds the tables' losses, sorts the files and counts the damaged
// ones.
func (r *repairer) finish() {
	for _, t := range r.tables {
		if t.rep.Lost > 0 {
			r.rep.Lost[t.lostPrefix()] += t.rep.Lost
		}
	}
	for _, f := range r.files {
		r.rep.Files = append(r.rep.Files, *f)
		if f.Status == "damaged" || f.Status == "missing" {
			r.rep.Damaged++
		}
	}
	slices.SortFunc(r.rep.Files, func(a, b FileReport) int { return strings.Compare(a.File, b.File) })
	if len(r.rep.MaybeStale) == 0 {
		r.rep.MaybeStale = nil
	}
}

// mergeSource is one sorted source of entries.
type mergeSource interface {
	valid() bool
	entry() ([]byte, y.ValueStruct)
	next() error
}

type mergeHeap struct{ srcs []mergeSource }

func (h *mergeHeap) Len() int { return len(h.srcs) }
func (h *mergeHeap) Less(i, j int) bool {
	a, _ := h.srcs[i].entry()
	b, _ := h.srcs[j].entry()
	return y.CompareKeys(a, b) < 0
}
func (h *mergeHeap) Swap(i, j int) { h.srcs[i], h.srcs[j] = h.srcs[j], h.srcs[i] }
func (h *mergeHeap) Push(x any)    { h.srcs = append(h.srcs, x.(mergeSource)) }
func (h *mergeHeap) Pop() any {
	x := h.srcs[len(h.srcs)-1]
	h.srcs = h.srcs[:len(h.srcs)-1]
	return x
}

// memSource is the memtable logs' entries, sorted.
type memSource struct {
	entries []logEntry
	i       int
}

func (m *memSource) valid() bool { return m.i < len(m.entries) }
func (m *memSource) entry() ([]byte, y.ValueStruct) {
	e := m.entries[m.i]
	return e.key, y.ValueStruct{Meta: e.meta &^ (bitTxn | bitFinTxn), UserMeta: e.userMeta, ExpiresAt: e.expiresAt, Value: e.value}
}
func (m *memSource) next() error { m.i++; return nil }

// tableSource reads a table's entries block by block, skipping damaged
// blocks.
type tableSource struct {
	unmap   func()
	t       *sstable
	buf     []byte // decompressed blocks
	rep     *FileReport
	onLost  func(lostRange)
	blk     int // the next block to read
	entries []tableEntry
	i       int
	damaged []int // damaged blocks
}

func openTableSource(path string, comp options.CompressionType, compKnown bool) (*tableSource, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, &tableDamage{what: "unreadable: " + err.Error(), offset: -1, block: -1}
	}
	t, err := openSSTable(data, comp, compKnown)
	if err != nil {
		unmap()
		return nil, err
	}
	return &tableSource{unmap: unmap, t: t, i: -1}, nil
}

func (s *tableSource) close() { s.unmap() }

func (s *tableSource) valid() bool { return s.i >= 0 && s.i < len(s.entries) }

func (s *tableSource) entry() ([]byte, y.ValueStruct) {
	e := s.entries[s.i]
	return e.key, e.vs
}

// next moves to the next entry, reading blocks as needed.
func (s *tableSource) next() error {
	s.i++
	for s.i >= len(s.entries) {
		if s.blk >= len(s.t.blocks) {
			s.finish()
			return nil
		}
		i := s.blk
		s.blk++
		s.entries, s.i = s.entries[:0], 0
		b, buf, err := s.t.readBlock(i, s.buf)
		s.buf = buf
		if err == nil {
			err = b.entries(func(e tableEntry) error {
				e.key = bytes.Clone(e.key) // the decoder rebuilds keys in one buffer
				s.entries = append(s.entries, e)
				return nil
			})
		}
		if err != nil {
			s.entries = s.entries[:0]
			s.damaged = append(s.damaged, i)
			if s.rep.Status == "ok" {
				s.rep.Status = "damaged"
				if d := (*tableDamage)(nil); errors.As(err, &d) {
					s.rep.Damage = d.Error()
				} else {
					s.rep.Damage = fmt.Sprintf("block %d (offset %d): %v", i, s.t.blocks[i].offset, err)
				}
			}
			lr := lostRange{from: bytes.Clone(y.ParseKey(s.t.blocks[i].first)), maxVersion: s.t.maxVersion}
			if i+1 < len(s.t.blocks) {
				lr.to = bytes.Clone(y.ParseKey(s.t.blocks[i+1].first))
			}
			if s.onLost != nil {
				s.onLost(lr)
			}
			continue
		}
		s.rep.Entries += len(s.entries)
	}
	return nil
}

// finish records what the table lost once it was read to its end.
func (s *tableSource) finish() {
	if len(s.damaged) == 0 || s.rep.Lost != 0 {
		return
	}
	s.rep.Lost = max(int(s.t.keyCount)-s.rep.Entries, 0)
	if len(s.damaged) > 1 {
		s.rep.Damage += fmt.Sprintf(" (and %d more blocks)", len(s.damaged)-1)
	}
}

// lostPrefix is the subsystem a table's lost entries belong to, "?" when
// its damaged blocks span more than one.
func (s *tableSource) lostPrefix() string {
	sub := ""
	for _, i := range s.damaged {
		for _, k := range [][]byte{s.t.blocks[i].first, s.nextFirst(i)} {
			if k == nil {
				continue
			}
			p := subsystem(y.ParseKey(k))
			if sub != "" && p != sub {
				return "?"
			}
			sub = p
		}
	}
	return sub
}

func (s *tableSource) nextFirst(i int) []byte {
	if i+1 < len(s.t.blocks) {
		return s.t.blocks[i+1].first
	}
	return nil
}

// repairWriter writes the repaired store.
type repairWriter struct {
	db *DB
	wb *badger.WriteBatch
}

func newRepairWriter(cfg Config) (*repairWriter, error) {
	db, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	return &repairWriter{db: db, wb: db.Badger().NewWriteBatch()}, nil
}

func (w *repairWriter) put(key, value []byte, userMeta byte, expiresAt uint64) error {
	e := badger.NewEntry(bytes.Clone(key), bytes.Clone(value)).WithMeta(userMeta)
	e.ExpiresAt = expiresAt
	if err := w.wb.SetEntry(e); err != nil {
		return fmt.Errorf("store: repair: write: %w", err)
	}
	return nil
}

func (w *repairWriter) flush() error {
	if err := w.wb.Flush(); err != nil {
		return fmt.Errorf("store: repair: write: %w", err)
	}
	return nil
}

func (w *repairWriter) close() error {
	w.wb.Cancel()
	return w.db.Close()
}
