;; chatter.wat: writes "first\n" to standard output and "warn\n" to
;; standard error, then sleeps like sleep.wat (for the little-endian 64-bit
;; nanoseconds on its standard input, really with Spec.Clock), then writes
;; "second\n": a task whose output is seen while it runs.
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
  ;; 32..39: iovec "first\n"; 40..47: iovec "warn\n"; 56..63: iovec
  ;; "second\n"; 48: nwritten
  ;; 64..111: subscription {userdata u64 @64, tag u8 @72 (0: clock),
  ;;          clock id u32 @80, timeout u64 @88, precision u64 @96, flags u16 @104}
  ;; 128..159: event; 160: nevents; 200..207: the duration; 208: a clock
  ;; reading; 240: "first\n"; 248: "warn\n"; 256: "second\n"
  (data (i32.const 0) "\c8\00\00\00\08\00\00\00")
  (data (i32.const 32) "\f0\00\00\00\06\00\00\00\f8\00\00\00\05\00\00\00")
  (data (i32.const 56) "\00\01\00\00\07\00\00\00")
  (data (i32.const 240) "first\n")
  (data (i32.const 248) "warn\n")
  (data (i32.const 256) "second\n")
  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 208)))
    (i64.load (i32.const 208)))
  (func (export "_start")
    (local $start i64)
    (local $left i64)
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)))
    (drop (call $fd_write (i32.const 2) (i32.const 40) (i32.const 1) (i32.const 48)))
    (i32.store (i32.const 80) (i32.const 1))
    (local.set $start (call $now))
    (block $done
      (loop $again
        (local.set $left (i64.sub (i64.load (i32.const 200)) (i64.sub (call $now) (local.get $start))))
        (br_if $done (i64.le_s (local.get $left) (i64.const 0)))
        (i64.store (i32.const 88) (local.get $left))
        (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
        (br $again)))
    (drop (call $fd_write (i32.const 1) (i32.const 56) (i32.const 1) (i32.const 48)))))
