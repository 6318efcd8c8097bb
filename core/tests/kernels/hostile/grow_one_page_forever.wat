;; Grows memory by one page until it fails, then keeps asking 10^6 more times. Writes the
;; number of pages reached (4 bytes, little-endian) to the outbox: the declared maximum.
(module
  (import "smart_rollup_core" "write_output" (func $out (param i32 i32) (result i32)))
  (memory (export "memory") 1 64)
  (func (export "kernel_run") (local $i i32)
    (loop $again
      (drop (memory.grow (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))
    (i32.store (i32.const 0) (memory.size))
    (drop (call $out (i32.const 0) (i32.const 4)))))
