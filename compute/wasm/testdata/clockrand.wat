;; clockrand.wat: writes 32 raw bytes to stdout: the realtime clock (8 bytes,
;; nanoseconds since the epoch, little endian), the monotonic clock (8 bytes)
;; and 16 bytes from random_get. Two runs print the same bytes only if clock
;; and randomness are deterministic.
(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {base=16, len=32}
  (data (i32.const 0) "\10\00\00\00\20\00\00\00")
  (func (export "_start")
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 16)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 24)))
    (drop (call $random_get (i32.const 32) (i32.const 16)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
