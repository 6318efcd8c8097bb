;; Writes 101 outbox messages in one run and stores the results of the 100th and 101st
;; write_output calls at /results (2 x i32 LE).
(module
  (import "smart_rollup_core" "write_output" (func $write_output (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/results")
  (func (export "kernel_run") (local $i i32) (local $r i32)
    (loop $next
      (local.set $r (call $write_output (i32.const 0x100) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (local.get $i) (i32.const 100)) (then (i32.store (i32.const 0x200) (local.get $r))))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 101))))
    (i32.store (i32.const 0x204) (local.get $r))
    (drop (call $store_write (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 0x200) (i32.const 8)))))
