;; sleepwrite.wat: sleeps one hour with a single poll_oneoff clock
;; subscription, then writes "awake\n" and returns. With Clock, a run whose
;; time limit or context ends during the sleep must still be reported as
;; interrupted, though the guest itself returns normally.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 64 (48 bytes): userdata 0, tag 0 (clock),
  ;; clock id 1 (monotonic), timeout 3600 s in ns, precision 0, flags 0 (relative)
  (data (i32.const 64) "\00\00\00\00\00\00\00\00")
  (data (i32.const 72) "\00")
  (data (i32.const 80) "\01\00\00\00")
  (data (i32.const 88) "\00\a0\b8\30\46\03\00\00")
  ;; iovec {base=200, len=6} at 0, text at 200
  (data (i32.const 0) "\c8\00\00\00\06\00\00\00")
  (data (i32.const 200) "awake\n")
  (func (export "_start")
    ;; in=64, out=128 (32-byte event), nsubscriptions=1, nevents at 8
    (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
