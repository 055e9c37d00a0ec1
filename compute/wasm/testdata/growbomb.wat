;; growbomb.wat: grows its memory one page at a time until memory.grow
;; fails, then traps. With a page limit of L its peak memory is exactly L
;; pages.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
