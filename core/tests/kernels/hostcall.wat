;; A command interpreter: every external input message calls one host function and writes its
;; result (i64, little-endian) to the outbox. Message layout (after the 0x01 external tag):
;;   [function id: u8][a0..a5: 6 x i32 LE][index: i64 LE][data ...]
;; The message is read at address 0x1000, so byte k of the message is at 0x1000 + k and the
;; data starts at 0x1022. Internal messages are skipped.
(module
  (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write_output (param i32 i32) (result i32)))
  (import "smart_rollup_core" "write_debug" (func $write_debug (param i32 i32)))
  (import "smart_rollup_core" "store_has" (func $store_has (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_delete" (func $store_delete (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_delete_value" (func $store_delete_value (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_copy" (func $store_copy (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_move" (func $store_move (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_read" (func $store_read (param i32 i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_create" (func $store_create (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_value_size" (func $store_value_size (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_list_size" (func $store_list_size (param i32 i32) (result i64)))
  (import "smart_rollup_core" "store_get_nth_key" (func $store_get_nth_key (param i32 i32 i64 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_exists" (func $store_exists (param i32 i32) (result i32)))
  (import "smart_rollup_core" "reveal_preimage" (func $reveal_preimage (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "reveal_metadata" (func $reveal_metadata (param i32 i32) (result i32)))
  (import "smart_rollup_core" "reveal" (func $reveal (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "__internal_store_get_hash" (func $store_get_hash (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $arg (param $i i32) (result i32)
    (i32.load (i32.add (i32.const 0x1002) (i32.mul (local.get $i) (i32.const 4)))))
  (func $dispatch (param $f i32) (result i64)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32) (local $idx i64)
    (local.set $a0 (call $arg (i32.const 0)))
    (local.set $a1 (call $arg (i32.const 1)))
    (local.set $a2 (call $arg (i32.const 2)))
    (local.set $a3 (call $arg (i32.const 3)))
    (local.set $a4 (call $arg (i32.const 4)))
    (local.set $idx (i64.load (i32.const 0x101a)))
    (if (i32.eq (local.get $f) (i32.const 2)) (then
      (return (i64.extend_i32_s (call $write_output (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 3)) (then
      (call $write_debug (local.get $a0) (local.get $a1)) (return (i64.const 0))))
    (if (i32.eq (local.get $f) (i32.const 4)) (then
      (return (i64.extend_i32_s (call $store_has (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 5)) (then
      (return (i64.extend_i32_s (call $store_delete (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 6)) (then
      (return (i64.extend_i32_s (call $store_delete_value (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 7)) (then
      (return (i64.extend_i32_s (call $store_copy (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))))
    (if (i32.eq (local.get $f) (i32.const 8)) (then
      (return (i64.extend_i32_s (call $store_move (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))))
    (if (i32.eq (local.get $f) (i32.const 9)) (then
      (return (i64.extend_i32_s (call $store_read (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $a4))))))
    (if (i32.eq (local.get $f) (i32.const 10)) (then
      (return (i64.extend_i32_s (call $store_write (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $a4))))))
    (if (i32.eq (local.get $f) (i32.const 11)) (then
      (return (i64.extend_i32_s (call $store_create (local.get $a0) (local.get $a1) (local.get $a2))))))
    (if (i32.eq (local.get $f) (i32.const 12)) (then
      (return (i64.extend_i32_s (call $store_value_size (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 13)) (then
      (return (call $store_list_size (local.get $a0) (local.get $a1)))))
    (if (i32.eq (local.get $f) (i32.const 14)) (then
      (return (i64.extend_i32_s (call $store_get_nth_key (local.get $a0) (local.get $a1) (local.get $idx) (local.get $a2) (local.get $a3))))))
    (if (i32.eq (local.get $f) (i32.const 15)) (then
      (return (i64.extend_i32_s (call $store_exists (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 16)) (then
      (return (i64.extend_i32_s (call $reveal_preimage (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))))
    (if (i32.eq (local.get $f) (i32.const 17)) (then
      (return (i64.extend_i32_s (call $reveal_metadata (local.get $a0) (local.get $a1))))))
    (if (i32.eq (local.get $f) (i32.const 18)) (then
      (return (i64.extend_i32_s (call $reveal (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))))
    (if (i32.eq (local.get $f) (i32.const 19)) (then
      (return (i64.extend_i32_s (call $store_get_hash (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))))
    (i64.const 0x7fffffff))
  (func (export "kernel_run") (local $n i32)
    (loop $next
      (local.set $n (call $read_input (i32.const 0x10) (i32.const 0x1000) (i32.const 4096)))
      (if (i32.gt_s (local.get $n) (i32.const 0)) (then
        (if (i32.eq (i32.load8_u (i32.const 0x1000)) (i32.const 1)) (then
          (i64.store (i32.const 0x100) (call $dispatch (i32.load8_u (i32.const 0x1001))))
          (drop (call $write_output (i32.const 0x100) (i32.const 8)))))
        (br $next))))))
