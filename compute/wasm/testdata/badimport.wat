;; badimport.wat: imports a host function that is not part of WASI preview 1.
(module
  (import "env" "open_socket" (func $open_socket (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $open_socket))))
