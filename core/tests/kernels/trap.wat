;; Writes /counter (incremented each run) and traps when the input message is "\x01trap".
(module
  (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "trap")
  (func (export "kernel_run") (local $n i32)
    (loop $next
      (local.set $n (call $read_input (i32.const 0x10) (i32.const 0x100) (i32.const 4096)))
      (if (i32.gt_s (local.get $n) (i32.const 0)) (then
        (if (i32.and (i32.eq (local.get $n) (i32.const 5))
                     (i32.eq (i32.load (i32.const 0x101)) (i32.load (i32.const 0))))
          (then unreachable))
        (drop (call $write_output (i32.const 0x100) (local.get $n)))
        (br $next))))))
