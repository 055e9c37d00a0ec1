;; scratch.wat: probes the filesystem it was given.
;; - no preopened directory at fd 3: proc_exit(10)
;; - otherwise prints the preopen's name (expected "/scratch") and a newline,
;;   creates the file "out.txt" in it and writes "data" into it: exit 0,
;;   or proc_exit(11) if the file cannot be created, 12 if it cannot be written.
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0..7: prestat {tag u8, pad, name_len u32}
  ;; 16..23: iovec for the name {base=128, len=?}
  ;; 32..39: iovec for "data" {base=96, len=4}
  ;; 40..47: iovec for "\n" {base=100, len=1}
  ;; 48: opened fd; 56: nwritten
  ;; 64: "out.txt"; 96: "data"; 100: "\n"; 128: the preopen name
  (data (i32.const 32) "\60\00\00\00\04\00\00\00")
  (data (i32.const 40) "\64\00\00\00\01\00\00\00")
  (data (i32.const 64) "out.txt")
  (data (i32.const 96) "data\n")
  (func (export "_start")
    (if (call $fd_prestat_get (i32.const 3) (i32.const 0))
      (then (call $proc_exit (i32.const 10))))
    (drop (call $fd_prestat_dir_name (i32.const 3) (i32.const 128) (i32.load (i32.const 4))))
    (i32.store (i32.const 16) (i32.const 128))
    (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 56)))
    (drop (call $fd_write (i32.const 1) (i32.const 40) (i32.const 1) (i32.const 56)))
    ;; path_open(dirfd=3, dirflags=0, "out.txt", oflags=O_CREAT(1),
    ;;           rights_base=all, rights_inheriting=all, fdflags=0, &fd)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 7)
                         (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 48))
      (then (call $proc_exit (i32.const 11))))
    (if (call $fd_write (i32.load (i32.const 48)) (i32.const 32) (i32.const 1) (i32.const 56))
      (then (call $proc_exit (i32.const 12))))))
