;; loop.wat: a runaway task. _start never returns; only the executor's
;; wall-time limit (or Close) stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
