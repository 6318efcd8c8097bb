;; Witness test kernel: every external message `0x01 K` stores `K` under `/k/K` and echoes it to
;; the outbox; `0x01 'R' H` (H a 33-byte reveal hash) stores the preimage of `H` under `/r`.
(module
  (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store (param i32 i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "reveal_preimage" (func $reveal (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The key "/k/K": "/k" at 8192, then the message read to 8194 with its tag replaced by "/".
  (data (i32.const 8192) "/k")
  (data (i32.const 8400) "/r")
  (func $message (param $n i32) (local $r i32)
    ;; Only external messages (tag 1) with a body.
    (br_if 0 (i32.le_s (local.get $n) (i32.const 1)))
    (br_if 0 (i32.ne (i32.load8_u (i32.const 8194)) (i32.const 1)))
    (if (i32.eq (i32.load8_u (i32.const 8195)) (i32.const 82))
      (then
        (local.set $r (call $reveal (i32.const 8196) (i32.const 33) (i32.const 16384) (i32.const 4096)))
        (if (i32.ge_s (local.get $r) (i32.const 0))
          (then
            (drop (call $store (i32.const 8400) (i32.const 2) (i32.const 0)
                               (i32.const 16384) (local.get $r))))))
      (else
        (i32.store8 (i32.const 8194) (i32.const 47))
        (drop (call $store (i32.const 8192) (i32.add (local.get $n) (i32.const 2))
                           (i32.const 0) (i32.const 8195) (i32.sub (local.get $n) (i32.const 1))))
        (drop (call $write (i32.const 8195) (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "kernel_run") (local $n i32)
    (loop $next
      (local.set $n (call $read (i32.const 0) (i32.const 8194) (i32.const 4096)))
      (if (i32.gt_s (local.get $n) (i32.const 0))
        (then
          (call $message (local.get $n))
          (br $next))))))
