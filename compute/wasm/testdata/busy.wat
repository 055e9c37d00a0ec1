;; busy.wat: writes "x" to stdout once, then spins forever. A test that
;; sees the byte knows the guest is running; only a cancel or the
;; wall-time limit stops it.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {base=16, len=1} at 0; the byte 'x' at 16.
  (data (i32.const 0) "\10\00\00\00\01\00\00\00")
  (data (i32.const 16) "x")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $forever (br $forever))))
