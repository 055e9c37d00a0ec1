;; sleep.wat: reads a little-endian 64-bit number of nanoseconds from
;; standard input, sleeps that long on the monotonic clock (poll_oneoff, in
;; a loop until that much time has passed), then writes "awake\n". With the
;; host's clock (Spec.Clock) the sleep is real, so the tests use it as a
;; long-running task that costs no CPU; without it the sleep is virtual and
;; returns at once. The loop matters: a sleep cut short by the end of the
;; run (cancellation, wall-time limit) goes round it, where the runtime
;; stops the guest, instead of returning and exiting as if it had slept.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..7: iovec for reading {base=200, len=8}; 16: nread
  ;; 32..39: iovec for writing {base=240, len=6}; 48: nwritten
  ;; 64..111: subscription {userdata u64 @64, tag u8 @72 (0: clock),
  ;;          clock id u32 @80, timeout u64 @88, precision u64 @96, flags u16 @104}
  ;; 128..159: event; 160: nevents; 200..207: the duration; 208: a clock
  ;; reading; 240: "awake\n"
  (data (i32.const 0) "\c8\00\00\00\08\00\00\00")
  (data (i32.const 32) "\f0\00\00\00\06\00\00\00")
  (data (i32.const 240) "awake\n")
  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 208)))
    (i64.load (i32.const 208)))
  (func (export "_start")
    (local $start i64)
    (local $left i64)
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 80) (i32.const 1))
    (local.set $start (call $now))
    (block $done
      (loop $again
        (local.set $left (i64.sub (i64.load (i32.const 200)) (i64.sub (call $now) (local.get $start))))
        (br_if $done (i64.le_s (local.get $left) (i64.const 0)))
        (i64.store (i32.const 88) (local.get $left))
        (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
        (br $again)))
    (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)))))
