;; noentry.wat: a valid module that is not a WASI command (no _start).
(module
  (memory (export "memory") 1)
  (func (export "work") (result i32) (i32.const 42)))
