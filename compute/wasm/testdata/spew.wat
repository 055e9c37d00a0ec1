;; spew.wat: writes 1000-byte chunks forever, alternating stdout and
;; stderr; it ignores write errors. Only the output cap (or the wall-time
;; limit) stops it.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {base=64, len=1000}; the chunk is 1000 bytes of 'x' from offset 64.
  (data (i32.const 0) "\40\00\00\00\e8\03\00\00")
  (func (export "_start")
    (local $fd i32)
    (memory.fill (i32.const 64) (i32.const 120) (i32.const 1000))
    (local.set $fd (i32.const 1))
    (loop $spew
      (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      ;; alternate between fd 1 and fd 2
      (local.set $fd (i32.sub (i32.const 3) (local.get $fd)))
      (br $spew))))
