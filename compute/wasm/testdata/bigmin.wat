;; bigmin.wat: declares a minimum memory of 300 pages (18.75 MiB). Under a
;; smaller page limit it must be refused without running; otherwise it
;; writes "ran\n".
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 300)
  (data (i32.const 0) "\10\00\00\00\04\00\00\00")
  (data (i32.const 16) "ran\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
