package store

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/ristretto/v2/z"
)

// ErrCorrupt is wrapped by the errors of Open (and Repair) that find a
// damaged or missing file in the data directory. The error is a
// *CorruptError, which names the file. Open changes nothing when it
// returns it; Repair recovers what verifies.
var ErrCorrupt = errors.New("store: damaged")

// CorruptError names a damaged (or missing) file of the database and says
// what is wrong with it.
type CorruptError struct {
	// File is the path of the damaged or missing file.
	File string
	// Damage says what is wrong: "missing", "truncated", "checksum
	// mismatch in block 3 (offset 12288)", ...
	Damage string
	// Others is how many more files are damaged.
	Others int
}

// Error is "store: damaged file F: what (and N more damaged files)".
func (e *CorruptError) Error() string {
	s := fmt.Sprintf("store: damaged file %s: %s", e.File, e.Damage)
	switch e.Others {
	case 0:
	case 1:
		s += " (and 1 more damaged file)"
	default:
		s += fmt.Sprintf(" (and %d more damaged files)", e.Others)
	}
	return s
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Badger's file names.
const (
	manifestFile = badger.ManifestFilename
	sstExt       = ".sst"
	memExt       = ".mem"
	vlogExt      = ".vlog"
)

// dirFiles are the database files of a data directory.
type dirFiles struct {
	dir      string
	manifest bool
	tables   map[uint64]string // id -> path
	mems     []string          // sorted by id
	vlogs    []string          // sorted by id
}

func listFiles(dir string) (dirFiles, error) {
	f := dirFiles{dir: dir, tables: make(map[uint64]string)}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("store: read %q: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case name == manifestFile:
			f.manifest = true
		case strings.HasSuffix(name, sstExt):
			id, err := strconv.ParseUint(strings.TrimSuffix(name, sstExt), 10, 64)
			if err == nil {
				f.tables[id] = path
			}
		case strings.HasSuffix(name, memExt):
			f.mems = append(f.mems, path) // ReadDir sorts by name; ids are zero-padded
		case strings.HasSuffix(name, vlogExt):
			f.vlogs = append(f.vlogs, path)
		}
	}
	return f, nil
}

// tableIDs returns the ids of the tables on disk, sorted.
func (f dirFiles) tableIDs() []uint64 {
	ids := make([]uint64, 0, len(f.tables))
	for id := range f.tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// readManifest reads the MANIFEST of dir without changing it.
func readManifest(dir string) (badger.Manifest, error) {
	fp, err := os.Open(filepath.Join(dir, manifestFile))
	if err != nil {
		return badger.Manifest{}, err
	}
	defer fp.Close()
	opt := badger.DefaultOptions(dir).WithLogger(nil)
	m, _, err := badger.ReplayManifestFile(fp, opt.ExternalMagicVersion, opt)
	return m, err
}

// checkFiles verifies the database files in dir before Badger opens it,
// and returns a *CorruptError naming the first damaged file, if any. It
// checks that
//
//   - the MANIFEST exists if any table or log does (without it, Badger
//     starts an empty database and deletes the tables), and reads back;
//   - every table the MANIFEST lists exists, and its index and every block
//     match their checksums (Badger v4.9.6 panics on a truncated table in
//     a goroutine of its own, and without verification serves a damaged
//     block as the end of the table);
//   - every memtable log and value log is whole up to its end or to a torn
//     write (Badger silently truncates a log at its first bad entry).
//
// Tables are verified by up to GOMAXPROCS goroutines at once. Tables not in
// the MANIFEST, which an interrupted compaction leaves and Badger deletes,
// are logged.
func checkFiles(dir string, log *slog.Logger) error {
	f, err := listFiles(dir)
	if err != nil {
		return err
	}
	var damaged []*CorruptError
	report := func(path, format string, args ...any) {
		damaged = append(damaged, &CorruptError{File: path, Damage: fmt.Sprintf(format, args...)})
	}
	if !f.manifest {
		logs := len(f.mems) + len(f.vlogs)
		if len(f.tables) == 0 && logs == 0 {
			return nil // a new database
		}
		return &CorruptError{File: filepath.Join(dir, manifestFile), Damage: fmt.Sprintf(
			"missing, while %d tables and %d logs are present (Badger would start an empty database and delete the tables)",
			len(f.tables), logs)}
	}
	mf, err := readManifest(dir)
	if err != nil {
		return &CorruptError{File: filepath.Join(dir, manifestFile), Damage: "unreadable: " + err.Error()}
	}

	type job struct {
		path string
		comp options.CompressionType
	}
	var jobs []job
	for id, tm := range mf.Tables {
		path, ok := f.tables[id]
		if !ok {
			report(filepath.Join(dir, fmt.Sprintf("%06d%s", id, sstExt)), "missing (the MANIFEST lists it)")
			continue
		}
		jobs = append(jobs, job{path, tm.Compression})
	}
	for _, id := range f.tableIDs() {
		if _, ok := mf.Tables[id]; !ok {
			log.Warn("table not in the MANIFEST, left by an interrupted compaction; Badger removes it", "file", f.tables[id])
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan job)
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for j := range next {
				if err := checkTable(j.path, j.comp); err != nil {
					mu.Lock()
					report(j.path, "%v", err)
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	for _, p := range append(slices.Clone(f.mems), f.vlogs...) {
		err := withMapped(p, func(data []byte) error {
			s, err := scanLog(data, false, func(logEntry) error { return nil })
			if err != nil {
				return err
			}
			if len(s.damage) > 0 {
				d := s.damage[0]
				report(p, "%s at offset %d (the log holds whole entries up to offset %d)", d.what, d.offset, s.validEnd)
			} else if s.torn > 0 {
				log.Warn("log ends in a write that was cut short (never acknowledged); Badger drops it",
					"file", p, "entries", s.torn, "offset", s.validEnd)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(damaged) == 0 {
		return nil
	}
	slices.SortFunc(damaged, func(a, b *CorruptError) int { return cmp.Compare(a.File, b.File) })
	first := damaged[0]
	first.Others = len(damaged) - 1
	return first
}

// checkTable verifies one table file.
func checkTable(path string, comp options.CompressionType) error {
	return withMapped(path, func(data []byte) error {
		t, err := openSSTable(data, comp, true)
		if err != nil {
			return err
		}
		return t.verify()
	})
}

// withMapped calls fn with the contents of the file at path, mapped
// read-only (logs are preallocated, mostly zeros, up to twice their
// configured size). An error opening or mapping the file is returned as
// it is; fn's error too.
func withMapped(path string, fn func([]byte) error) error {
	data, unmap, err := mapFile(path)
	if err != nil {
		return err
	}
	defer unmap()
	return fn(data)
}

// mapFile maps the file at path read-only. The caller holds Badger's lock
// on its directory, so nothing truncates the file while it is mapped.
func mapFile(path string) (data []byte, unmap func(), err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	defer fh.Close() // the mapping outlives the descriptor
	info, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("store: stat %q: %w", path, err)
	}
	if info.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err = z.Mmap(fh, false, info.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("store: map %q: %w", path, err)
	}
	return data, func() { _ = z.Munmap(data) }, nil
}
