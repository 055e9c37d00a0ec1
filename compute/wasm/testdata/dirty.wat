;; dirty.wat: checks that its memory starts zeroed, then dirties all of it.
;; It exits 1 if any byte of its first page, or of a second page it grows,
;; is not zero; otherwise it fills both pages with 0xab and exits 0. Run
;; twice on reused memory, the second run would see the first one's bytes.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32)
    (drop (memory.grow (i32.const 1)))
    (loop $scan
      (if (i32.load8_u (local.get $i))
        (then (call $proc_exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $scan (i32.lt_u (local.get $i) (i32.const 131072))))
    (memory.fill (i32.const 0) (i32.const 0xab) (i32.const 131072))))
