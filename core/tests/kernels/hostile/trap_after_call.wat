;; Reads one input, then traps.
(module
  (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "kernel_run")
    (drop (call $read (i32.const 0) (i32.const 16) (i32.const 4096)))
    unreachable))
