;; minimal.wat: the smallest useful WASI command. It writes one line to
;; stdout and returns from _start (exit code 0). Used by the example, the
;; tests and the per-task overhead benchmarks.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec {base=16, len=11} at offset 0; the text at offset 16.
  (data (i32.const 0) "\10\00\00\00\0b\00\00\00")
  (data (i32.const 16) "hello, fog\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
